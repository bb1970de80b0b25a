"""Two kiosks' agents and one server, all on loopback, as a trust runs them (README: Two ways to
run it): scans from both kiosks land once each, at the right bank, though the server is stopped
for a while in the middle and the scans made meanwhile wait in each agent's queue on disk.

Real processes throughout: the web app under gunicorn (tests/servers.py) and two
``flask --app kiosk reader`` agents on simulated scanners, each with its own token and queue.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from hardware.simulated import send, sim_socket_path
from register.models import Deposit, Device, Kiosk, Locker, LockerBank, ScanReceipt
from tests.conftest import build_school, set_rescan_guard
from tests.servers import ROOT, Gunicorn
from tests.test_agent_service import eventually, short_directory


class Agent:
    """``flask --app kiosk reader`` for one kiosk: its scanner is ``sim://NAME``."""

    def __init__(self, name: str, token: str, server: str, env: dict[str, str],
                 folder: Path) -> None:
        token_file = folder / f"{name}.token"
        token_file.write_text(token + "\n")
        self.name, self.log = name, folder / f"{name}-agent.log"
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "kiosk", "reader",
                 "--scanner", f"sim://{name}", "--server", server,
                 "--token-file", str(token_file), "--queue", str(folder / f"{name}-queue.sqlite3"),
                 "--heartbeat", "0.2"],
                cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
        eventually(lambda: sim_socket_path(name).exists() or self.process.poll() is not None,
                   timeout=20, what=f"the {name} agent's scanner")
        assert self.process.poll() is None, self.log.read_text()

    def scan(self, code: str) -> None:
        send(self.name, code.encode() + b"\r")

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=15)
        return self.log.read_text()


@pytest.fixture
def sim_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with short_directory() as path:
        monkeypatch.setenv("KIOSK_SIM_DIR", str(path))
        yield path


def landed(engine: Engine) -> list[tuple[str, str, str]]:
    """(phone model, bank, kiosk) of every deposit, by phone."""
    with Session(engine) as session:
        return sorted(tuple(row) for row in session.execute(
            select(Device.model, LockerBank.name, Kiosk.name)
            .join(Deposit, Deposit.device_id == Device.id)
            .join(Locker, Locker.id == Deposit.locker_id)
            .join(LockerBank, LockerBank.id == Locker.bank_id)
            .join(Kiosk, Kiosk.id == Deposit.deposit_kiosk_id)))


def receipts(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(ScanReceipt)) or 0


def test_two_agents_through_a_server_outage_land_every_scan_once_at_its_own_bank(
        engine, database_url_for_test, sim_dir, tmp_path):
    with Session(engine, expire_on_commit=False) as session:
        school = build_school(session)
        set_rescan_guard(session, 0)  # a scan applied twice would collect the phone again
    env = {**os.environ, "KIOSK_ENV": "demo", "DATABASE_URL": database_url_for_test,
           "KIOSK_SIM_DIR": str(sim_dir), "PYTHONPATH": str(ROOT)}
    server = Gunicorn("kiosk:create_app()", env, tmp_path / "gunicorn.log")
    server.start()
    staff = Agent("staff-scanner", school.staff_kiosk_token, server.url, env, tmp_path)
    front = Agent("front-scanner", school.reception_kiosk_token, server.url, env, tmp_path)
    try:
        staff.scan(school.alice_phone.label_code)
        front.scan(school.bob_phone.label_code)
        eventually(lambda: receipts(engine) == 2, timeout=15, what="both scans answered")

        server.stop()  # the trust's server goes away for a while; the kiosks carry on
        staff.scan(school.carol_phone.label_code)
        front.scan(school.bob_work_phone.label_code)
        for agent in (staff, front):  # each scan is on its agent's disk, waiting
            eventually(lambda agent=agent: "1 scan(s) queued" in agent.log.read_text(),
                       timeout=15, what=f"{agent.name}'s scan waiting in its queue")
        assert receipts(engine) == 2, "nothing reached the database while it was stopped"

        server.start()  # same port, same database
        eventually(lambda: receipts(engine) == 4, timeout=20, what="the queued scans sent")
    finally:
        logs = {agent.name: agent.stop() for agent in (staff, front)}
        if server.process is not None:
            server.stop()

    assert landed(engine) == [
        ("A1", "Staff room", "Staff kiosk"),  # Alice's phone, before the outage
        ("B1", "Reception", "Front kiosk"),  # Bob's, before
        ("B2", "Reception", "Front kiosk"),  # Bob's work phone, queued through it
        ("C1", "Staff room", "Staff kiosk"),  # Carol's, queued through it
    ]
    assert receipts(engine) == 4, "each scan acted once"
    for name, log in logs.items():
        assert "unreachable" in log and "reachable again" in log, log
        assert log.count("→ deposited locker") == 2, log
        assert "kiosk agent stopped" in log, (name, log)
    assert "Traceback" not in server.log.read_text()
