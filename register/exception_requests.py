"""Exceptions to the phone policy, agreed by SLT: request, approve, decline, revoke, expire.

The policy lets a phone stay with someone on duty only "in exceptional circumstances which have
been discussed and agreed with a member of the senior leadership team". Each request is a
record: who asked, why, for when, who decided, with what conditions, and when it ended.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session, selectinload

from register import audit, codes, settings
from register.db import lock
from register.errors import RegisterError, ValidationError
from register.models import (
    ExceptionDecision,
    ExceptionRequest,
    Person,
    User,
    utc_now,
)
from register.text import clean_text

CATEGORIES = {
    "emergency": "Family or medical emergency",
    "offsite": "School trip or off-site duty",
    "on_call": "On-call or site duty",
    "caring": "Caring responsibility",
    "other": "Other",
}
PENDING, APPROVED, DECLINED, REVOKED, EXPIRED = (
    "pending", "approved", "declined", "revoked", "expired")
ALL_DAYS = "0123456"
DAY_NAMES = ["Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays",
             "Sundays"]
MAX_REASON = 300


class DecisionRefused(RegisterError):
    reason = "decision_refused"


@dataclass(frozen=True)
class Window:
    """When an exception applies, in the school's local dates and times."""

    starts_on: date
    ends_on: date
    day_from: time | None = None  # None: from the start of each day
    day_until: time | None = None  # None: to the end of each day
    weekdays: str = ALL_DAYS  # Monday = 0

    @classmethod
    def today_until(cls, now_local: datetime, until: time) -> Window:
        return cls(now_local.date(), now_local.date(), None, until)

    @classmethod
    def of(cls, request: ExceptionRequest) -> Window:
        return cls(request.starts_on, request.ends_on, request.day_from, request.day_until,
                   request.weekdays)

    def validate(self, today: date) -> None:
        if self.ends_on < self.starts_on:
            raise ValidationError("The last day is before the first day.")
        if self.ends_on < today:
            raise ValidationError("That window has already ended.")
        if self.ends_on - self.starts_on > timedelta(days=200):
            raise ValidationError("An exception lasts at most one term (200 days).")
        if self.day_from and self.day_until and self.day_until <= self.day_from:
            raise ValidationError("The end time is before the start time.")
        if not self.weekdays or set(self.weekdays) - set(ALL_DAYS):
            raise ValidationError("Choose at least one day of the week.")

    def covers(self, moment: datetime, zone: tzinfo) -> bool:
        local = moment.astimezone(zone)
        if not self.starts_on <= local.date() <= self.ends_on:
            return False
        if str(local.weekday()) not in self.weekdays:
            return False
        clock = local.time().replace(tzinfo=None)
        if self.day_from and clock < self.day_from:
            return False
        return not (self.day_until and clock >= self.day_until)

    def has_ended(self, moment: datetime, zone: tzinfo) -> bool:
        return moment >= self.last_moment(zone)

    def last_moment(self, zone: tzinfo) -> datetime:
        """The instant the window finally closes (local wall time, so DST is honoured)."""
        day = self.ends_on
        while str(day.weekday()) not in self.weekdays and day > self.starts_on:
            day -= timedelta(days=1)
        if self.day_until:
            return datetime.combine(day, self.day_until, zone)
        return datetime.combine(day + timedelta(days=1), time(0), zone)

    def today_ends(self, moment: datetime, zone: tzinfo) -> datetime:
        """When today's part of the window ends (for 'until 15:30' on the kiosk)."""
        local = moment.astimezone(zone)
        if self.day_until:
            return datetime.combine(local.date(), self.day_until, zone)
        return datetime.combine(local.date() + timedelta(days=1), time(0), zone)

    def describe(self) -> str:
        days = ("" if self.weekdays == ALL_DAYS
                else " and ".join(DAY_NAMES[int(d)] for d in self.weekdays) + ", ")
        if self.starts_on == self.ends_on:
            span = f"{self.starts_on:%a %-d %b}"
        else:
            span = f"{self.starts_on:%a %-d %b} to {self.ends_on:%a %-d %b}"
        hours = ""
        if self.day_from and self.day_until:
            hours = f", {self.day_from:%H:%M} to {self.day_until:%H:%M}"
        elif self.day_until:
            hours = f", until {self.day_until:%H:%M}"
        elif self.day_from:
            hours = f", from {self.day_from:%H:%M}"
        return f"{days}{span}{hours}"


def request_exception(
    session: Session, person: Person, category: str, reason: str, window: Window, actor: str,
    via: str, zone: tzinfo, now: datetime | None = None,
) -> ExceptionRequest:
    """Record a request (at the kiosk, or by office or SLT on someone's behalf)."""
    now = now or utc_now()
    if category not in CATEGORIES:
        raise ValidationError("Choose what the exception is for.")
    reason = " ".join(clean_text(reason, "The reason").split())
    if not reason:
        raise ValidationError("Say briefly why the phone is needed.")
    if len(reason) > MAX_REASON:
        raise ValidationError(f"Keep the reason under {MAX_REASON} characters.")
    if not person.active:
        raise ValidationError(f"{person.name} is marked as having left.")
    window.validate(now.astimezone(zone).date())
    needed = 2 if category in settings.second_approver_categories(session) else 1
    request = ExceptionRequest(
        person=person, category=category, reason=reason, starts_on=window.starts_on,
        ends_on=window.ends_on, day_from=window.day_from, day_until=window.day_until,
        weekdays=window.weekdays, approvals_needed=needed, requested_at=now,
        requested_by=actor, requested_via=via, status=PENDING,
    )
    session.add(request)
    session.flush()
    audit.record(session, actor, "exception.request", f"exception:{request.id}",
                 f"person:{person.id}; {CATEGORIES[category]}; {window.describe()}; {reason}",
                 at=now)
    return request


def approve(session: Session, request: ExceptionRequest, user: User, conditions: str = "",
            now: datetime | None = None) -> ExceptionRequest:
    """One SLT approval; the request takes effect once it has as many as it needs."""
    now = now or utc_now()
    _check_decider(request, user, PENDING)
    if any(d.action == "approve" and d.user_id == user.id for d in request.decisions):
        raise DecisionRefused("You have already approved this; it needs another SLT member.")
    conditions = " ".join(clean_text(conditions, "The conditions").split())[:300]
    _decide(session, request, user, "approve", conditions, now)
    if conditions:
        request.conditions = conditions
    approvals = sum(d.action == "approve" for d in request.decisions)
    if approvals >= request.approvals_needed:
        request.status = APPROVED
        request.decided_at = now
    return request


def decline(session: Session, request: ExceptionRequest, user: User, reason: str,
            now: datetime | None = None) -> ExceptionRequest:
    return _end(session, request, user, reason, now, PENDING, "decline", DECLINED,
                "Give a reason for declining: the person will be told.")


def revoke(session: Session, request: ExceptionRequest, user: User, reason: str,
           now: datetime | None = None) -> ExceptionRequest:
    """End an approved exception early (any SLT member may)."""
    return _end(session, request, user, reason, now, APPROVED, "revoke", REVOKED,
                "Give a reason for revoking it.")


def _end(session: Session, request: ExceptionRequest, user: User, reason: str,
         now: datetime | None, from_status: str, action: str, to_status: str,
         no_reason: str) -> ExceptionRequest:
    """Decline or revoke: both need a reason, and both are final."""
    now = now or utc_now()
    _check_decider(request, user, from_status)
    reason = " ".join(clean_text(reason, "The reason").split())
    if not reason:
        raise DecisionRefused(no_reason)
    _decide(session, request, user, action, reason[:300], now)
    request.status = to_status
    request.decided_at = now
    return request


def _check_decider(request: ExceptionRequest, user: User, status: str) -> None:
    if user.role not in ("slt", "admin"):
        raise DecisionRefused("Only senior leaders decide exceptions.")
    if user.person_id is not None and user.person_id == request.person_id:
        raise DecisionRefused("Nobody decides their own request: ask another SLT member.")
    if request.status != status:
        raise DecisionRefused(f"This request is already {request.status}.")


def _decide(session: Session, request: ExceptionRequest, user: User | None, action: str,
            note: str, now: datetime) -> None:
    session.add(ExceptionDecision(request=request, user=user, action=action, note=note, at=now))
    session.flush()  # ids and foreign keys filled in: the next check reads them
    actor = user.username if user else "system"
    audit.record(session, actor, f"exception.{action}", f"exception:{request.id}",
                 f"person:{request.person_id}; {note}" if note else f"person:{request.person_id}",
                 at=now)


def expire_due(session: Session, zone: tzinfo, now: datetime | None = None,
               ) -> list[ExceptionRequest]:
    """Close requests whose window has ended: approved ones expire, and so do pending ones
    nobody decided in time. Each expiry is recorded like a decision."""
    now = now or utc_now()
    today = now.astimezone(zone).date()
    # FOR UPDATE: two tablets polling at the moment a window ends expire it once, not twice
    # (PostgreSQL re-checks the status after the lock; SQLite already holds the write lock).
    open_requests = session.scalars(
        select(ExceptionRequest).where(ExceptionRequest.status.in_((PENDING, APPROVED)),
                                       ExceptionRequest.ends_on <= today).with_for_update())
    expired = []
    for request in open_requests:
        if Window.of(request).has_ended(now, zone):
            was = request.status
            request.status = EXPIRED
            request.decided_at = now
            _decide(session, request, None, "expire", f"was {was}", now)
            expired.append(request)
    return expired


def active_for(session: Session, person_id: int, zone: tzinfo, now: datetime
               ) -> ExceptionRequest | None:
    """The approved exception that covers this moment for this person, if any."""
    candidates = session.scalars(_APPROVED_TODAY, {"person_id": person_id,
                                                   "today": now.astimezone(zone).date()})
    return next((r for r in candidates if Window.of(r).covers(now, zone)), None)


_APPROVED_TODAY = select(ExceptionRequest).where(
    ExceptionRequest.person_id == bindparam("person_id"), ExceptionRequest.status == APPROVED,
    ExceptionRequest.starts_on <= bindparam("today"),
    ExceptionRequest.ends_on >= bindparam("today"))


def approved_by(request: ExceptionRequest) -> list[str]:
    return [d.user.display_name for d in request.decisions
            if d.action == "approve" and d.user is not None]


def pending(session: Session) -> list[ExceptionRequest]:
    return list(session.scalars(
        select(ExceptionRequest).where(ExceptionRequest.status == PENDING)
        .options(selectinload(ExceptionRequest.person),
                 selectinload(ExceptionRequest.decisions))
        .order_by(ExceptionRequest.requested_at)))


def approved_current(session: Session, zone: tzinfo, now: datetime) -> list[ExceptionRequest]:
    """Approved exceptions that have not ended yet (active now or later)."""
    today = now.astimezone(zone).date()
    return list(session.scalars(
        select(ExceptionRequest).where(ExceptionRequest.status == APPROVED,
                                       ExceptionRequest.ends_on >= today)
        .options(selectinload(ExceptionRequest.person),
                 selectinload(ExceptionRequest.decisions))
        .order_by(ExceptionRequest.ends_on)))


def any_due_to_expire(session: Session, zone: tzinfo, now: datetime) -> bool:
    """Whether ``expire_due`` has anything to do: pages that poll ask this first, reading
    only, so they take the write lock just when something has ended."""
    today = now.astimezone(zone).date()
    candidates = session.scalars(
        select(ExceptionRequest).where(ExceptionRequest.status.in_((PENDING, APPROVED)),
                                       ExceptionRequest.ends_on <= today))
    return any(Window.of(r).has_ended(now, zone) for r in candidates)


def for_people(session: Session, person_ids: Iterable[int]) -> list[ExceptionRequest]:
    return list(session.scalars(
        select(ExceptionRequest).where(ExceptionRequest.person_id.in_(list(person_ids)))
        .order_by(ExceptionRequest.requested_at.desc())))


# --- asking at the kiosk --------------------------------------------------------------------

class AlreadyAsked(RegisterError):
    """A pending request exists: the kiosk says so rather than making a second one."""

    reason = "already_asked"

    def __init__(self, request: ExceptionRequest) -> None:
        # Said on the kiosk's public screen: when, never why.
        super().__init__(f"You have already asked ({Window.of(request).describe()}). Waiting "
                         "for SLT; please deposit your phone meanwhile.")
        self.request = request


def pending_for(session: Session, person_id: int, zone: tzinfo, now: datetime,
                ) -> ExceptionRequest | None:
    """The person's undecided request for today (its window has begun and not ended), if any.
    One for a later day is no reason to refuse a request for today."""
    today = now.astimezone(zone).date()
    candidates = session.scalars(
        select(ExceptionRequest).where(
            ExceptionRequest.person_id == person_id, ExceptionRequest.status == PENDING,
            ExceptionRequest.starts_on <= today, ExceptionRequest.ends_on >= today)
        .order_by(ExceptionRequest.requested_at))
    return next((r for r in candidates if not Window.of(r).has_ended(now, zone)), None)


def kiosk_window(now: datetime, zone: tzinfo, ends_on: date | None, until: time | None,
                 ) -> Window:
    """A window chosen at the kiosk: from today until a time, or to the end of ``ends_on``."""
    local = now.astimezone(zone)
    if ends_on is None:
        raise ValidationError("Choose until when you need your phone.")
    if ends_on == local.date() and until is not None and until <= local.time():
        raise ValidationError(f"It is already past {until:%H:%M}: choose a later time.")
    return Window(local.date(), ends_on, None, until)


def request_at_kiosk(session: Session, code: str, category: str, reason: str,
                     window_end: tuple[date | None, time | None], kiosk_name: str,
                     zone: tzinfo, now: datetime | None = None) -> ExceptionRequest:
    """A request made at a kiosk by whoever ``code`` names (register.codes), inside the
    caller's unit of work. A pending request already waiting is refused (AlreadyAsked), never
    doubled."""
    now = now or utc_now()
    person = codes.resolve(session, code).person
    # PostgreSQL: two taps of "Send" queue here (SQLite already holds the write lock).
    lock(session, select(Person.id).where(Person.id == person.id).with_for_update())
    waiting = pending_for(session, person.id, zone, now)
    if waiting is not None:
        raise AlreadyAsked(waiting)
    window = kiosk_window(now, zone, *window_end)
    return request_exception(session, person, category, reason, window, f"kiosk:{kiosk_name}",
                             "kiosk", zone, now)


# --- telling the requester ------------------------------------------------------------------

# Decisions the kiosk tells the person about at their next scan. Older ones are left: a
# decision a week old has been talked about already, or no longer matters.
TOLD_STATUSES = (APPROVED, DECLINED, REVOKED)
TELL_FOR = timedelta(days=7)
_UNTOLD = (
    select(ExceptionRequest)
    .where(ExceptionRequest.person_id == bindparam("person_id"),
           ExceptionRequest.status.in_(TOLD_STATUSES),
           ExceptionRequest.decided_at >= bindparam("since"),
           # told of an approval, then revoked: told again
           or_(ExceptionRequest.requester_told_at.is_(None),
               ExceptionRequest.requester_told_at < ExceptionRequest.decided_at))
    .options(selectinload(ExceptionRequest.decisions).joinedload(ExceptionDecision.user)
             .joinedload(User.person))
    .order_by(ExceptionRequest.decided_at.desc(), ExceptionRequest.id.desc()))


def untold(session: Session, person_id: int, now: datetime) -> list[ExceptionRequest]:
    """The person's decided requests the kiosk has not told them of, latest first. Reads."""
    return list(session.scalars(_UNTOLD, {"person_id": person_id, "since": now - TELL_FOR}))


def tell_requester(session: Session, person: Person, zone: tzinfo, now: datetime,
                   ) -> str | None:
    """The sentence the kiosk shows the person about SLT's latest decision on a request of
    theirs, once: the request is marked told (``requester_told_at``) in the caller's unit of
    work, and of two scans racing only the one that marks it says it. None if nothing to tell.
    The screen is public: first names, never the reason or the category."""
    found = untold(session, person.id, now)
    if not found:
        return None
    marked = session.execute(
        update(ExceptionRequest)
        .where(ExceptionRequest.id.in_([r.id for r in found]),
               or_(ExceptionRequest.requester_told_at.is_(None),
                   ExceptionRequest.requester_told_at < ExceptionRequest.decided_at))
        .values(requester_told_at=now).execution_options(synchronize_session=False))
    if not marked.rowcount:  # type: ignore[attr-defined]
        return None
    for request in found:
        session.expire(request, ["requester_told_at"])
    return notice(found[0], zone, now)


def notice(request: ExceptionRequest, zone: tzinfo, now: datetime) -> str:
    """"Your request for today was not agreed. Please ask Dana (SLT) if you need to talk
    about it." and the like."""
    span = _for_when(request, now.astimezone(zone).date())
    if request.status == APPROVED:
        who = " and ".join(_deciders(request, "approve")) or "SLT"
        return f"Your request {span} was agreed by {who} (SLT)."
    action = "revoke" if request.status == REVOKED else "decline"
    who = " or ".join(_deciders(request, action))
    ask = f"Please ask {who} (SLT)" if who else "Please ask a member of SLT"
    done = ("Your agreed exception " + span + " was ended early" if request.status == REVOKED
            else f"Your request {span} was not agreed")
    return f"{done}. {ask} if you need to talk about it."


def _deciders(request: ExceptionRequest, action: str) -> list[str]:
    """First names of the SLT members who took ``action`` (the kiosk shows no surname)."""
    names = []
    for decision in request.decisions:
        if decision.action == action and decision.user is not None:
            shown = decision.user.display_name.split()
            if shown and shown[0] not in names:
                names.append(shown[0])
    return names


def _for_when(request: ExceptionRequest, today: date) -> str:
    first, last = request.starts_on, request.ends_on
    if first == last:
        return "for today" if first == today else f"for {first:%a %-d %b}"
    return f"for {first:%a %-d %b} to {last:%a %-d %b}"
