"""The audit trail: who viewed, changed, printed or exported personal data, and when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from register.models import AuditEvent, utc_now


def record(
    session: Session,
    actor: str,
    action: str,
    subject: str = "",
    detail: str = "",
    at: datetime | None = None,
) -> AuditEvent:
    """Add an entry to the caller's transaction. Name records by id; never write an IMEI."""
    event = AuditEvent(actor=actor, action=action, subject=subject, detail=detail,
                       at=at or utc_now())
    session.add(event)
    return event


def recent(session: Session, limit: int = 200) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    return list(session.scalars(query))
