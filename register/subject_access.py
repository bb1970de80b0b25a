"""Subject access: everything the register holds about one person, as one plain structure.

UK GDPR (Article 15) gives a person a copy of their personal data within a month of asking.
``subject_access(session, person, made_by, now)`` reads it all, in the caller's (read-only)
unit of work, and ``SubjectAccess.as_json()`` gives it as plain JSON; kiosk/pdf.py draws the
same as a PDF. Nothing here writes: the caller records the export in the audit trail.

The JSON's keys are stable (``format_version`` changes if they ever do). Times are ISO 8601
in UTC (``2026-12-05T08:14:03+00:00``), dates ``2026-12-05``, times of day ``15:30``; a
missing value is ``null``. Top level:

- ``format``, ``format_version``, ``made_at``, ``made_by``: what this is, when and who made it.
- ``person``: ``id``, ``name``, ``category``, ``badge_id``, ``email``, ``fixed_locker``,
  ``active``, ``left_at``, ``left_reason``, ``created_at``.
- ``phones``: ``id``, ``make``, ``model``, ``imei``, ``imei2`` (both whole), ``label_code``,
  ``registered_at``, ``registered_by``, ``verified_at``, ``verified_by``, ``retired_at``,
  ``retired_reason``.
- ``deposits``: ``id``, ``phone_id``, ``label_code``, ``locker``, ``bank``, ``deposited_at``,
  ``deposit_kiosk``, ``collected_at``, ``collect_kiosk``, ``collected_by``,
  ``door_closed_at``.
- ``duty_periods``: ``id``, ``started_at``, ``start_kind``, ``ended_at``, ``end_kind``,
  ``kiosk``.
- ``exception_requests``: ``id``, ``category``, ``reason``, ``starts_on``, ``ends_on``,
  ``day_from``, ``day_until``, ``weekdays``, ``status``, ``approvals_needed``,
  ``conditions``, ``requested_at``, ``requested_by``, ``requested_via``, ``decided_at``,
  ``requester_told_at``, ``decisions`` (each ``at``, ``by``, ``action``, ``note``).
- ``policy_acknowledgements``: ``policy_title``, ``policy_version``, ``policy_adopted_on``,
  ``at``, ``via``, ``kiosk``, ``recorded_by``.
- ``incidents`` (incident log entries they are linked to; other people involved are not
  named): ``id``, ``kind``, ``occurred_at``, ``location``, ``what_happened``,
  ``reported_by``, ``recorded_at``, ``recorded_by``, ``action_taken``, ``action_by``,
  ``escalated_to``, ``status``, ``closed_at``, ``their_phones`` (label codes).
- ``audit_entries_about_them``: ``id``, ``at``, ``actor``, ``action``, ``subject``,
  ``detail`` (entries about the person, their phones, their requests and their account).
- ``user_accounts`` (an office, SLT or admin account linked to them; usually none or one):
  ``username``, ``role``, ``active``, ``email``, ``created_at``, ``last_sign_in_at``,
  ``sessions`` (times only: ``started_at``, ``last_used_at``, ``ended_at``,
  ``ended_because``) and ``audit_entries_by_them`` (as above).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields, is_dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from register import forget
from register.exception_requests import CATEGORIES, DAY_NAMES
from register.incidents import KINDS as INCIDENT_KINDS
from register.models import (
    AuditEvent,
    Category,
    Deposit,
    Device,
    DutyPeriod,
    ExceptionDecision,
    ExceptionRequest,
    Incident,
    Kiosk,
    Locker,
    Person,
    PolicyAcknowledgement,
    User,
    UserSession,
)

FORMAT = "Phone register subject access export"
FORMAT_VERSION = 1
_CHUNK = 500  # ids per IN (...): a busy user's trail runs to tens of thousands of entries


@dataclass(frozen=True)
class Details:
    id: int
    name: str
    category: str
    badge_id: str | None
    email: str
    fixed_locker: str | None
    active: bool
    left_at: datetime | None
    left_reason: str | None
    created_at: datetime


@dataclass(frozen=True)
class Phone:
    id: int
    make: str
    model: str
    imei: str
    imei2: str | None
    label_code: str
    registered_at: datetime
    registered_by: str
    verified_at: datetime | None
    verified_by: str | None
    retired_at: datetime | None
    retired_reason: str | None

    @property
    def description(self) -> str:
        return " ".join(part for part in (self.make, self.model) if part) or "Phone"


@dataclass(frozen=True)
class DepositRecord:
    id: int
    phone_id: int
    label_code: str
    locker: int
    bank: str
    deposited_at: datetime
    deposit_kiosk: str | None
    collected_at: datetime | None
    collect_kiosk: str | None
    collected_by: str | None
    door_closed_at: datetime | None


@dataclass(frozen=True)
class DutyRecord:
    id: int
    started_at: datetime
    start_kind: str
    ended_at: datetime | None
    end_kind: str | None
    kiosk: str | None


@dataclass(frozen=True)
class DecisionRecord:
    at: datetime
    by: str  # a username, or "the system" (an expiry)
    action: str
    note: str


@dataclass(frozen=True)
class RequestRecord:
    id: int
    category: str
    reason: str
    starts_on: date
    ends_on: date
    day_from: time | None
    day_until: time | None
    weekdays: list[str]
    status: str
    approvals_needed: int
    conditions: str
    requested_at: datetime
    requested_by: str
    requested_via: str
    decided_at: datetime | None
    requester_told_at: datetime | None
    decisions: list[DecisionRecord]


@dataclass(frozen=True)
class AcknowledgementRecord:
    policy_title: str
    policy_version: str
    policy_adopted_on: date
    at: datetime
    via: str
    kiosk: str | None
    recorded_by: str


@dataclass(frozen=True)
class IncidentRecord:
    id: int
    kind: str
    occurred_at: datetime
    location: str
    what_happened: str
    reported_by: str
    recorded_at: datetime
    recorded_by: str | None
    action_taken: str
    action_by: str
    escalated_to: str
    status: str
    closed_at: datetime | None
    their_phones: list[str]


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    detail: str


@dataclass(frozen=True)
class SessionRecord:
    started_at: datetime
    last_used_at: datetime
    ended_at: datetime | None
    ended_because: str


@dataclass(frozen=True)
class AccountRecord:
    username: str
    role: str
    active: bool
    email: str
    created_at: datetime
    last_sign_in_at: datetime | None
    sessions: list[SessionRecord]
    audit_entries_by_them: list[AuditRecord]


@dataclass(frozen=True)
class SubjectAccess:
    """Everything held about one person, newest last within each kind."""

    made_at: datetime
    made_by: str
    person: Details
    phones: list[Phone]
    deposits: list[DepositRecord]
    duty_periods: list[DutyRecord]
    exception_requests: list[RequestRecord]
    policy_acknowledgements: list[AcknowledgementRecord]
    incidents: list[IncidentRecord]
    audit_entries_about_them: list[AuditRecord]
    user_accounts: list[AccountRecord]

    def counts(self) -> dict[str, int]:
        """Records by kind, as the admin page, the CLI and the audit entry say them."""
        return {
            "phones": len(self.phones), "deposits": len(self.deposits),
            "duty periods": len(self.duty_periods),
            "exception requests": len(self.exception_requests),
            "decisions": sum(len(r.decisions) for r in self.exception_requests),
            "policy acknowledgements": len(self.policy_acknowledgements),
            "incidents": len(self.incidents),
            "audit entries about them": len(self.audit_entries_about_them),
            "user accounts": len(self.user_accounts),
            "sign-in sessions": sum(len(a.sessions) for a in self.user_accounts),
            "audit entries by them": sum(len(a.audit_entries_by_them)
                                         for a in self.user_accounts),
        }

    def describe_counts(self) -> str:
        """"2 phones, 14 deposits, ...": the kinds it holds any of, for the audit entry."""
        return ", ".join(counted(count, kind) for kind, count in self.counts().items() if count)

    def as_json(self) -> dict[str, Any]:
        """Plain JSON types only, keys as the module's docstring lists them."""
        body = {"format": FORMAT, "format_version": FORMAT_VERSION}
        body.update({f.name: _plain(getattr(self, f.name)) for f in fields(self)})
        return body


# A kind of record, one of it: the counts' keys (here and register.forget) are plurals.
_ONE = {"audit entries about them": "audit entry about them",
        "audit entries by them": "audit entry by them",
        "kiosk screen events and scan answers": "kiosk screen event or scan answer"}


def counted(count: int, kind: str) -> str:
    """"1 phone", "2 phones", "1 duty period", "1 audit entry about them"."""
    if count != 1:
        return f"{count} {kind}"
    return f"1 {_ONE.get(kind, kind.removesuffix('s'))}"


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return value


def subject_access(session: Session, person: Person, made_by: str, now: datetime,
                   ) -> SubjectAccess:
    """Read everything held about ``person`` (nothing is changed)."""
    found = forget.footprint(session, person)
    kiosks: dict[int, str] = {ident: name for ident, name in session.execute(
        select(Kiosk.id, Kiosk.name))}
    accounts = list(session.scalars(select(User).where(User.person_id == person.id)
                                    .order_by(User.username)))
    usernames = {user.username for user in accounts}
    audit = _audit_entries(session, found.audit_ids)
    return SubjectAccess(
        made_at=now, made_by=made_by, person=_details(person),
        phones=[_phone(device) for device in session.scalars(
            select(Device).where(Device.owner_id == person.id).order_by(Device.id))],
        deposits=_deposits(session, found.deposit_ids, kiosks),
        duty_periods=[DutyRecord(d.id, d.started_at, d.start_kind, d.ended_at, d.end_kind,
                                 kiosks.get(d.kiosk_id or 0)) for d in session.scalars(
            select(DutyPeriod).where(DutyPeriod.person_id == person.id)
            .order_by(DutyPeriod.started_at, DutyPeriod.id))],
        exception_requests=_requests(session, person),
        policy_acknowledgements=_acknowledgements(session, person, kiosks),
        incidents=_incidents(session, person),
        audit_entries_about_them=[entry for entry in audit if entry.actor not in usernames],
        user_accounts=[_account(session, user, [e for e in audit if e.actor == user.username])
                       for user in accounts],
    )


def _details(person: Person) -> Details:
    return Details(person.id, person.name, Category(person.category).label, person.badge_id,
                   person.email, person.fixed_locker.display_name if person.fixed_locker
                   else None, person.active, person.left_at, person.left_reason,
                   person.created_at)


def _phone(device: Device) -> Phone:
    return Phone(device.id, device.make, device.model, device.imei, device.imei2,
                 device.label_code, device.registered_at, device.registered_by,
                 device.verified_at, device.verified_by, device.retired_at,
                 device.retired_reason)


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


def _deposits(session: Session, ids: list[int], kiosks: dict[int, str]) -> list[DepositRecord]:
    found: list[Deposit] = []
    for chunk in _chunks(ids):
        found.extend(session.scalars(select(Deposit).where(Deposit.id.in_(chunk)).options(
            selectinload(Deposit.device), selectinload(Deposit.door),
            selectinload(Deposit.locker).selectinload(Locker.bank))))
    found.sort(key=lambda d: (d.deposited_at, d.id))
    return [DepositRecord(
        d.id, d.device_id, d.device.label_code, d.locker.number, d.locker.bank.name,
        d.deposited_at, kiosks.get(d.deposit_kiosk_id or 0), d.collected_at,
        kiosks.get(d.collect_kiosk_id or 0), d.collected_by, d.door_closed_at) for d in found]


def _requests(session: Session, person: Person) -> list[RequestRecord]:
    requests = session.scalars(
        select(ExceptionRequest).where(ExceptionRequest.person_id == person.id)
        .options(selectinload(ExceptionRequest.decisions).selectinload(ExceptionDecision.user))
        .order_by(ExceptionRequest.requested_at, ExceptionRequest.id))
    return [RequestRecord(
        r.id, CATEGORIES.get(r.category, r.category), r.reason, r.starts_on, r.ends_on,
        r.day_from, r.day_until, [DAY_NAMES[int(day)][:-1] for day in r.weekdays], r.status,
        r.approvals_needed, r.conditions, r.requested_at, r.requested_by, r.requested_via,
        r.decided_at, r.requester_told_at,
        [DecisionRecord(d.at, d.user.username if d.user else "the system", d.action, d.note)
         for d in r.decisions]) for r in requests]


def _acknowledgements(session: Session, person: Person, kiosks: dict[int, str],
                      ) -> list[AcknowledgementRecord]:
    found = session.scalars(
        select(PolicyAcknowledgement).where(PolicyAcknowledgement.person_id == person.id)
        .options(selectinload(PolicyAcknowledgement.policy_version))
        .order_by(PolicyAcknowledgement.at, PolicyAcknowledgement.id))
    return [AcknowledgementRecord(a.policy_version.title, a.policy_version.version,
                                  a.policy_version.adopted_on, a.at, a.via,
                                  kiosks.get(a.kiosk_id or 0), a.recorded_by) for a in found]


def _incidents(session: Session, person: Person) -> list[IncidentRecord]:
    found = session.scalars(
        select(Incident).where(Incident.people.contains(person))
        .options(selectinload(Incident.devices), selectinload(Incident.recorded_by))
        .order_by(Incident.occurred_at, Incident.id))
    return [IncidentRecord(
        i.id, INCIDENT_KINDS.get(i.kind, i.kind), i.occurred_at, i.location, i.what_happened,
        i.reported_by, i.recorded_at, i.recorded_by.username if i.recorded_by else None,
        i.action_taken, i.action_by, i.escalated_to, i.status, i.closed_at,
        [d.label_code for d in i.devices if d.owner_id == person.id]) for i in found]


def _audit_entries(session: Session, ids: list[int]) -> list[AuditRecord]:
    columns = (AuditEvent.id, AuditEvent.at, AuditEvent.actor, AuditEvent.action,
               AuditEvent.subject, AuditEvent.detail)
    entries: list[AuditRecord] = []
    for chunk in _chunks(ids):
        entries.extend(AuditRecord(*row) for row in session.execute(
            select(*columns).where(AuditEvent.id.in_(chunk))))
    entries.sort(key=lambda entry: entry.id)  # the trail's own order
    return entries


def _account(session: Session, user: User, by_them: list[AuditRecord]) -> AccountRecord:
    sessions = [SessionRecord(s.created_at, s.last_seen_at, s.ended_at, s.end_reason)
                for s in session.scalars(select(UserSession).where(UserSession.user_id == user.id)
                                         .order_by(UserSession.created_at, UserSession.id))]
    return AccountRecord(user.username, user.role, user.active, user.email, user.created_at,
                         user.last_sign_in_at, sessions, by_them)
