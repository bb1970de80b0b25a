"""Encrypted backups and restores (register/backup.py, flask --app kiosk backup / restore):
consistent under concurrent scans, refused when changed, cut short or under another key.
SQLite only: on PostgreSQL both refuse, pointing to pg_dump."""

from __future__ import annotations

import os
import secrets
import stat
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from kiosk import config, create_app
from register import backup as backups
from register.backup import BackupRefused
from register.db import configure_engine
from register.models import AuditEvent, Deposit, Person, ScanReceipt
from tests.conftest import scan_code, set_rescan_guard

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
ON_POSTGRES = bool(os.environ.get("TEST_DATABASE_URL"))
sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="backup and restore copy SQLite only")


@pytest.fixture
def key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    folder = tmp_path / "usb-stick"
    folder.mkdir()
    return folder


def open_deposits(engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(Deposit)
                              .where(Deposit.collected_at.is_(None)))


def deposit_after_backup(session, school) -> None:
    """Something recorded after the backup: a restore takes it away, a refusal keeps it."""
    assert scan_code(session, school.staff_kiosk.id, school.alice_phone.label_code,
                     T0 + timedelta(hours=1)).outcome == "deposited"


# --- round trip ------------------------------------------------------------------------------

@sqlite_only
def test_a_backup_restores_the_register_as_it_was(engine, session, school, dest, key):
    made = backups.make_backup(engine, dest, key, now=T0)
    assert made.path == dest / "phone-register-20261125-080000.backup"
    assert made.size_bytes == made.path.stat().st_size
    deposit_after_backup(session, school)
    session.close()

    restored = backups.restore_backup(engine, made.path, key)

    assert restored.made_at == T0
    assert open_deposits(engine) == 0  # the register as it was at the backup
    with Session(engine) as fresh:
        assert len(fresh.scalars(select(Person)).all()) == 3


@sqlite_only
def test_the_file_is_encrypted_owner_only_and_no_plaintext_is_left(engine, school, dest, key):
    made = backups.make_backup(engine, dest, key, now=T0)
    assert os.listdir(dest) == [made.path.name]  # no temporary or plaintext copy beside it
    assert stat.S_IMODE(made.path.stat().st_mode) == 0o600
    content = made.path.read_bytes()
    assert b"SQLite format 3" not in content and b"Alice Adams" not in content


# --- under load ----------------------------------------------------------------------------------

@sqlite_only
def test_a_backup_under_concurrent_scans_restores_to_a_working_product(
        engine, session, school, dest, key, tmp_path, app_config):
    """Scans keep landing from three threads while the backup is taken; every scan answered
    before it began is in the restored register, which then serves the kiosk's next scan."""
    set_rescan_guard(session, 0)
    phones = [school.alice_phone.label_code, school.bob_phone.label_code,
              school.carol_phone.label_code]
    acknowledged: list[str] = []
    failures: list[object] = []
    stop = threading.Event()

    def scanner(index: int, code: str) -> None:
        with Session(engine) as own:
            for turn in range(600):  # 2 minutes apart: within a day, past the guard
                if stop.is_set():
                    return
                key_ = f"t{index}-{turn}"
                shown = scan_code(own, school.staff_kiosk.id, code,
                                  T0 + timedelta(minutes=2 * turn, seconds=index), key=key_)
                if shown.outcome not in ("deposited", "collected"):
                    failures.append(shown)
                acknowledged.append(key_)  # the kiosk has its answer: it must survive

    def until(count: int) -> None:
        while len(acknowledged) < count and not failures:
            time.sleep(0.002)

    threads = [threading.Thread(target=scanner, args=(i, code)) for i, code in enumerate(phones)]
    for thread in threads:
        thread.start()
    try:
        until(30)
        answered_before = list(acknowledged)
        made = backups.make_backup(engine, dest, key, now=T0)
        until(len(acknowledged) + 15)  # scans carried on after it too
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert not failures

    new_card = tmp_path / "new-sd-card" / "kiosk.sqlite3"
    backups.restore_backup(f"sqlite:///{new_card}", made.path, key)

    restored = create_engine(f"sqlite:///{new_card}")
    configure_engine(restored)
    with Session(restored) as check:
        kept = set(check.scalars(select(ScanReceipt.key)))
    restored.dispose()
    assert set(answered_before) <= kept
    app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{new_card}"})
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    answer = client.post("/api/v1/scan", json={"code": school.bob_work_phone.label_code},
                         headers={"Authorization": f"Bearer {school.staff_kiosk_token}"})
    assert answer.status_code == 200 and answer.json["outcome"] == "deposited", answer.json


# --- refusals ----------------------------------------------------------------------------------

def flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def cut_short(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-100])


@sqlite_only
@pytest.mark.parametrize("damage", [flip_one_byte, cut_short])
def test_a_changed_or_cut_short_backup_is_refused_and_the_database_untouched(
        engine, session, school, dest, key, damage):
    made = backups.make_backup(engine, dest, key, now=T0)
    deposit_after_backup(session, school)
    session.close()
    damage(made.path)

    with pytest.raises(BackupRefused) as refused:
        backups.restore_backup(engine, made.path, key)

    assert str(refused.value) == (f"{made.path.name} was not made with this BACKUP_KEY, or it was "
                                  "changed or cut short since: refusing it, and the database was "
                                  "not touched.")
    assert open_deposits(engine) == 1


@sqlite_only
def test_a_backup_made_with_another_key_is_refused(engine, session, school, dest, key):
    made = backups.make_backup(engine, dest, key, now=T0)
    deposit_after_backup(session, school)
    session.close()
    with pytest.raises(BackupRefused, match="not made with this BACKUP_KEY"):
        backups.restore_backup(engine, made.path, Fernet.generate_key().decode())
    assert open_deposits(engine) == 1


@sqlite_only
def test_an_encrypted_file_that_is_not_the_register_is_refused(engine, school, dest, key):
    other = dest / "phone-register-20261125-080000.backup"
    other.write_bytes(Fernet(key).encrypt(b"SQLite format 3\x00" + secrets.token_bytes(4000)))
    with pytest.raises(BackupRefused) as refused:
        backups.restore_backup(engine, other, key)
    assert str(refused.value) == backups.NOT_A_DATABASE


@sqlite_only
def test_a_missing_destination_is_refused_with_a_sentence(engine, school, tmp_path, key):
    with pytest.raises(BackupRefused) as refused:
        backups.make_backup(engine, tmp_path / "not-mounted", key, now=T0)
    assert "is it plugged in and mounted? Nothing was written." in str(refused.value)


# --- keeping the newest N ----------------------------------------------------------------------

@sqlite_only
def test_keep_removes_only_our_oldest_backups(engine, school, dest, key):
    others = ["notes.txt", "phone-register-old.backup", "phone-register-20200101-000000.bak"]
    for name in others:
        (dest / name).write_text("not ours")
    made = [backups.make_backup(engine, dest, key, keep=2, now=T0 + timedelta(days=day)).path
            for day in range(4)]
    assert sorted(os.listdir(dest)) == sorted([*others, made[2].name, made[3].name])


# --- PostgreSQL --------------------------------------------------------------------------------

@pytest.mark.skipif(not ON_POSTGRES, reason="needs TEST_DATABASE_URL (PostgreSQL)")
def test_postgresql_is_refused_pointing_to_pg_dump(engine, dest, key, runner):
    with pytest.raises(BackupRefused) as refused:
        backups.make_backup(engine, dest, key, now=T0)
    assert str(refused.value) == backups.ON_POSTGRESQL
    assert "pg_dump" in backups.ON_POSTGRESQL
    with pytest.raises(BackupRefused, match="pg_dump"):
        backups.restore_backup(engine, dest / "any.backup", key)
    result = runner.invoke(args=["backup", str(dest)])
    assert result.exit_code == 1 and "back it up on the database server with pg_dump" in (
        result.output)
    assert os.listdir(dest) == []


# --- the commands ------------------------------------------------------------------------------

@sqlite_only
def test_the_commands_back_up_record_it_and_restore_only_when_confirmed(
        runner, app, web_school, dest):
    made = runner.invoke(args=["backup", str(dest), "--keep", "3"])
    assert made.exit_code == 0, made.output
    assert made.output.startswith(f"Backup written: {dest}/phone-register-")
    (path,) = dest.iterdir()
    with app.app_context(), Session(create_engine(app.config["SQLALCHEMY_DATABASE_URI"])) as s:
        last = backups.last_backup(s)
        assert last is not None and last.path == str(path)
        assert last.size_bytes == path.stat().st_size
        assert s.scalar(select(AuditEvent.detail).where(AuditEvent.action == "backup.made")
                        ) == f"{last.size_bytes} bytes in {dest}"
        s.add(Person(name="Added Later", category="staff"))
        s.commit()

    declined = runner.invoke(args=["restore", str(path)], input="n\n")
    assert declined.exit_code == 1
    assert "is a backup made" in declined.output and "replaces everything in" in declined.output
    assert declined.output.rstrip().endswith("Nothing was restored.")
    assert people_named(app, "Added Later") == 1

    restored = runner.invoke(args=["restore", str(path), "--yes"])
    assert restored.exit_code == 0, restored.output
    assert "Restored " in restored.output
    assert people_named(app, "Added Later") == 0
    with app.app_context(), Session(create_engine(app.config["SQLALCHEMY_DATABASE_URI"])) as s:
        after = backups.last_backup(s)  # the status page's "last backup": the file restored
        assert after is not None and after.path == str(path)


def people_named(app, name: str) -> int:
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with Session(engine) as session:
        found = session.scalar(select(func.count()).select_from(Person).where(Person.name == name))
    engine.dispose()
    return int(found or 0)


@sqlite_only
def test_backup_to_a_stick_that_is_not_mounted_fails_with_a_sentence(runner, app, tmp_path):
    result = runner.invoke(args=["backup", str(tmp_path / "media" / "usb")])
    assert result.exit_code == 1
    assert "is not a folder that exists: if it is on a USB stick" in result.output


# --- the key -------------------------------------------------------------------------------------

PRODUCTION = {"KIOSK_ENV": "production", "SECRET_KEY": secrets.token_hex(32),
              "PUBLIC_URL": "https://phones.school.example"}


def test_production_needs_a_backup_key_of_its_own_but_starts_without_one(tmp_path, monkeypatch):
    monkeypatch.delenv("BACKUP_KEY", raising=False)
    settings = config.load(str(tmp_path), PRODUCTION)  # starts: only backups need the key
    with pytest.raises(config.ConfigError, match=r"BACKUP_KEY is not set.*Fernet\.generate_key"):
        config.backup_key(settings)
    demo_key = config.load(str(tmp_path), {**PRODUCTION, "BACKUP_KEY": config.DEMO_BACKUP_KEY})
    with pytest.raises(config.ConfigError, match="published demo key"):
        config.backup_key(demo_key)
    own = Fernet.generate_key().decode()
    assert config.backup_key(config.load(str(tmp_path), {**PRODUCTION, "BACKUP_KEY": own})) == own
    assert config.backup_key(config.load(str(tmp_path), {"KIOSK_ENV": "demo"})) == (
        config.DEMO_BACKUP_KEY)


@sqlite_only
def test_a_key_that_is_not_a_backup_key_is_refused(engine, school, dest):
    with pytest.raises(BackupRefused, match="BACKUP_KEY is not a backup key"):
        backups.make_backup(engine, dest, "my-password", now=T0)
    assert os.listdir(dest) == []


@sqlite_only
def test_an_old_key_still_restores_while_keys_are_changed(engine, school, dest, key):
    made = backups.make_backup(engine, dest, key, now=T0)
    new = Fernet.generate_key().decode()
    assert backups.read_backup(made.path, f"{new},{key}").made_at == T0
