"""The kiosk agent's heartbeat, and what the kiosk page and SLT are told about readers and doors.

The agent sends a heartbeat about every second: the state of its readers and of the locker
doors it can see. A heartbeat stores them, notices doors that have closed (completing the
deposit in that locker) or been left open, and hands back the lock commands waiting for it.
A kiosk whose agent has gone quiet is treated as having every reader disconnected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from register import kiosk_events, lock_commands
from register.errors import ValidationError
from register.models import (
    AgentHeartbeat,
    Deposit,
    DepositDoor,
    Kiosk,
    Locker,
    LockerDoor,
    utc_now,
)

HEARTBEAT_STALE = timedelta(seconds=5)
DOOR_OPEN_WARNING = timedelta(seconds=30)
OPEN, CLOSED, UNKNOWN = "open", "closed", "unknown"
DOOR_STATES = (OPEN, CLOSED, UNKNOWN)
READER_LABELS = {"rfid": "badge reader", "scanner": "label scanner"}
READER_DISCONNECTED, AGENT_SILENT = "reader_disconnected", "agent_silent"
DOOR_LEFT_OPEN = "door_open"


@dataclass(frozen=True)
class ReaderReport:
    """One reader in a heartbeat."""

    connected: bool
    detail: str = ""


@dataclass(frozen=True)
class ReaderStatus:
    name: str
    label: str
    connected: bool
    detail: str
    since: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "connected": self.connected,
                "detail": self.detail}


@dataclass(frozen=True)
class Alert:
    """Something at a kiosk that needs a person: ``message`` is the sentence the kiosk shows."""

    kind: str
    message: str
    summary: str  # the same for the office and SLT, who are not standing at the kiosk
    kiosk: str
    bank: str
    since: datetime
    lockers: tuple[int, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "lockers": list(self.lockers)}


@dataclass(frozen=True)
class KioskStatus:
    has_agent: bool
    readers: list[ReaderStatus] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"readers": [r.as_dict() for r in self.readers],
                "warnings": [a.as_dict() for a in self.alerts]}


# --- the heartbeat ------------------------------------------------------------------------

def heartbeat(session: Session, kiosk_id: int, readers: Mapping[str, ReaderReport],
              doors: Mapping[int, str], now: datetime | None = None) -> list[lock_commands.Order]:
    """Store what the agent reports; return the lock commands it should carry out now. Inside
    the caller's unit of work."""
    now = now or utc_now()
    for state in doors.values():
        if state not in DOOR_STATES:
            raise ValidationError(f"A door is open, closed or unknown, not {state!r}.")
    kiosk_events.lock_kiosk(session, kiosk_id)  # one heartbeat at a time per kiosk
    kiosk = session.get_one(Kiosk, kiosk_id)
    _record_readers(session, kiosk_id, readers, now)
    _record_doors(session, kiosk, doors, now)
    _warn_of_doors_left_open(session, kiosk_id, now)
    return lock_commands.hand_out(session, kiosk_id, now)


def _record_readers(session: Session, kiosk_id: int, readers: Mapping[str, ReaderReport],
                    now: datetime) -> None:
    agent = session.get(AgentHeartbeat, kiosk_id)
    if agent is None:
        agent = AgentHeartbeat(kiosk_id=kiosk_id, first_seen_at=now, readers={})
        session.add(agent)
    before = agent.readers or {}
    stored: dict[str, dict[str, object]] = {}
    for name, report in readers.items():
        previous = before.get(name)
        unchanged = previous is not None and previous.get("connected") == report.connected
        stored[name[:40]] = {
            "connected": report.connected, "detail": report.detail[:200],
            "since": previous.get("since") if unchanged and previous else now.isoformat(),
        }
    if stored != before:
        agent.readers = stored
    agent.last_seen_at = now


def _record_doors(session: Session, kiosk: Kiosk, doors: Mapping[int, str], now: datetime) -> None:
    if not doors:
        return
    lockers = session.scalars(
        select(Locker).where(Locker.bank_id == kiosk.bank_id, Locker.number.in_(list(doors)))
    ).all()
    known = {
        door.locker_id: door for door in session.scalars(
            select(LockerDoor).where(LockerDoor.locker_id.in_([locker.id for locker in lockers])))
    }
    for locker in lockers:  # numbers the bank does not have are ignored
        state = doors[locker.number]
        door = known.get(locker.id)
        if door is None:
            session.add(LockerDoor(locker_id=locker.id, kiosk_id=kiosk.id, state=state, since=now))
            continue
        if door.kiosk_id != kiosk.id:
            door.kiosk_id = kiosk.id
        if door.state == state:
            continue
        if door.state == OPEN and state == CLOSED:
            _complete_deposit(session, locker, now)
        door.state, door.since, door.warned_at = state, now, None


def _complete_deposit(session: Session, locker: Locker, now: datetime) -> None:
    """The door closed: the phone deposited in this locker is shut in."""
    deposit = session.scalar(
        select(Deposit).where(Deposit.locker_id == locker.id, Deposit.collected_at.is_(None)))
    if deposit is None or deposit.deposited_at > now:
        return
    if session.get(DepositDoor, deposit.id) is None:
        session.add(DepositDoor(deposit_id=deposit.id, door_closed_at=now))


def _warn_of_doors_left_open(session: Session, kiosk_id: int, now: datetime) -> None:
    """Publish each door left open past the limit once, as the kiosk page's ``door_open``."""
    doors = session.scalars(
        select(LockerDoor).options(joinedload(LockerDoor.locker))
        .where(LockerDoor.kiosk_id == kiosk_id, LockerDoor.state == OPEN,
               LockerDoor.warned_at.is_(None), LockerDoor.since <= now - DOOR_OPEN_WARNING)
    ).all()
    for door in doors:
        door.warned_at = now
        number = door.locker.number
        kiosk_events.publish(session, kiosk_id, kiosk_events.DOOR_OPEN,
                             {"locker": number, "message": _doors_message([number])}, now)


# --- what people are shown -----------------------------------------------------------------

def kiosk_status(session: Session, kiosk_id: int, now: datetime | None = None) -> KioskStatus:
    """Readers and warnings for one kiosk's page (read only). Doors left open at the kiosk's
    bank are one warning, however many there are."""
    now = now or utc_now()
    kiosk = session.get_one(Kiosk, kiosk_id)
    agent = session.get(AgentHeartbeat, kiosk_id)
    readers = _readers(agent, now) if agent else []
    alerts = _reader_alerts(kiosk, agent, readers, now) if agent else []
    doors = _door_alerts(session, now, bank_id=kiosk.bank_id)
    if doors:
        numbers = tuple(sorted(n for alert in doors for n in alert.lockers))
        summary = f"{'Locker' if len(numbers) == 1 else 'Lockers'} {_listed(numbers)} open"
        alerts.append(Alert(DOOR_LEFT_OPEN, _doors_message(numbers), summary, kiosk.name,
                            kiosk.bank.name, min(alert.since for alert in doors), numbers))
    return KioskStatus(agent is not None, readers, alerts)


def attention(session: Session, now: datetime | None = None) -> list[Alert]:
    """Everything needing a person across the school, for SLT: one line per kiosk or door."""
    now = now or utc_now()
    alerts: list[Alert] = []
    agents = session.scalars(
        select(AgentHeartbeat).options(joinedload(AgentHeartbeat.kiosk).joinedload(Kiosk.bank))
    ).all()
    for agent in sorted(agents, key=lambda a: a.kiosk.name):
        alerts += _reader_alerts(agent.kiosk, agent, _readers(agent, now), now)
    return alerts + _door_alerts(session, now)


def _is_silent(agent: AgentHeartbeat, now: datetime) -> bool:
    return agent.last_seen_at < now - HEARTBEAT_STALE


def _readers(agent: AgentHeartbeat, now: datetime) -> list[ReaderStatus]:
    """As last reported; all disconnected once the agent has gone quiet."""
    silent = _is_silent(agent, now)
    readers = []
    for name, report in sorted((agent.readers or {}).items()):
        since = datetime.fromisoformat(str(report["since"])) if report.get("since") else None
        if silent:
            readers.append(ReaderStatus(name, _label(name), False, "kiosk agent not responding",
                                        agent.last_seen_at))
        else:
            readers.append(ReaderStatus(name, _label(name), bool(report.get("connected")),
                                        str(report.get("detail", "")), since))
    return readers


def _label(name: str) -> str:
    return READER_LABELS.get(name, name)


def _reader_alerts(kiosk: Kiosk, agent: AgentHeartbeat, readers: list[ReaderStatus],
                   now: datetime) -> list[Alert]:
    silent = _is_silent(agent, now)
    down = [reader for reader in readers if not reader.connected]
    if not down and not silent:
        return []
    if down:
        names = _listed([reader.label for reader in down])
        message = f"{names[0].upper()}{names[1:]} disconnected — please see the office"
    else:
        message = "The kiosk's locks are not responding — please see the office"
    if silent:
        summary = "kiosk agent not responding (readers and locks)"
    else:
        summary = f"{_listed([reader.label for reader in down])} disconnected"
    since = min((r.since for r in down if r.since), default=agent.last_seen_at)
    return [Alert(AGENT_SILENT if silent else READER_DISCONNECTED, message, summary, kiosk.name,
                  kiosk.bank.name, since)]


def _door_alerts(session: Session, now: datetime, bank_id: int | None = None) -> list[Alert]:
    """Doors open longer than the limit, as reported by an agent that is still heard from."""
    query = (
        select(LockerDoor, AgentHeartbeat)
        .join(AgentHeartbeat, AgentHeartbeat.kiosk_id == LockerDoor.kiosk_id)
        .join(Locker, Locker.id == LockerDoor.locker_id)
        .options(joinedload(LockerDoor.locker).joinedload(Locker.bank),
                 joinedload(AgentHeartbeat.kiosk))
        .where(LockerDoor.state == OPEN, LockerDoor.since <= now - DOOR_OPEN_WARNING,
               AgentHeartbeat.last_seen_at >= now - HEARTBEAT_STALE)
        .order_by(Locker.bank_id, Locker.number)
    )
    if bank_id is not None:
        query = query.where(Locker.bank_id == bank_id)
    return [
        Alert(DOOR_LEFT_OPEN, _doors_message([door.locker.number]),
              f"locker {door.locker.number} open", agent.kiosk.name, door.locker.bank.name,
              door.since, (door.locker.number,))
        for door, agent in session.execute(query).all()
    ]


def _doors_message(numbers: Sequence[int]) -> str:
    if len(numbers) == 1:
        return f"Locker {numbers[0]} is open: please close the door"
    return f"Lockers {_listed(numbers)} are open: please close the doors"


def _listed(items: Sequence[object]) -> str:
    """1 → "1"; 1, 2, 3 → "1, 2 and 3"."""
    words = [str(item) for item in items]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def any_agent(session: Session) -> bool:
    """Whether any kiosk has a kiosk agent (and so, perhaps, locks and door sensors)."""
    return session.scalar(select(AgentHeartbeat.kiosk_id).limit(1)) is not None
