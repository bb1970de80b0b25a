"""Is everything working? Each status check's OK, warning and failure, at a frozen time and with
the disk and the clock given as parameters; then the admin's page and the command's exit status."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import pytest
from sqlalchemy.orm import Session

from kiosk.extensions import db
from register import settings
from register.backup import LAST_BACKUP
from register.models import AgentHeartbeat, LockCommand
from register.status import GIB, MIB, Check, Level, check, exit_code

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class Disk(NamedTuple):
    total: int
    used: int
    free: int


def plenty(_path: Path) -> Disk:
    return Disk(32 * GIB, 2 * GIB, 30 * GIB)


def run(session: Session, tmp_path: Path, *, free: int = 30 * GIB,
        synchronised: bool | None = True) -> dict[str, Check]:
    checks = check(session, session.get_bind().engine, NOW, tmp_path,
                   disk_usage=lambda _path: Disk(32 * GIB, 32 * GIB - free, free),
                   clock_synchronised=lambda: synchronised, version=lambda: "0.1.0")
    return {c.name: c for c in checks}


def record_backup(session: Session, age: timedelta) -> None:
    settings.put(session, LAST_BACKUP, json.dumps(
        {"at": (NOW - age).isoformat(), "path": "/media/usb/register-1.db.enc",
         "bytes": 3 * MIB}), "test")
    session.commit()


def heartbeat(session: Session, kiosk_id: int, age: timedelta,
              readers: dict[str, bool] | None = None) -> None:
    session.add(AgentHeartbeat(
        kiosk_id=kiosk_id, first_seen_at=NOW - timedelta(days=1), last_seen_at=NOW - age,
        readers={name: {"connected": up, "detail": "", "since": NOW.isoformat()}
                 for name, up in (readers or {}).items()}))
    session.commit()


def postgres(session: Session) -> bool:
    return session.get_bind().engine.dialect.name == "postgresql"


def test_all_well_is_ok_everywhere_and_exits_0(session, school, tmp_path):
    record_backup(session, timedelta(hours=8))
    heartbeat(session, school.staff_kiosk.id, timedelta(seconds=1),
              {"rfid": True, "scanner": True})
    session.add(LockCommand(kiosk_id=school.staff_kiosk.id, locker_number=3, purpose="deposit",
                            created_at=NOW, handed_out_at=NOW, done_at=NOW, ok=True))
    session.commit()
    checks = run(session, tmp_path)
    assert exit_code(list(checks.values())) == 0, [c.line() for c in checks.values()]
    assert checks["Database"].figure.startswith("answering, ")
    assert checks["Disk space"].figure == f"30.0 GiB free of 32.0 GiB at {tmp_path}"
    assert checks["Staff kiosk: agent"].figure == "last heartbeat 1 s ago"
    assert checks["Staff kiosk: readers"].figure == (
        "badge reader connected, label scanner connected")
    assert checks["Staff kiosk: lock board"].figure == "locker 3 opened when last asked"
    assert checks["Clock"].figure == "synchronised (NTP)"
    assert checks["Version"].figure == "0.1.0"
    if postgres(session):
        assert checks["Last backup"].level is Level.UNKNOWN
        assert "pg_dump outside the app" in checks["Last backup"].advice
    else:
        assert checks["Last backup"].figure == (
            "8 h ago, 3.0 MiB, to /media/usb/register-1.db.enc")


def test_a_kiosk_without_an_agent_is_fine_with_a_keyboard_scanner(session, school, tmp_path):
    agent = run(session, tmp_path)["Front kiosk: agent"]
    assert (agent.level, agent.figure) == (Level.OK, "never heard from")
    assert "keyboard-mode (USB HID) scanner" in agent.advice
    assert "Front kiosk: readers" not in run(session, tmp_path)


@pytest.mark.parametrize(("silence", "level", "figure"), [
    (timedelta(minutes=3), Level.WARN, "last heartbeat 3 min ago"),
    (timedelta(minutes=11), Level.FAIL, "last heartbeat 11 min ago"),
    (timedelta(hours=5), Level.FAIL, "last heartbeat 5 h ago"),
])
def test_a_quiet_agent_warns_then_fails(session, school, tmp_path, silence, level, figure):
    heartbeat(session, school.staff_kiosk.id, silence, {"rfid": True})
    checks = run(session, tmp_path)
    agent = checks["Staff kiosk: agent"]
    assert (agent.level, agent.figure) == (level, figure)
    assert "journalctl" in agent.advice
    readers = checks["Staff kiosk: readers"]
    assert readers.level is Level.UNKNOWN, "a silent agent's readers are not known now"
    assert readers.figure == "as last reported: badge reader connected"


def test_a_disconnected_reader_fails_with_what_to_check(session, school, tmp_path):
    heartbeat(session, school.staff_kiosk.id, timedelta(seconds=2),
              {"rfid": False, "scanner": True})
    readers = run(session, tmp_path)["Staff kiosk: readers"]
    assert readers.level is Level.FAIL
    assert readers.figure == "badge reader disconnected, label scanner connected"
    assert "Check the cable" in readers.advice


def test_the_lock_board_is_known_only_by_the_last_open(session, school, tmp_path):
    heartbeat(session, school.staff_kiosk.id, timedelta(seconds=1), {"rfid": True})
    board = run(session, tmp_path)["Staff kiosk: lock board"]
    assert (board.level, board.figure) == (Level.UNKNOWN, "not reported")
    session.add(LockCommand(kiosk_id=school.staff_kiosk.id, locker_number=2, purpose="deposit",
                            created_at=NOW, handed_out_at=NOW, done_at=NOW, ok=False,
                            error="Lock board 0 on /dev/ttyUSB0 did not answer"))
    session.commit()
    board = run(session, tmp_path)["Staff kiosk: lock board"]
    assert board.level is Level.FAIL
    assert board.figure == "locker 2 did not open (Lock board 0 on /dev/ttyUSB0 did not answer)"
    assert "RS-485 wiring" in board.advice


@pytest.mark.parametrize(("age", "level"), [
    (None, Level.FAIL), (timedelta(hours=20), Level.OK), (timedelta(hours=27), Level.WARN),
    (timedelta(days=4), Level.FAIL),
])
def test_the_last_backup_by_its_age(session, school, tmp_path, age, level):
    if postgres(session):
        pytest.skip("the app makes no backups of PostgreSQL: test_all_well says what it shows")
    if age is not None:
        record_backup(session, age)
    backup = run(session, tmp_path)["Last backup"]
    assert backup.level is level
    if age is None:
        assert backup.figure == "never"
        assert "one dead SD card loses the whole register" in backup.advice
    elif level is Level.FAIL:
        assert backup.figure.startswith("4 days ago")
        assert "systemctl list-timers" in backup.advice


@pytest.mark.parametrize(("free", "level"), [
    (2 * GIB, Level.OK), (500 * MIB, Level.WARN), (100 * MIB, Level.FAIL),
])
def test_disk_space(session, school, tmp_path, free, level):
    disk = run(session, tmp_path, free=free)["Disk space"]
    assert disk.level is level
    if level is Level.FAIL:
        assert disk.figure.startswith("100.0 MiB free")
        assert "Almost full" in disk.advice


@pytest.mark.parametrize(("synchronised", "level", "words"), [
    (True, Level.OK, "synchronised (NTP)"), (False, Level.WARN, "set-ntp true"),
    (None, Level.UNKNOWN, "normal in a container"),
])
def test_the_clock(session, school, tmp_path, synchronised, level, words):
    clock = run(session, tmp_path, synchronised=synchronised)["Clock"]
    assert clock.level is level
    assert words in clock.line()


def test_an_unreachable_database_fails_and_the_rest_still_answers(tmp_path):
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'register.sqlite3'}")
    checks = check(None, engine, NOW, tmp_path, disk_usage=plenty,
                   clock_synchronised=lambda: True, version=lambda: "0.1.0")
    assert [(c.name, c.level) for c in checks] == [
        ("Database", Level.FAIL), ("Disk space", Level.OK), ("Last backup", Level.UNKNOWN),
        ("Clock", Level.OK), ("Version", Level.OK)]
    assert "unable to open database file" in checks[0].figure
    assert exit_code(checks) == 1


# --- the page and the command ----------------------------------------------------------------

def test_the_page_is_for_admins_and_shows_marks_with_words(client, auth, web_school):
    auth.login("office")
    assert client.get("/admin/status").status_code == 403
    auth.logout()
    auth.login("admin")
    page = client.get("/admin/status").text
    assert "Staff kiosk: agent" in page and "never heard from" in page
    assert "✓</span>OK" in page
    assert "Version" in page and "/admin/status" in client.get("/admin/kiosks").text


def _store(app, work) -> None:
    with app.app_context(), Session(db.engine) as session:
        work(session)
        session.commit()


def test_the_command_exits_0_2_or_1(app, runner, web_school, monkeypatch):
    # This machine's clock is what it is (unknown in a container): the command is tested here.
    monkeypatch.setattr("register.status.clock_is_synchronised", lambda: True)
    sqlite = not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    now = datetime.now(UTC)
    if sqlite:  # no backup yet: failing
        result = runner.invoke(args=["status"])
        assert result.exit_code == 1, result.output
        assert "✕ Failing   Last backup: never." in result.output
        _store(app, lambda s: settings.put(s, LAST_BACKUP, json.dumps(
            {"at": now.isoformat(), "path": "/media/usb/b.enc", "bytes": 1000}), "test"))
    result = runner.invoke(args=["status"])
    assert result.exit_code == 0, result.output
    assert "✓ OK        Database: answering" in result.output

    _store(app, lambda s: s.add(AgentHeartbeat(
        kiosk_id=web_school.staff_kiosk.id, first_seen_at=now - timedelta(hours=1),
        last_seen_at=now - timedelta(minutes=5), readers={})))
    result = runner.invoke(args=["status"])
    assert result.exit_code == 2, result.output
    assert "! Warning   Staff kiosk: agent: last heartbeat 5 min ago." in result.output
