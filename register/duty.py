"""Who is on duty: from scanning in (phone locked away, under an agreed exception, or with no
phone on the register) until going off duty (collecting the phone without an exception, or
signing out)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, selectinload

from register import exception_requests
from register.db import execute, insert_unless_present
from register.models import Deposit, Device, DutyPeriod, ExceptionRequest, Person

DEPOSIT, EXCEPTION, NO_PHONE = "deposit", "exception", "no_phone"
COLLECT, SIGN_OUT = "collect", "sign_out"


_OPEN = DutyPeriod.ended_at.is_(None)
_CURRENT = select(DutyPeriod).where(DutyPeriod.person_id == bindparam("person_id"), _OPEN)
_END = update(DutyPeriod).where(DutyPeriod.person_id == bindparam("person"), _OPEN).values(
    ended_at=bindparam("now"), end_kind=bindparam("kind"))


# The open period if there is one, else the last to end (the second-scan guard after leaving).
_LATEST = (select(DutyPeriod).where(DutyPeriod.person_id == bindparam("person_id"))
           .order_by(DutyPeriod.ended_at.is_not(None), DutyPeriod.ended_at.desc()).limit(1))


def current(session: Session, person_id: int) -> DutyPeriod | None:
    return session.scalar(_CURRENT, {"person_id": person_id})


def latest(session: Session, person_id: int) -> DutyPeriod | None:
    """The current period, else the last one ended (None if never on duty): one statement."""
    return session.scalar(_LATEST, {"person_id": person_id})


def start(session: Session, person_id: int, kind: str, kiosk_id: int | None, now: datetime,
          ) -> None:
    """On duty from now, unless already (a second phone deposited changes nothing): one
    statement, and the one-open-period-per-person index decides."""
    insert_unless_present(session, DutyPeriod, {"person_id": person_id, "started_at": now,
                                                 "start_kind": kind, "kiosk_id": kiosk_id},
                          ("person_id",), where=_OPEN)


def end(session: Session, person_id: int, kind: str, now: datetime) -> None:
    """Off duty from now, if on duty."""
    execute(session, _END, {"person": person_id, "now": now, "kind": kind})


@dataclass(frozen=True)
class OnDuty:
    """One person on duty now, and how the policy is met for them."""

    person: Person
    since: datetime
    lockers: list[int]  # phones locked away now
    exception: ExceptionRequest | None  # covering this moment
    exception_ended: ExceptionRequest | None  # ended earlier today while on duty
    without_phone: bool = False  # signed in with no phone on the register: nothing to lock

    @property
    def compliant(self) -> bool:
        return bool(self.lockers) or self.exception is not None or self.without_phone

    @property
    def due_to_deposit(self) -> bool:
        return not self.compliant and self.exception_ended is not None


def on_duty_now(session: Session, zone: tzinfo, now: datetime) -> list[OnDuty]:
    periods = session.scalars(
        select(DutyPeriod).where(DutyPeriod.ended_at.is_(None))
        .options(selectinload(DutyPeriod.person)).order_by(DutyPeriod.started_at))
    locked: dict[int, list[int]] = {}
    for deposit in session.scalars(
            select(Deposit).where(Deposit.collected_at.is_(None))
            .options(selectinload(Deposit.device), selectinload(Deposit.locker))):
        locked.setdefault(deposit.device.owner_id, []).append(deposit.locker.number)
    result = []
    for period in periods:
        active = exception_requests.active_for(session, period.person_id, zone, now)
        ended = None if active else _ended_since(session, period, zone, now)
        result.append(OnDuty(period.person, period.started_at, locked.get(period.person_id, []),
                             active, ended, period.start_kind == NO_PHONE))
    return sorted(result, key=lambda d: d.person.name)


def _ended_since(session: Session, period: DutyPeriod, zone: tzinfo, now: datetime,
                 ) -> ExceptionRequest | None:
    """An exception that covered part of this duty period and no longer does."""
    for request in exception_requests.for_people(session, [period.person_id]):
        if request.status not in (exception_requests.APPROVED, exception_requests.EXPIRED,
                                  exception_requests.REVOKED):
            continue
        window = exception_requests.Window.of(request)
        if window.covers(period.started_at, zone) or (
                request.decided_at and period.started_at <= request.decided_at <= now):
            return request
    return None


def phones_locked(session: Session, person_id: int) -> int:
    return len(session.scalars(
        select(Deposit.id).join(Device).where(Device.owner_id == person_id,
                                              Deposit.collected_at.is_(None))).all())
