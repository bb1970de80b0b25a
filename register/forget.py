"""Forgetting a person: everything the register holds about them, in one unit of work.

Used by erasure (register/erasure.py, "Erase this person") and by the retention purge for
people who left long enough ago (register/purge.py). The caller's transaction holds it all;
nothing here commits. What stays, and why:

- A user account linked to the person keeps its username (it is how the audit trail names
  what that user did, kept for the audit retention); the link to the person goes.
- Audit entries about the person, their phones and their requests stay (who did what to which
  record, by id); with ``redact_with`` (an erasure), those with a detail (a reason, a note)
  have it blanked (register.audit.redact).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.orm import Session

from register import audit
from register.db import execute
from register.models import (
    AuditEvent,
    Deposit,
    DepositDoor,
    Device,
    DutyPeriod,
    ExceptionDecision,
    ExceptionRequest,
    Person,
    PolicyAcknowledgement,
    User,
    incident_devices,
    incident_people,
)


@dataclass(frozen=True)
class Footprint:
    """Everything held about one person, by id: what forgetting them removes."""

    person_id: int
    device_ids: list[int]
    deposit_ids: list[int]
    duty_period_ids: list[int]
    request_ids: list[int]
    decision_ids: list[int]
    acknowledgement_ids: list[int]
    usernames: list[str]  # accounts linked to the person: kept, unlinked
    audit_ids: list[int] = field(default_factory=list)  # entries about them (and by them)

    @property
    def subjects(self) -> list[str]:
        """The audit trail's names for their records."""
        return ([f"person:{self.person_id}"] + [f"device:{i}" for i in self.device_ids]
                + [f"exception:{i}" for i in self.request_ids])

    def counts(self) -> dict[str, int]:
        """Removed records by kind, as the confirmation page and the CLI say them."""
        return {"phones": len(self.device_ids), "deposits": len(self.deposit_ids),
                "duty periods": len(self.duty_period_ids),
                "exception requests": len(self.request_ids),
                "decisions": len(self.decision_ids),
                "policy acknowledgements": len(self.acknowledgement_ids)}


def footprint(session: Session, person: Person) -> Footprint:
    """Find, without changing anything, every record about ``person``."""
    device_ids = _ids(session, select(Device.id).where(Device.owner_id == person.id))
    request_ids = _ids(session, select(ExceptionRequest.id)
                       .where(ExceptionRequest.person_id == person.id))
    usernames = list(session.scalars(select(User.username).where(User.person_id == person.id)
                                     .order_by(User.username)))
    subjects = ([f"person:{person.id}"] + [f"device:{i}" for i in device_ids]
                + [f"exception:{i}" for i in request_ids])
    about = _about(person.id, subjects)
    if usernames:
        about = or_(about, AuditEvent.actor.in_(usernames),
                    AuditEvent.subject.in_([f"user:{name}" for name in usernames]))
    return Footprint(
        person_id=person.id,
        device_ids=device_ids,
        deposit_ids=_ids(session, select(Deposit.id).where(Deposit.device_id.in_(device_ids))),
        duty_period_ids=_ids(session, select(DutyPeriod.id)
                             .where(DutyPeriod.person_id == person.id)),
        request_ids=request_ids,
        decision_ids=_ids(session, select(ExceptionDecision.id)
                          .where(ExceptionDecision.request_id.in_(request_ids))),
        acknowledgement_ids=_ids(session, select(PolicyAcknowledgement.id)
                                 .where(PolicyAcknowledgement.person_id == person.id)),
        usernames=usernames,
        audit_ids=_ids(session, select(AuditEvent.id).where(about)),
    )


def forget(session: Session, person: Person, redact_with: AuditEvent | None = None,
           ) -> Footprint:
    """Delete the person and every record about them, in the caller's transaction. With
    ``redact_with`` (the erasure's own audit entry), blank the detail of the audit entries
    about their records (not those only by them as a user: what they did to others stays)."""
    found = footprint(session, person)
    session.flush()
    execute(session, update(User).where(User.person_id == person.id).values(person_id=None))
    execute(session, delete(DepositDoor).where(DepositDoor.deposit_id.in_(found.deposit_ids)))
    execute(session, delete(Deposit).where(Deposit.id.in_(found.deposit_ids)))
    execute(session, delete(DutyPeriod).where(DutyPeriod.id.in_(found.duty_period_ids)))
    execute(session, delete(ExceptionDecision)
            .where(ExceptionDecision.id.in_(found.decision_ids)))
    execute(session, delete(ExceptionRequest).where(ExceptionRequest.id.in_(found.request_ids)))
    execute(session, delete(PolicyAcknowledgement)
            .where(PolicyAcknowledgement.id.in_(found.acknowledgement_ids)))
    # An incident stays (it may be about others too); the link to them and their phones goes.
    execute(session, delete(incident_devices)
            .where(incident_devices.c.device_id.in_(found.device_ids)))
    execute(session, delete(incident_people).where(incident_people.c.person_id == person.id))
    execute(session, delete(Device).where(Device.id.in_(found.device_ids)))
    execute(session, delete(Person).where(Person.id == person.id))
    session.expunge(person)
    if redact_with is not None:
        # Selected again by what they say, not by the footprint's ids: a busy user's entries
        # could pass PostgreSQL's limit on one statement's parameters.
        about_records = _ids(session, select(AuditEvent.id).where(
            _about(person.id, found.subjects), AuditEvent.detail != "",
            AuditEvent.detail != audit.REDACTED))
        audit.redact(session, about_records, redact_with)
    return found


def _about(person_id: int, subjects: list[str]) -> ColumnElement[bool]:
    """Entries about the person's records: named as their subject, or naming the person in
    their detail ("person:12; ...", "... to person:12"; never person:123)."""
    named = f"person:{person_id}"
    return or_(AuditEvent.subject.in_(subjects),
               AuditEvent.detail.contains(f"{named};", autoescape=True),
               AuditEvent.detail.contains(f"{named} ", autoescape=True),
               AuditEvent.detail.endswith(named, autoescape=True))


def _ids(session: Session, query: object) -> list[int]:
    return list(session.scalars(query))  # type: ignore[call-overload]
