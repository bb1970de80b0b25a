"""Encrypted backups of a SQLite register, and restoring one (``flask --app kiosk backup`` and
``restore``). PostgreSQL is backed up with its own tools (``pg_dump``: the README says how).

A backup is a consistent copy taken while kiosks write: SQLite's online backup API copies the
live database into memory inside one read transaction (in WAL mode writers carry on), the copy
must pass ``PRAGMA integrity_check``, and it is encrypted with Fernet (AES-128-CBC and
HMAC-SHA256) under ``BACKUP_KEY`` before anything reaches the destination. The plaintext
never touches a disk: a USB stick gets lost, and a deleted file on flash can still be read.
The encrypted file is written beside its final name, synced, then renamed, so a file with our
name is always whole. Fernet's token limits the register to what fits in memory three times
over (a school's register is tens of megabytes).

A restore decrypts (any changed or missing byte fails the HMAC), checks that the content is a
healthy database of this product, then writes it into the configured database file with the
same backup API, as one write transaction: every connection still open sees the old register
or the new one, never a mix, and the file's WAL stays its own (renaming a file over a live
database would leave open connections writing to the old one). Stop the web app and the kiosk
agents first all the same: a scan made during the restore would be lost with the old register.

The last backup made is recorded in the settings (``last_backup``) with an audit entry, so
the status page can say how old it is.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from register import audit
from register.errors import RegisterError
from register.models import Setting

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

LAST_BACKUP = "last_backup"  # settings key: JSON {"at": ISO time, "path": ..., "bytes": ...}
KEEP = 14  # backups kept in a destination unless told otherwise: two weeks of nightly ones
BACKUP_NAME = re.compile(r"phone-register-\d{8}-\d{6}\.backup")
# Tables every version of the register has had: a database without them is not ours.
OUR_TABLES = frozenset({"people", "devices", "lockers", "locker_banks", "deposits", "users",
                        "audit_events", "settings"})
BUSY_SECONDS = 15  # as the app's busy_timeout: wait for a writer's turn, not fail at once
MAKE_A_BACKUP_KEY = ('python3 -c "from cryptography.fernet import Fernet; '
                     'print(Fernet.generate_key().decode())"')
ON_POSTGRESQL = ("This register is on PostgreSQL: back it up on the database server with "
                 "pg_dump, and restore it with pg_restore (README: Backups and restore). "
                 "backup and restore copy a SQLite register only.")
NOT_OURS_OR_CHANGED = ("{name} was not made with this BACKUP_KEY, or it was changed or cut "
                       "short since: refusing it, and the database was not touched.")
NOT_A_DATABASE = ("The backup holds no SQLite database: refusing it, and the database was "
                  "not touched.")


class BackupRefused(RegisterError):
    reason = "backup_refused"


@dataclass(frozen=True)
class BackupMade:
    path: Path
    size_bytes: int
    seconds: float


@dataclass(frozen=True)
class Backup:
    """A backup file, decrypted and checked: the database it holds, and when it was made."""

    path: Path
    made_at: datetime
    image: bytes


@dataclass(frozen=True)
class Restored:
    source: Path
    made_at: datetime
    database: Path
    size_bytes: int


@dataclass(frozen=True)
class LastBackup:
    """The last backup this server made: when, where, how big."""

    at: datetime
    path: str
    size_bytes: int

    def age(self, now: datetime) -> timedelta:
        return now - self.at


def last_backup(session: Session) -> LastBackup | None:
    """The last backup recorded, or None if none was ever made (or the record is unreadable)."""
    setting = session.get(Setting, LAST_BACKUP)
    if setting is None or not setting.value:
        return None
    try:
        record = json.loads(setting.value)
        return LastBackup(datetime.fromisoformat(record["at"]), str(record["path"]),
                          int(record["bytes"]))
    except (ValueError, KeyError, TypeError):
        return None


def record_backup(session: Session, made: BackupMade, now: datetime, actor: str) -> None:
    """Remember the backup for the status page, with an audit entry (no personal data in it)."""
    _remember(session, LastBackup(now, str(made.path), made.size_bytes))
    audit.record(session, actor, "backup.made", f"backup:{made.path.name}",
                 f"{made.size_bytes} bytes in {made.path.parent}")


def record_restored(session: Session, restored: Restored) -> None:
    """After a restore, the backup it came from is the last one there is (the restored
    register's own record predates it): the status page counts its age from then."""
    _remember(session, LastBackup(restored.made_at, str(restored.source),
                                  restored.source.stat().st_size))


def _remember(session: Session, last: LastBackup) -> None:
    setting = session.get(Setting, LAST_BACKUP) or Setting(key=LAST_BACKUP)
    setting.value = json.dumps({"at": last.at.astimezone(UTC).isoformat(), "path": last.path,
                                "bytes": last.size_bytes})
    session.add(setting)


# --- making a backup -------------------------------------------------------------------------

def make_backup(engine: Engine, dest_dir: Path | str, key: str, keep: int = KEEP,
                now: datetime | None = None) -> BackupMade:
    """Copy, check and encrypt the register into ``dest_dir``, then keep the newest ``keep``
    of our backups there (nothing else in it is touched). Raises BackupRefused, saying why."""
    started = time.monotonic()
    now = now or datetime.now(UTC)
    if keep < 1:
        raise BackupRefused(f"--keep {keep}: keep at least 1 backup (the one just made).")
    ciphers = _ciphers(key)
    dest = _writable_folder(Path(dest_dir))
    image = _snapshot(sqlite_file(engine), engine)
    token = ciphers.encrypt_at_time(image, int(now.timestamp()))
    path = dest / f"phone-register-{now.astimezone(UTC):%Y%m%d-%H%M%S}.backup"
    _write_whole(path, token)
    _keep_newest(dest, keep)
    return BackupMade(path, len(token), time.monotonic() - started)


def _ciphers(key: str) -> MultiFernet:
    """BACKUP_KEY: one Fernet key, or several comma-separated while changing keys (the first
    encrypts; any of them decrypts). Imported here, not with the module: kiosk.config reads
    this module at start-up, and every web worker would carry the library for nothing."""
    from cryptography.fernet import Fernet, MultiFernet

    try:
        return MultiFernet([Fernet(part.strip()) for part in key.split(",") if part.strip()])
    except (ValueError, TypeError):
        raise BackupRefused("BACKUP_KEY is not a backup key (44 characters, as made by: "
                            f"{MAKE_A_BACKUP_KEY}).") from None


def _writable_folder(dest: Path) -> Path:
    if not dest.is_dir():
        raise BackupRefused(f"{dest} is not a folder that exists: if it is on a USB stick or "
                            "a network share, is it plugged in and mounted? Nothing was "
                            "written.")
    if not os.access(dest, os.W_OK | os.X_OK):
        raise BackupRefused(f"Cannot write to {dest}: give the user running the backup "
                            "permission to write there. Nothing was written.")
    return dest


def sqlite_file(engine: Engine) -> Path:
    """The SQLite file the engine writes to; refuses PostgreSQL with the README's way."""
    url = engine.url
    if url.get_backend_name() != "sqlite":
        raise BackupRefused(ON_POSTGRESQL)
    if url.database in (None, "", ":memory:"):
        raise BackupRefused("The database is in memory only: there is no file to back up.")
    return Path(url.database)


def _snapshot(path: Path, engine: Engine) -> bytes:
    """The whole database as one consistent image, checked, in memory only."""
    if not path.exists():
        raise BackupRefused(f"There is no database at {path}: nothing to back up.")
    raw = engine.raw_connection()
    try:
        with closing(sqlite3.connect(":memory:")) as memory:
            raw.driver_connection.backup(memory)  # type: ignore[union-attr]
            _check_integrity(memory, "The copy of the register")
            image = bytearray(memory.serialize())
    finally:
        raw.close()
    # Bytes 18-19 say "WAL" (2) as in the live file: a plain database image (1) opens anywhere
    # without a -wal file beside it, in memory included.
    image[18:20] = b"\x01\x01"
    return bytes(image)


def _check_integrity(connection: sqlite3.Connection, what: str) -> None:
    problems = [row[0] for row in connection.execute("PRAGMA integrity_check(5)")]
    if problems != ["ok"]:
        raise BackupRefused(f"{what} failed SQLite's integrity check ({'; '.join(problems)}): "
                            "nothing was written or replaced.")


def _write_whole(path: Path, data: bytes) -> None:
    """Write under a temporary name, sync, then rename: the final name always holds a whole
    file, even after a power cut or a stick pulled out mid-write. Readable by its owner only."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.unlink(missing_ok=True)
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
        _sync_folder(path.parent)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise BackupRefused(f"Could not write {path}: {error.strerror or error}. "
                            "No backup was made.") from error


def _sync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:  # some filesystems (a network share) cannot sync a folder: the file is
        pass
    finally:
        os.close(descriptor)


def _keep_newest(dest: Path, keep: int) -> None:
    ours = sorted(entry.name for entry in dest.iterdir()
                  if BACKUP_NAME.fullmatch(entry.name) and entry.is_file())
    for name in ours[:-keep]:
        (dest / name).unlink(missing_ok=True)


# --- restoring one -----------------------------------------------------------------------------

def read_backup(src: Path | str, key: str) -> Backup:
    """Decrypt and check a backup file without touching any database."""
    path = Path(src)
    try:
        token = path.read_bytes()
    except OSError as error:
        raise BackupRefused(f"Cannot read {path}: {error.strerror or error}.") from error
    from cryptography.fernet import InvalidToken  # as in _ciphers: not at start-up

    ciphers = _ciphers(key)
    try:
        image = ciphers.decrypt(token)
        made_at = datetime.fromtimestamp(ciphers.extract_timestamp(token), UTC)
    except InvalidToken:
        raise BackupRefused(NOT_OURS_OR_CHANGED.format(name=path.name)) from None
    with _opened(image) as memory:
        try:
            _check_integrity(memory, path.name)
            tables = {row[0] for row in memory.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError:
            raise BackupRefused(NOT_A_DATABASE) from None
    if not OUR_TABLES.issubset(tables):
        raise BackupRefused(f"{path.name} is not a backup of the phone register: refusing it, "
                            "and the database was not touched.")
    return Backup(path, made_at, image)


def restore_backup(engine_or_url: Engine | str, src: Path | str, key: str) -> Restored:
    """Replace the configured SQLite database with a backup's content, after checking it."""
    engine = (create_engine(engine_or_url) if isinstance(engine_or_url, str)
              else engine_or_url)
    try:
        target = sqlite_file(engine)
    finally:
        if isinstance(engine_or_url, str):
            engine.dispose()
    backup = read_backup(src, key)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _opened(backup.image) as memory, \
            closing(sqlite3.connect(target, timeout=BUSY_SECONDS)) as live:
        # One write transaction on the live file: open connections see the old or the new.
        memory.backup(live)
        live.execute("PRAGMA journal_mode=WAL")
    return Restored(backup.path, backup.made_at, target, len(backup.image))


@contextmanager
def _opened(image: bytes) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(":memory:")) as memory:
        try:
            memory.deserialize(image)
        except sqlite3.DatabaseError:
            raise BackupRefused(NOT_A_DATABASE) from None
        yield memory

