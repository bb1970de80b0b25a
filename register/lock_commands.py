"""Lock commands: "open locker N", queued here and handed to the kiosk's agent on its heartbeat.

A command is handed out at most once, and only while it is younger than ``COMMAND_LIFETIME``:
an agent that was off, or a heartbeat that comes late, never opens a locker after the person
has gone. (Handing it out again after a lost reply could re-open a door someone had just
closed on their phone; a locker that did not open is the safer failure, and the person is
told to see the office.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session

from register import audit, kiosk_events
from register.db import execute
from register.errors import NotFound, ValidationError, refusal
from register.models import Kiosk, LockCommand, LockerBank, utc_now

COMMAND_LIFETIME = timedelta(seconds=10)
KEEP_COMMANDS_FOR = timedelta(days=1)
OPEN = "open"
DEPOSIT, COLLECT, EMERGENCY = "deposit", "collect", "emergency"
LOCK_FAILED = "lock_failed"
MIN_REASON_LENGTH = 5


@dataclass(frozen=True)
class Order:
    """A command as the agent receives it."""

    id: int
    action: str
    locker: int

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "action": self.action, "locker": self.locker}


@dataclass(frozen=True)
class EmergencyOpening:
    bank: str
    lockers: int
    kiosks: int  # kiosks at the bank whose agents were asked to open them


def queue_open(session: Session, kiosk_id: int, locker: int, purpose: str,
               at: datetime) -> None:
    """Add "open ``locker``" to the caller's transaction. ``at`` is when the person asked:
    a scan replayed from the agent's queue is already too old to open anything."""
    _forget_old(session, at)
    _add(session, kiosk_id, locker, purpose, at)


_ADD = insert(LockCommand).values(kiosk_id=bindparam("kiosk"), action=OPEN,
                                  locker_number=bindparam("locker"), purpose=bindparam("reason"),
                                  created_at=bindparam("at"))
_FORGET = delete(LockCommand).where(LockCommand.created_at < bindparam("before"))


def _add(session: Session, kiosk_id: int, locker: int, purpose: str, at: datetime) -> None:
    execute(session, _ADD, {"kiosk": kiosk_id, "locker": locker, "reason": purpose, "at": at})


def _forget_old(session: Session, now: datetime) -> None:
    execute(session, _FORGET, {"before": now - KEEP_COMMANDS_FOR})


def hand_out(session: Session, kiosk_id: int, now: datetime) -> list[Order]:
    """The kiosk's commands not yet handed out and not expired, marked as handed out.

    Call inside a write transaction that has locked the kiosk (see kiosk_events.lock_kiosk),
    so two heartbeats from one agent cannot both take the same command.
    """
    commands = session.scalars(
        select(LockCommand)
        .where(LockCommand.kiosk_id == kiosk_id, LockCommand.handed_out_at.is_(None),
               LockCommand.created_at > now - COMMAND_LIFETIME)
        .order_by(LockCommand.id)
    ).all()
    for command in commands:
        command.handed_out_at = now
    return [Order(c.id, c.action, c.locker_number) for c in commands]


def record_result(session: Session, kiosk_id: int, command_id: int, ok: bool, error: str = "",
                  now: datetime | None = None) -> str:
    """What the agent did with a command; returns the command's status. The first report
    stands and a repeat changes nothing. A failed open tells the person at the kiosk to see
    the office. Inside the caller's unit of work."""
    now = now or utc_now()
    kiosk_events.lock_kiosk(session, kiosk_id)
    command = session.get(LockCommand, command_id)
    if command is None or command.kiosk_id != kiosk_id:
        raise NotFound("There is no such command for this kiosk.")
    if command.done_at is None:
        command.done_at, command.ok, command.error = now, ok, error[:200]
        if not ok:
            kiosk_events.publish(session, kiosk_id, kiosk_events.LOCK_FAILED, {
                **refusal(LOCK_FAILED, f"Locker {command.locker_number} did not "
                                                    "open. Please see the office."),
                "locker": command.locker_number,
            }, now)
    return status(command, now)


def status(command: LockCommand, now: datetime) -> str:
    """pending, handed out, done, failed or expired: for the office and the tests."""
    if command.done_at is not None:
        return "done" if command.ok else "failed"
    if command.handed_out_at is not None:
        return "handed out"
    return "pending" if command.created_at > now - COMMAND_LIFETIME else "expired"


def emergency_open(session: Session, bank_ids: Iterable[int], reason: str, actor: str,
                   now: datetime | None = None) -> list[EmergencyOpening]:
    """Open every locker of the chosen banks (a fire drill, a jammed bank): admins only, with
    a reason, one audit entry per bank. Adds to the caller's transaction."""
    now = now or utc_now()
    reason = " ".join(reason.split())
    if len(reason) < MIN_REASON_LENGTH:
        raise ValidationError("Say why every locker must be opened (at least a few words).")
    banks = session.scalars(
        select(LockerBank).where(LockerBank.id.in_(set(bank_ids))).order_by(LockerBank.name)
    ).all()
    if not banks:
        raise ValidationError("Choose at least one locker bank to open.")
    _forget_old(session, now)
    openings = []
    for bank in banks:
        kiosks = session.scalars(select(Kiosk).where(Kiosk.bank_id == bank.id)).all()
        for kiosk in kiosks:
            for locker in bank.lockers:
                _add(session, kiosk.id, locker.number, EMERGENCY, now)
        audit.record(session, actor, "lockers.emergency_open", f"bank:{bank.id}",
                     f"{bank.name}: {len(bank.lockers)} lockers, "
                     f"{len(kiosks)} kiosk{'' if len(kiosks) == 1 else 's'} asked to open them. "
                     f"Reason: {reason}", at=now)
        openings.append(EmergencyOpening(bank.name, len(bank.lockers), len(kiosks)))
    return openings
