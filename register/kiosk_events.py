"""Events for a kiosk's page: what happened at its readers and locks, in order.

The page asks for events with ids above the last one it saw. That only works if, for one
kiosk, ids become visible in the order they were given: on PostgreSQL two transactions could
take ids 5 and 6 and commit 6 first, so publishing takes a lock on the kiosk's row first
(SQLite's write lock already serialises every writer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.orm import Session

from register.db import execute, lock
from register.models import Kiosk, KioskEvent, utc_now

SCAN, LOCK_FAILED, DOOR_OPEN = "scan", "lock_failed", "door_open"
KEEP_EVENTS_FOR = timedelta(days=1)
MAX_EVENTS_PER_POLL = 50


@dataclass(frozen=True)
class Event:
    id: int
    kind: str
    data: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "data": self.data}


_FORGET = delete(KioskEvent).where(KioskEvent.created_at < bindparam("before"))
_ADD = insert(KioskEvent).values(kiosk_id=bindparam("kiosk"), kind=bindparam("what"),
                                 data=bindparam("shown"), created_at=bindparam("now"))
_LOCK = select(Kiosk.id).where(Kiosk.id == bindparam("kiosk_id")).with_for_update(key_share=True)


def lock_kiosk(session: Session, kiosk_id: int) -> None:
    """Serialise this kiosk's agent traffic and events (nothing to do on SQLite, which
    serialises all writers). FOR NO KEY UPDATE: rows that merely reference the kiosk are not
    blocked."""
    lock(session, _LOCK, {"kiosk_id": kiosk_id})


def publish(session: Session, kiosk_id: int, kind: str, data: dict[str, Any],
            now: datetime | None = None) -> None:
    """Add an event to the caller's write transaction; forget events older than a day."""
    now = now or utc_now()
    lock_kiosk(session, kiosk_id)
    execute(session, _FORGET, {"before": now - KEEP_EVENTS_FOR})
    execute(session, _ADD, {"kiosk": kiosk_id, "what": kind, "shown": data, "now": now})


def latest_id(session: Session, kiosk_id: int) -> int:
    """Where a newly loaded page starts: it shows only what happens from now on."""
    return session.scalar(
        select(func.coalesce(func.max(KioskEvent.id), 0)).where(KioskEvent.kiosk_id == kiosk_id)
    ) or 0


def after(session: Session, kiosk_id: int, last_seen: int) -> tuple[list[Event], int]:
    """Events newer than ``last_seen`` (oldest first) and the id to ask after next time.

    A cursor beyond the newest event (the database was rebuilt under a running page) is
    brought back, so the page never waits for ids that will not come.
    """
    last_seen = min(last_seen, latest_id(session, kiosk_id))
    rows = session.scalars(
        select(KioskEvent)
        .where(KioskEvent.kiosk_id == kiosk_id, KioskEvent.id > last_seen)
        .order_by(KioskEvent.id).limit(MAX_EVENTS_PER_POLL)
    ).all()
    events = [Event(row.id, row.kind, dict(row.data)) for row in rows]
    return events, events[-1].id if events else last_seen
