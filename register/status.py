"""Is everything working? The checks behind the admin's status page and ``flask --app kiosk
status``: the database, the disk, the last backup, each kiosk's agent, readers and lock board,
the clock and the version. Each says what it found and, in a sentence, what to do.

Plain Python: it only reads. The probes that look outside the database (disk, clock, version)
are parameters, so a test can give a full disk or an unsynchronised clock.
"""

from __future__ import annotations

import enum
import importlib.metadata
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from register.backup import last_backup
from register.kiosk_link import READER_LABELS
from register.models import AgentHeartbeat, Kiosk, LockCommand

ROOT = Path(__file__).resolve().parent.parent
DISTRIBUTION = "phone-locker-kiosk"
GIB, MIB = 1024**3, 1024**2
DISK_WARN, DISK_FAIL = 1 * GIB, 200 * MIB
BACKUP_WARN, BACKUP_FAIL = timedelta(hours=26), timedelta(days=3)
HEARTBEAT_WARN, HEARTBEAT_FAIL = timedelta(minutes=2), timedelta(minutes=10)
PROBE_TIMEOUT = 3  # seconds: a status check must answer even when a command hangs


class Level(enum.Enum):
    """How a check came out; each has a mark and a word, so colour is never the only sign."""

    OK = ("✓", "OK")
    UNKNOWN = ("?", "Not known")
    WARN = ("!", "Warning")
    FAIL = ("✕", "Failing")

    @property
    def mark(self) -> str:
        return self.value[0]

    @property
    def word(self) -> str:
        return self.value[1]


@dataclass(frozen=True)
class Check:
    """One line of the status: ``figure`` is what was found, ``advice`` what to do about it."""

    name: str
    level: Level
    figure: str
    advice: str

    def line(self) -> str:
        said = f"{self.level.mark} {self.level.word:9} {self.name}: {self.figure}."
        return f"{said} {self.advice}" if self.advice else said


class DiskUsage(Protocol):
    """What ``shutil.disk_usage`` answers (a test gives its own)."""

    @property
    def total(self) -> int: ...

    @property
    def free(self) -> int: ...


def exit_code(checks: list[Check]) -> int:
    """0 when nothing is wrong, 1 when something fails, 2 when there are only warnings."""
    levels = {check.level for check in checks}
    return 1 if Level.FAIL in levels else 2 if Level.WARN in levels else 0


def check(session: Session | None, engine: Engine, now: datetime, data_dir: Path, *,
          disk_usage: Callable[[Path], DiskUsage] = shutil.disk_usage,
          clock_synchronised: Callable[[], bool | None] | None = None,
          version: Callable[[], str] | None = None) -> list[Check]:
    """Every check, in the order a technician reads them. ``session`` is None when the caller
    could not open one (the database did not answer): the checks that need it say so."""
    checks = [_database(session, engine)]
    checks.append(_disk(data_dir, disk_usage))
    if session is None or checks[0].level is Level.FAIL:
        checks.append(Check("Last backup", Level.UNKNOWN, "not known",
                            "The database did not answer, so its records cannot be read."))
    else:
        checks.append(_backup(session, engine, now))
        checks += _kiosks(session, now)
    checks.append(_clock((clock_synchronised or clock_is_synchronised)()))
    checks.append(Check("Version", Level.OK, (version or installed_version)(), ""))
    return checks


# --- the database and the disk ---------------------------------------------------------------

def _database(session: Session | None, engine: Engine) -> Check:
    try:
        if session is None:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        else:
            session.execute(text("SELECT 1"))
            size = _database_size(session, engine)
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0][:200]
        return Check("Database", Level.FAIL, f"not answering ({reason})",
                     _unreachable_advice(engine))
    if session is None:  # answered just now, though the caller's session could not be opened
        return Check("Database", Level.WARN, "answering again", "Reload to see the rest.")
    return Check("Database", Level.OK, f"answering, {_size(size)} ({engine.dialect.name})", "")


def _database_size(session: Session, engine: Engine) -> int:
    if engine.dialect.name == "postgresql":
        return int(session.scalar(text("SELECT pg_database_size(current_database())")) or 0)
    path = engine.url.database
    if not path or path == ":memory:":
        return 0
    return sum(Path(name).stat().st_size for name in (path, f"{path}-wal")
               if Path(name).exists())


def _unreachable_advice(engine: Engine) -> str:
    if engine.dialect.name == "postgresql":
        return ("Check that the PostgreSQL server is running and reachable from here, and that "
                "DATABASE_URL in the configuration is right.")
    return ("Check that the database file exists and the service's user may read and write it "
            "and its folder (DATABASE_URL in the configuration says where it is).")


def _disk(data_dir: Path, disk_usage: Callable[[Path], DiskUsage]) -> Check:
    try:
        usage = disk_usage(data_dir)
    except OSError as error:
        return Check("Disk space", Level.UNKNOWN, f"cannot read {data_dir} ({error.strerror})",
                     "Check that the data folder exists.")
    figure = f"{_size(usage.free)} free of {_size(usage.total)} at {data_dir}"
    if usage.free < DISK_FAIL:
        return Check("Disk space", Level.FAIL, figure,
                     "Almost full: scans will soon fail. Free space now (old backups on this "
                     "disk, logs: journalctl --vacuum-size=100M) or move to a larger card.")
    if usage.free < DISK_WARN:
        return Check("Disk space", Level.WARN, figure,
                     "Less than 1 GiB left: free some space (old backups, logs) before it runs "
                     "out.")
    return Check("Disk space", Level.OK, figure, "")


def _size(count: int) -> str:
    for unit, scale in (("GiB", GIB), ("MiB", MIB), ("KiB", 1024)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


# --- backups ---------------------------------------------------------------------------------

def _backup(session: Session, engine: Engine, now: datetime) -> Check:
    if engine.dialect.name != "sqlite":
        return Check("Last backup", Level.UNKNOWN, "PostgreSQL",
                     "Backed up with pg_dump outside the app: check your server's backups.")
    backup = last_backup(session)
    if backup is None:
        return Check("Last backup", Level.FAIL, "never",
                     "No backup has been made: one dead SD card loses the whole register. "
                     "Set up the nightly backup (README: Backups and restore).")
    figure = f"{_ago(backup.age(now))} ago, {_size(backup.size_bytes)}, to {backup.path}"
    if backup.age(now) > BACKUP_FAIL:
        return Check("Last backup", Level.FAIL, figure,
                     "No backup for over three days: check the backup timer "
                     "(systemctl list-timers) and that the USB stick or share is there.")
    if backup.age(now) > BACKUP_WARN:
        return Check("Last backup", Level.WARN, figure,
                     "Last night's backup did not happen: check the backup timer's log "
                     "(journalctl -u phone-locker-backup) and the USB stick or share.")
    return Check("Last backup", Level.OK, figure, "")


# --- kiosks: the agent, its readers, its lock board --------------------------------------------

def _kiosks(session: Session, now: datetime) -> list[Check]:
    rows = session.execute(
        select(Kiosk, AgentHeartbeat)
        .outerjoin(AgentHeartbeat, AgentHeartbeat.kiosk_id == Kiosk.id)
        .where(Kiosk.revoked_at.is_(None)).order_by(Kiosk.name)).all()
    if not rows:
        return [Check("Kiosks", Level.WARN, "none",
                      "Add a kiosk (Admin > Kiosks, or flask --app kiosk create-kiosk).")]
    checks = []
    for kiosk, agent in rows:
        checks.append(_heartbeat(kiosk, agent, now))
        if agent is not None:
            checks.append(_readers(kiosk, agent, now))
            checks.append(_lock_board(session, kiosk))
    return checks


def _heartbeat(kiosk: Kiosk, agent: AgentHeartbeat | None, now: datetime) -> Check:
    name = f"{kiosk.name}: agent"
    if agent is None:
        return Check(name, Level.OK, "never heard from",
                     "Fine if this kiosk has only a keyboard-mode (USB HID) scanner, which needs "
                     "no agent; if it has a badge reader, serial scanner or locks, start its "
                     "agent with this kiosk's token.")
    silence = max(now - agent.last_seen_at, timedelta(0))
    figure = f"last heartbeat {_ago(silence)} ago"
    if silence > HEARTBEAT_FAIL:
        return Check(name, Level.FAIL, figure,
                     "The agent has stopped or cannot reach this server: on the kiosk's Pi, "
                     "systemctl status phone-locker-agent and its log (journalctl -u "
                     "phone-locker-agent). Scans wait in its queue meanwhile.")
    if silence > HEARTBEAT_WARN:
        return Check(name, Level.WARN, figure,
                     "The agent has gone quiet: check the kiosk's network and its log "
                     "(journalctl -u phone-locker-agent).")
    return Check(name, Level.OK, figure, "")


def _readers(kiosk: Kiosk, agent: AgentHeartbeat, now: datetime) -> Check:
    name = f"{kiosk.name}: readers"
    reported = agent.readers or {}
    if not reported:
        return Check(name, Level.OK, "none given to the agent",
                     "Fine with a keyboard-mode scanner; otherwise give the agent --scanner or "
                     "--rfid.")
    labels = {READER_LABELS.get(n, n): bool(r.get("connected")) for n, r in reported.items()}
    figure = ", ".join(f"{label} {'connected' if up else 'disconnected'}"
                       for label, up in sorted(labels.items()))
    if now - agent.last_seen_at > HEARTBEAT_WARN:
        return Check(name, Level.UNKNOWN, f"as last reported: {figure}",
                     "Not known now: the agent is not sending heartbeats.")
    if not all(labels.values()):
        return Check(name, Level.FAIL, figure,
                     "Check the cable and the device path in the agent's log (README: Is each "
                     "device seen?); a reader is picked up again when it returns.")
    return Check(name, Level.OK, figure, "")


def _lock_board(session: Session, kiosk: Kiosk) -> Check:
    """The heartbeat carries door states, not the board's own health: the last open it was
    asked for is the one thing known about whether it answers."""
    name = f"{kiosk.name}: lock board"
    last = session.scalar(
        select(LockCommand).where(LockCommand.kiosk_id == kiosk.id,
                                  LockCommand.done_at.is_not(None))
        .order_by(LockCommand.done_at.desc(), LockCommand.id.desc()).limit(1))
    if last is None:
        return Check(name, Level.UNKNOWN, "not reported",
                     "The agent does not report the board itself, and no locker has been opened "
                     "through it yet (none is needed for keyed lockers).")
    if not last.ok:
        return Check(name, Level.FAIL,
                     f"locker {last.locker_number} did not open ({last.error or 'no answer'})",
                     "Check the board's power, the RS-485 wiring (A/B swapped?) and its address "
                     "switches; the agent's log shows each attempt.")
    return Check(name, Level.OK, f"locker {last.locker_number} opened when last asked", "")


# --- the clock and the version -----------------------------------------------------------------

def _clock(synchronised: bool | None) -> Check:
    if synchronised is None:
        return Check("Clock", Level.UNKNOWN, "cannot tell whether it is synchronised",
                     "Neither timedatectl nor systemd-timesyncd answered (normal in a "
                     "container); on a Pi, run timedatectl.")
    if not synchronised:
        return Check("Clock", Level.WARN, "not synchronised",
                     "Scans carry this machine's time and a Pi has no battery clock: turn time "
                     "synchronisation on (sudo timedatectl set-ntp true) and check the network "
                     "reaches an NTP server.")
    return Check("Clock", Level.OK, "synchronised (NTP)", "")


def clock_is_synchronised() -> bool | None:
    """What systemd says: True, False, or None when it cannot tell (no systemd)."""
    try:
        answer = subprocess.run(
            ["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=False)
        if answer.returncode == 0 and answer.stdout.strip() in ("yes", "no"):
            return answer.stdout.strip() == "yes"
    except (OSError, subprocess.TimeoutExpired):
        pass
    if os.path.exists("/run/systemd/timesync/synchronized"):
        return True
    return None


def installed_version() -> str:
    """The package's version, and ``git describe`` when running from a checkout."""
    try:
        version = importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        version = "not installed as a package"
    if (ROOT / ".git").exists():
        try:
            described = subprocess.run(
                ["git", "-C", str(ROOT), "describe", "--always", "--dirty", "--tags"],
                capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=False)
            if described.returncode == 0 and described.stdout.strip():
                version += f" (git {described.stdout.strip()})"
        except (OSError, subprocess.TimeoutExpired):
            pass
    return version


def _ago(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
