"""The incident log the phone policy asks for: staff "report and record any incident".

What is recorded: a phone used on duty, a refusal to deposit, a phone lost or damaged in a
locker, a locker or lock fault, a concern for the head teacher; when and where, who reported
it, the people and devices involved, the action taken and by whom, to whom it was escalated,
open or closed. Safeguarding concerns are never recorded here: they go to the school's own
safeguarding system and the Designated Safeguarding Lead.

Who sees what: SLT and admins see every incident; the office sees only the incidents it
recorded itself (it reports, SLT follow up). Every view of an incident or of the list is
audited (``incident.view``, ``incident.list``), by id only, and so is every change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import ColumnElement, case, select, true
from sqlalchemy.orm import Session, selectinload

from register import audit
from register.errors import NotFound, ValidationError
from register.models import Device, Incident, Person, Role, User
from register.text import clean_text

KINDS = {
    "used_on_duty": "Phone used on duty",
    "refused_deposit": "Refusal to deposit a phone",
    "lost_or_damaged": "Phone lost or damaged in a locker",
    "locker_fault": "Locker or lock fault",
    "head_concern": "A concern for the head teacher",
}
OPEN, CLOSED = "open", "closed"
STATUSES = {OPEN: "Open", CLOSED: "Closed"}
MAX_WHAT_HAPPENED = 2000
MAX_ACTION = 2000
MAX_SHORT = 120  # where, reported by, action by, escalated to
# An incident may be recorded a while after it happened, but not before the register existed.
OLDEST = timedelta(days=400)


@dataclass(frozen=True)
class IncidentDetails:
    """An incident as the form gives it: ``occurred_at`` already read in the school's zone."""

    kind: str
    occurred_at: datetime | None
    what_happened: str
    reported_by: str
    location: str = ""
    person_ids: list[int] = field(default_factory=list)
    device_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Filters:
    """What the list is narrowed to; empty means all."""

    status: str = ""
    kind: str = ""
    since: date | None = None
    until: date | None = None


def _one_line(text: str, what: str, limit: int, required: str = "") -> str:
    said = " ".join(clean_text(text, what).split())
    if required and not said:
        raise ValidationError(required)
    if len(said) > limit:
        raise ValidationError(f"{what}: at most {limit} characters.")
    return said


def _paragraph(text: str, what: str, limit: int, required: str = "") -> str:
    said = clean_text(text, what).replace("\r\n", "\n").strip()
    if required and not said:
        raise ValidationError(required)
    if len(said) > limit:
        raise ValidationError(f"{what}: at most {limit} characters (this is "
                              f"{len(said)}); keep to what happened.")
    return said


def _checked(session: Session, details: IncidentDetails, now: datetime,
             ) -> tuple[list[Person], list[Device]]:
    if details.kind not in KINDS:
        raise ValidationError("Choose what kind of incident it was.")
    if details.occurred_at is None:
        raise ValidationError("Say when it happened.")
    if details.occurred_at > now + timedelta(minutes=1):
        raise ValidationError("When it happened is in the future: check the date and time.")
    if details.occurred_at < now - OLDEST:
        raise ValidationError("When it happened is more than a year ago: check the date.")
    people = [session.get(Person, i) for i in dict.fromkeys(details.person_ids)]
    devices = [session.get(Device, i) for i in dict.fromkeys(details.device_ids)]
    if any(p is None for p in people):
        raise ValidationError("One of the people chosen is no longer on the register: "
                              "choose again.")
    if any(d is None for d in devices):
        raise ValidationError("One of the phones chosen is no longer on the register: "
                              "choose again.")
    return [p for p in people if p], [d for d in devices if d]


def record_incident(session: Session, details: IncidentDetails, user: User,
                    now: datetime) -> Incident:
    """Check and record an incident, audited as ``incident.record`` (ids only)."""
    people, devices = _checked(session, details, now)
    what = _paragraph(details.what_happened, "What happened", MAX_WHAT_HAPPENED,
                      "Say what happened, briefly.")
    reported_by = _one_line(details.reported_by, "Reported by", MAX_SHORT,
                            "Say who reported it (a name or a role).")
    location = _one_line(details.location, "Where", MAX_SHORT)
    for device in devices:  # a phone's owner is involved in what happened to it
        if device.owner not in people:
            people.append(device.owner)
    incident = Incident(kind=details.kind, occurred_at=details.occurred_at, location=location,
                        what_happened=what, reported_by=reported_by, recorded_at=now,
                        recorded_by_user_id=user.id, status=OPEN, people=people,
                        devices=devices)
    session.add(incident)
    session.flush()
    audit.record(session, user.username, "incident.record", f"incident:{incident.id}",
                 _links(incident), at=now)
    return incident


def _links(incident: Incident) -> str:
    return "; ".join([KINDS[incident.kind]]
                     + [f"person:{p.id}" for p in incident.people]
                     + [f"device:{d.id}" for d in incident.devices])


def sees_all(user: User) -> bool:
    return user.role in (Role.SLT, Role.ADMIN)


def visible_to(user: User) -> ColumnElement[bool]:
    """SLT and admins see every incident; the office only those it recorded itself; anyone
    else (a kiosk has no user at all) none."""
    if sees_all(user):
        return true()
    if user.role == Role.OFFICE:
        return Incident.recorded_by_user_id == user.id
    return Incident.id.is_(None)


def list_incidents(session: Session, user: User, filters: Filters, zone: tzinfo,
                   now: datetime) -> list[Incident]:
    """The incidents ``user`` may see, open first then newest; audited as ``incident.list``
    with the count and the filters (never a name)."""
    query = (select(Incident).where(visible_to(user))
             .options(selectinload(Incident.people), selectinload(Incident.recorded_by)))
    if filters.status in STATUSES:
        query = query.where(Incident.status == filters.status)
    if filters.kind in KINDS:
        query = query.where(Incident.kind == filters.kind)
    if filters.since:
        query = query.where(Incident.occurred_at >= datetime.combine(filters.since, time(0),
                                                                     zone))
    if filters.until:
        query = query.where(Incident.occurred_at < datetime.combine(
            filters.until + timedelta(days=1), time(0), zone))
    query = query.order_by(case((Incident.status == OPEN, 0), else_=1),
                           Incident.occurred_at.desc(), Incident.id.desc())
    found = list(session.scalars(query))
    said = [f"{key}={value}" for key, value in (
        ("status", filters.status), ("kind", filters.kind), ("since", filters.since),
        ("until", filters.until)) if value]
    audit.record(session, user.username, "incident.list", "incidents",
                 "; ".join([f"{len(found)} listed", *said]), at=now)
    return found


def incident_for(session: Session, user: User, ident: int, now: datetime,
                 audited: bool = True) -> Incident:
    """One incident, if ``user`` may see it (else NotFound, whether or not it exists, so the
    office cannot learn which ids are SLT's); its view audited as ``incident.view``."""
    incident = session.scalars(select(Incident).where(Incident.id == ident, visible_to(user))
                               ).first()
    if incident is None:
        raise NotFound("No incident with that number that you can see: the office sees only "
                       "the incidents it recorded; SLT see them all.")
    if audited:
        audit.record(session, user.username, "incident.view", f"incident:{incident.id}",
                     at=now)
    return incident


def update_action(session: Session, incident: Incident, user: User, action_taken: str,
                  action_by: str, escalated_to: str, now: datetime) -> Incident:
    """Record the action taken, by whom, and to whom it was escalated (audited, ids only)."""
    incident.action_taken = _paragraph(action_taken, "Action taken", MAX_ACTION)
    incident.action_by = _one_line(action_by, "Action taken by", MAX_SHORT)
    incident.escalated_to = _one_line(escalated_to, "Escalated to", MAX_SHORT)
    if incident.action_taken and not incident.action_by:
        raise ValidationError("Say who took the action (a name or a role).")
    changed = [name for name, value in (("action taken", incident.action_taken),
                                        ("action by", incident.action_by),
                                        ("escalated", incident.escalated_to)) if value]
    audit.record(session, user.username, "incident.action", f"incident:{incident.id}",
                 ", ".join(changed) or "cleared", at=now)
    return incident


def close(session: Session, incident: Incident, user: User, now: datetime) -> Incident:
    """Close an incident once its action is recorded; audited."""
    if incident.status == CLOSED:
        raise ValidationError("This incident is already closed.")
    if not incident.action_taken:
        raise ValidationError("Record the action taken before closing the incident.")
    incident.status = CLOSED
    incident.closed_at = now
    audit.record(session, user.username, "incident.close", f"incident:{incident.id}", at=now)
    return incident


def reopen(session: Session, incident: Incident, user: User, now: datetime) -> Incident:
    """Open a closed incident again (something more came to light); audited."""
    if incident.status != CLOSED:
        raise ValidationError("This incident is already open.")
    incident.status = OPEN
    incident.closed_at = None
    audit.record(session, user.username, "incident.reopen", f"incident:{incident.id}", at=now)
    return incident


def for_person(session: Session, person: Person) -> list[Incident]:
    """Every incident ``person`` is linked to, oldest first (subject access)."""
    return list(session.scalars(select(Incident).where(Incident.people.contains(person))
                                .order_by(Incident.occurred_at, Incident.id)))
