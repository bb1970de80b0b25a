"""A power cut mid-write: the process dies between two scans, the second half-done."""

import os
import signal
import subprocess
import sys
import textwrap

from sqlalchemy import func, select, text

from register.models import Deposit
from tests.conftest import scan_code

CHILD = textwrap.dedent("""
    import sys, time
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session
    from register.db import configure_engine, unit_of_work
    from tests.conftest import scan_code
    from register.models import Deposit

    url, kiosk_id, first_code, device_id, locker_id = sys.argv[1:]
    engine = create_engine(url)
    configure_engine(engine)
    with Session(engine) as session:
        scan_code(session, int(kiosk_id), first_code)  # acknowledged to the kiosk
        print("acknowledged", flush=True)
        with unit_of_work(session):
            session.add(Deposit(device_id=int(device_id), locker_id=int(locker_id)))
            session.flush()  # written to the journal, not committed
            print("mid-write", flush=True)
            time.sleep(60)
""")


def test_power_cut_mid_write_keeps_the_acknowledged_scan_and_loses_the_half_written_one(
    engine, session, school
):
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, engine.url.render_as_string(hide_password=False),
         str(school.staff_kiosk.id), school.alice_phone.label_code,
         str(school.bob_phone.id), str(school.staff_room.lockers[1].id)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        assert child.stdout.readline().strip() == "acknowledged"
        assert child.stdout.readline().strip() == "mid-write"
    finally:
        child.send_signal(signal.SIGKILL)  # no chance to roll back or close anything
        child.wait(10)

    engine.dispose()
    session.rollback()
    if engine.dialect.name == "sqlite":
        assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    deposits = session.scalars(select(Deposit)).all()
    assert [(d.device_id, d.locker.number) for d in deposits] == [(school.alice_phone.id, 1)]
    # The product carries on: the half-written locker is free for the next scan.
    result = scan_code(session, school.staff_kiosk.id, school.bob_phone.label_code)
    assert (result.outcome, result.locker) == ("deposited", 2)
    assert session.scalar(select(func.count()).select_from(Deposit)) == 2
