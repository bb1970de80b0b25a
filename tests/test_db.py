"""Connection settings and concurrency on the real database."""

import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from kiosk import create_app
from kiosk.extensions import db
from register import people
from register.db import unit_of_work
from register.models import Person
from tests.conftest import scan_code, set_rescan_guard


def test_every_sqlite_connection_is_durable_and_checked(app_config, tmp_path):
    """The embedded default, whichever database this test run is on."""
    app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/pi.db"})
    with app.app_context():
        connections = [db.engine.connect() for _ in range(2)]
        try:
            for connection in connections:
                pragma = lambda name, c=connection: c.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
                assert pragma("journal_mode") == "wal"
                assert pragma("synchronous") == 2  # FULL
                assert pragma("foreign_keys") == 1
                assert pragma("busy_timeout") >= 5000
        finally:
            for connection in connections:
                connection.close()


def test_foreign_keys_are_enforced(session):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        session.execute(text("INSERT INTO lockers (bank_id, number, out_of_service) "
                             "VALUES (999, 1, false)"))
        session.commit()


def test_many_kiosks_scanning_at_once_never_fail_with_a_locked_database(engine, session):
    """Eight kiosks, forty phones, each scanned in and out: every scan is answered."""
    bank = people.add_bank(session, "Big bank", 40, "test")
    from register.kiosks import create_kiosk
    kiosks = [create_kiosk(session, f"Kiosk {n}", "Big bank")[0] for n in range(8)]
    codes = []
    for n in range(40):
        person = people.add_person(session, people.PersonDetails(f"P {n}", "staff"), "t")
        body = f"00{n:012d}"
        from register.imei import luhn_check_digit
        device = people.register_device(
            session, person, people.DeviceDetails(body + str(luhn_check_digit(body))), "t")
        codes.append(device.label_code)
    session.commit()
    kiosk_ids = [k.id for k in kiosks]
    set_rescan_guard(session, 0)  # each phone's second scan collects at once
    errors: list[BaseException] = []
    outcomes: list[str] = []

    def kiosk_worker(index: int) -> None:
        with Session(engine) as own:
            for code in codes[index::8] * 2:  # deposit, then collect
                try:
                    outcomes.append(scan_code(own, kiosk_ids[index], code).outcome)
                except BaseException as error:  # any failure is the finding
                    errors.append(error)

    threads = [threading.Thread(target=kiosk_worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(outcomes) == ["collected"] * 40 + ["deposited"] * 40
    assert bank.id is not None


def test_a_read_then_write_transaction_waits_instead_of_failing_locked(engine, session, school):
    """A page reads, the agent's heartbeat writes, the page then writes its audit entry in a
    unit of work: in a plain deferred transaction on SQLite (WAL) that last write fails at once
    with "database is locked"."""
    from register import audit
    from register.models import AuditEvent

    assert session.scalars(select(Person)).all()  # this session has read
    with Session(engine) as other, unit_of_work(other):
        other.add(AuditEvent(actor="agent", action="heartbeat"))  # someone else writes
    with unit_of_work(session):  # ends the read, waits for the write lock: no OperationalError
        audit.record(session, "office", "person.view", "person:1")
    assert {e.action for e in session.scalars(select(AuditEvent))} >= {"heartbeat", "person.view"}
