"""Was the phone policy met? Per local day, per person on duty that day.

The definition, in full (the README and the SLT report say the same):

- **Duty time.** A person's duty periods (``duty_periods``: from scanning in until collecting
  the phone without an exception, or signing out) that *started* on the day, each clipped to
  that local day and to "now". A period still open at midnight was never closed at the kiosk:
  it counts up to midnight of the day it began, and not at all on the days after
  (``PersonDay.unclosed`` says so).
- **Covered time.** The union of (a) every interval during which one of the person's phones was
  in a locker (``deposits``: deposited until collected, or still in), and (b) every exception
  agreed by SLT, for the times its window covered (``Window``: its dates, weekdays and hours,
  in the school's local time) *while it was in force*: from the approval that made it take
  effect (the last approval a two-approver category needs) until it was revoked or expired,
  if it was. An exception approved at 10:00 covers nothing before 10:00, even if its window
  began at 08:00; one revoked at 12:00 covers nothing after. Pending and declined requests
  cover nothing. (c) A duty period begun with no phone on the register (``no_phone``: signed
  in with a badge) is covered throughout: there was no phone to lock away.
- **Compliant** if the duty time not covered that day adds up to at most ``GRACE`` (10
  minutes: people walk to the lockers when an exception ends, or stop to talk on the way).

A rate is compliant staff-days over on-duty staff-days ("staff" meaning anyone on duty at the
kiosk, whatever their category). Everything is loaded once per range and computed in Python.

**Weeks kept as totals.** Before the retention purge removes duty periods and deposits, each
complete week's staff-days are kept in ``compliance_weeks`` by stakeholder category, counts only
(register/archive.py). ``evidence`` is what the reports show: ``compute``, with a kept week's
totals in place of its live figures wherever the week is kept, so a week's figure does not
change when the people behind it leave and are forgotten, and outlives its events. A week only
partly inside the range is counted from its events while they are held (they can be clipped
to the range); once they are gone its kept totals count, whole, in the range holding its
Monday. Days and people come from the events only.

Exception windows are turned into instants with the school's zone, so "07:30 to 17:00" means
local time on both sides of a clock change. In the one hour the clocks repeat each October, a
window that starts or ends inside that hour is taken at its first occurrence.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from register.duty import NO_PHONE
from register.exception_requests import APPROVED, EXPIRED, REVOKED, Window
from register.models import (
    Category,
    ComplianceWeek,
    Deposit,
    Device,
    DutyPeriod,
    ExceptionRequest,
    Person,
    utc_now,
)

GRACE = timedelta(minutes=10)
FOREVER = float("inf")

Interval = tuple[float, float]  # POSIX seconds, [start, end)


# --- terms -----------------------------------------------------------------------------------

TERMS = (("autumn", (9, 1), (12, 31)), ("spring", (1, 1), (3, 31)), ("summer", (4, 1), (8, 31)))


@dataclass(frozen=True)
class Term:
    """A school term, simply: autumn (1 Sep to 31 Dec), spring (to 31 Mar), summer (to 31 Aug).

    Real terms move with Easter and the school's own dates; holidays have no duty, so counting
    them in changes no rate. For exact dates, give the report a date range.
    """

    season: str
    year: int

    @classmethod
    def containing(cls, day: date) -> Term:
        for season, first, last in TERMS:
            if first <= (day.month, day.day) <= last:
                return cls(season, day.year)
        raise AssertionError("every date is in a term")  # pragma: no cover

    @property
    def starts_on(self) -> date:
        first = next(first for season, first, _ in TERMS if season == self.season)
        return date(self.year, *first)

    @property
    def ends_on(self) -> date:
        last = next(last for season, _, last in TERMS if season == self.season)
        return date(self.year, *last)

    @property
    def name(self) -> str:
        return f"{self.season.capitalize()} term {self.year}"

    def previous(self) -> Term:
        return Term.containing(self.starts_on - timedelta(days=1))


def school_year_containing(day: date) -> tuple[date, date]:
    """1 September to 31 August: the span the annual policy review looks back over."""
    first = day.year if day.month >= 9 else day.year - 1
    return date(first, 9, 1), date(first + 1, 8, 31)


# --- results ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class PersonDay:
    """One person's duty on one local day, and how much of it the policy covered."""

    day: date
    person_id: int
    name: str
    category: str
    on_duty: timedelta
    by_deposit: timedelta  # phone in a locker
    by_exception: timedelta  # not in a locker, but an exception in force covered it
    uncovered: timedelta
    compliant: bool
    unclosed: bool = False  # duty still open at midnight: counted to midnight only

    @property
    def category_label(self) -> str:
        return Category(self.category).label


@dataclass(frozen=True)
class Tally:
    """Staff-days over a span: one day, one week, or the whole range."""

    starts_on: date
    ends_on: date
    on_duty: int = 0
    compliant: int = 0
    with_exception: int = 0  # staff-days that relied on an exception for part of their duty
    kept_as_totals: bool = False  # a week whose events are purged: only its totals are left

    @property
    def gaps(self) -> int:
        return self.on_duty - self.compliant

    @property
    def rate(self) -> float | None:
        """Compliant staff-days over on-duty staff-days; None when nobody was on duty."""
        return self.compliant / self.on_duty if self.on_duty else None


@dataclass(frozen=True)
class PersonTally:
    person_id: int
    name: str
    category: str
    on_duty: int  # days
    compliant: int  # days
    uncovered: timedelta  # over the range

    @property
    def gaps(self) -> int:
        return self.on_duty - self.compliant

    @property
    def category_label(self) -> str:
        return Category(self.category).label


@dataclass(frozen=True)
class Compliance:
    """The policy, day by day and person by person, over ``starts_on``..``ends_on``."""

    starts_on: date
    ends_on: date
    grace: timedelta
    person_days: list[PersonDay] = field(default_factory=list)
    kept_weeks: list[Tally] = field(default_factory=list)  # in place of these weeks' events

    def days(self) -> list[Tally]:
        """One row per local day on which anyone was on duty, in date order (events only)."""
        return _tally(self.person_days, lambda d: (d, d))

    def weeks(self) -> list[Tally]:
        """One row per week (Monday to Sunday, clipped to the range) with anyone on duty; a
        kept week's totals in place of its events."""
        def week(day: date) -> tuple[date, date]:
            monday = monday_of(day)
            return max(monday, self.starts_on), min(monday + timedelta(days=6), self.ends_on)
        live = _tally(self.person_days, week)
        if not self.kept_weeks:
            return live
        kept = {row.starts_on for row in self.kept_weeks}
        return sorted([*self.kept_weeks, *(w for w in live if monday_of(w.starts_on) not in kept)],
                      key=lambda w: w.starts_on)

    def overall(self) -> Tally:
        if self.kept_weeks:
            weeks = self.weeks()
            return Tally(self.starts_on, self.ends_on, sum(w.on_duty for w in weeks),
                         sum(w.compliant for w in weeks), sum(w.with_exception for w in weeks))
        rows = _tally(self.person_days, lambda d: (self.starts_on, self.ends_on))
        return rows[0] if rows else Tally(self.starts_on, self.ends_on)

    @property
    def totals_only(self) -> list[Tally]:
        """The weeks shown from their kept totals because their events are purged."""
        return [w for w in self.kept_weeks if w.kept_as_totals]

    def people(self) -> list[PersonTally]:
        """Per person over the range, most days with a gap first, then by name."""
        by_person: dict[int, list[PersonDay]] = defaultdict(list)
        for row in self.person_days:
            by_person[row.person_id].append(row)
        result = [
            PersonTally(rows[0].person_id, rows[0].name, rows[0].category, len(rows),
                        sum(r.compliant for r in rows),
                        sum((r.uncovered for r in rows), timedelta()))
            for rows in by_person.values()
        ]
        return sorted(result, key=lambda p: (-p.gaps, p.name, p.person_id))


def _tally(rows: Iterable[PersonDay], span: Callable[[date], tuple[date, date]]
           ) -> list[Tally]:
    counts: dict[tuple[date, date], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        count = counts[span(row.day)]
        count[0] += 1
        count[1] += row.compliant
        count[2] += row.by_exception > timedelta()
    return [Tally(first, last, on_duty, compliant, with_exception)
            for (first, last), (on_duty, compliant, with_exception) in sorted(counts.items())]


# --- the computation -------------------------------------------------------------------------

def compute(
    session: Session, starts_on: date, ends_on: date, zone: tzinfo,
    now: datetime | None = None, grace: timedelta = GRACE,
) -> Compliance:
    """Every person-day from ``starts_on`` to ``ends_on`` (local dates, inclusive)."""
    now_ts = (now or utc_now()).timestamp()
    days = _Days(zone)
    range_start = days.bounds(starts_on)[0]
    range_end = days.bounds(ends_on)[1]
    first, last = _instant(range_start), _instant(min(range_end, now_ts))

    periods = session.execute(
        select(DutyPeriod.person_id, DutyPeriod.started_at, DutyPeriod.ended_at,
               Person.name, Person.category, DutyPeriod.start_kind)
        .join(Person, DutyPeriod.person_id == Person.id)
        .where(DutyPeriod.started_at >= first, DutyPeriod.started_at < last)
    ).all()
    if not periods:
        return Compliance(starts_on, ends_on, grace)
    people = {p.person_id: (p.name, p.category) for p in periods}
    deposits = _deposit_timelines(session, people.keys(), first, last)
    exceptions = _exception_spans(session, people.keys(), starts_on, ends_on)

    duty: dict[tuple[int, date], list[Interval]] = defaultdict(list)
    phoneless: dict[tuple[int, date], list[Interval]] = defaultdict(list)
    unclosed: set[tuple[int, date]] = set()
    for person_id, started_at, ended_at, _name, _category, start_kind in periods:
        start = started_at.timestamp()
        day = started_at.astimezone(zone).date()
        midnight = days.bounds(day)[1]
        end = ended_at.timestamp() if ended_at else FOREVER
        if end > midnight and now_ts > midnight:
            unclosed.add((person_id, day))
        duty[(person_id, day)].append((start, min(end, midnight, now_ts)))
        if start_kind == NO_PHONE:
            phoneless[(person_id, day)].append((start, min(end, midnight, now_ts)))

    rows = []
    for (person_id, day), intervals in duty.items():
        worked = _merge(intervals)
        total = sum(end - start for start, end in worked)
        if total <= 0:
            continue
        day_start, day_end = days.bounds(day)
        locked = deposits[person_id].between(day_start, day_end) if person_id in deposits else []
        agreed = [
            span for request in exceptions.get(person_id, ())
            if (span := request.on(day, days)) is not None
        ]
        by_deposit = _overlap(worked, locked)
        by_policy = _overlap(worked, _merge([*locked, *agreed]))
        covered = _overlap(worked, _merge([*locked, *agreed, *phoneless[(person_id, day)]]))
        uncovered = max(total - covered, 0.0)
        name, category = people[person_id]
        rows.append(PersonDay(
            day, person_id, name, category, _span(total), _span(by_deposit),
            _span(by_policy - by_deposit), _span(uncovered), uncovered <= grace.total_seconds(),
            (person_id, day) in unclosed))
    rows.sort(key=lambda r: (r.day, r.name, r.person_id))
    return Compliance(starts_on, ends_on, grace, rows)


def daily(session: Session, starts_on: date, ends_on: date, zone: tzinfo,
          now: datetime | None = None, grace: timedelta = GRACE) -> list[Tally]:
    return compute(session, starts_on, ends_on, zone, now, grace).days()


def weekly(session: Session, starts_on: date, ends_on: date, zone: tzinfo,
           now: datetime | None = None, grace: timedelta = GRACE) -> list[Tally]:
    return evidence(session, starts_on, ends_on, zone, now, grace).weeks()


def termly(session: Session, term: Term, zone: tzinfo, now: datetime | None = None,
           grace: timedelta = GRACE) -> Tally:
    return evidence(session, term.starts_on, term.ends_on, zone, now, grace).overall()


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


# --- weeks kept as totals ----------------------------------------------------------------------

def evidence(
    session: Session, starts_on: date, ends_on: date, zone: tzinfo,
    now: datetime | None = None, grace: timedelta = GRACE,
) -> Compliance:
    """What the reports show: ``compute``, with the weeks kept as totals (compliance_weeks) in
    place of their events. One query more than ``compute`` when nothing is kept."""
    result = compute(session, starts_on, ends_on, zone, now, grace)
    kept = kept_weeks(session, monday_of(starts_on), ends_on)
    if not kept:
        return result
    live = {monday_of(row.day) for row in result.person_days}
    used = [week for monday, week in sorted(kept.items())
            if use_kept_week(monday, starts_on, ends_on, monday in live)]
    if not used:
        return result
    return Compliance(starts_on, ends_on, grace, result.person_days,
                      [replace(week, kept_as_totals=week.starts_on not in live) for week in used])


def use_kept_week(monday: date, starts_on: date, ends_on: date, events_held: bool) -> bool:
    """Whether a week kept as totals counts in a range, in place of its events: when it lies
    wholly inside the range; or, once its events are gone, when the range holds its Monday
    (its totals cannot be clipped, and no week counts in two ranges that follow each other)."""
    if starts_on <= monday and monday + timedelta(days=6) <= ends_on:
        return True
    return not events_held and starts_on <= monday <= ends_on


def kept_weeks(session: Session, first_monday: date, last_day: date) -> dict[date, Tally]:
    """The weeks kept as totals from ``first_monday`` to ``last_day``, every category added up,
    by Monday."""
    rows = session.execute(
        select(ComplianceWeek.week_of, func.sum(ComplianceWeek.on_duty),
               func.sum(ComplianceWeek.compliant), func.sum(ComplianceWeek.with_exception))
        .where(ComplianceWeek.week_of >= first_monday, ComplianceWeek.week_of <= last_day)
        .group_by(ComplianceWeek.week_of)).all()
    return {monday: Tally(monday, monday + timedelta(days=6), int(on_duty), int(compliant),
                          int(with_exception))
            for monday, on_duty, compliant, with_exception in rows}


# --- loading ---------------------------------------------------------------------------------

class _Timeline:
    """A person's phones in lockers: merged intervals, so both starts and ends are sorted."""

    def __init__(self, intervals: Iterable[Interval]) -> None:
        self.intervals = _merge(intervals)
        self.ends = [end for _, end in self.intervals]
        self.starts = [start for start, _ in self.intervals]

    def between(self, lo: float, hi: float) -> list[Interval]:
        first = bisect_right(self.ends, lo)
        last = bisect_left(self.starts, hi)
        return [(max(s, lo), min(e, hi)) for s, e in self.intervals[first:last]]


def _deposit_timelines(session: Session, person_ids: Iterable[int], first: datetime,
                       last: datetime) -> dict[int, _Timeline]:
    wanted = set(person_ids)
    rows = session.execute(
        select(Device.owner_id, Deposit.deposited_at, Deposit.collected_at)
        .join(Device, Deposit.device_id == Device.id)
        .where(Deposit.deposited_at < last,
               or_(Deposit.collected_at.is_(None), Deposit.collected_at > first))
    ).all()
    by_person: dict[int, list[Interval]] = defaultdict(list)
    for owner_id, deposited_at, collected_at in rows:
        if owner_id in wanted:
            end = collected_at.timestamp() if collected_at else FOREVER
            by_person[owner_id].append((deposited_at.timestamp(), end))
    return {person_id: _Timeline(spans) for person_id, spans in by_person.items()}


@dataclass(frozen=True)
class _InForce:
    """An exception's window, and when it was in force: from approval to revoke or expiry."""

    window: Window
    approved: float
    ended: float

    def on(self, day: date, days: _Days) -> Interval | None:
        window = self.window
        if not window.starts_on <= day <= window.ends_on:
            return None
        if str(day.weekday()) not in window.weekdays:
            return None
        day_start, day_end = days.bounds(day)
        start = days.at(day, window.day_from) if window.day_from else day_start
        end = days.at(day, window.day_until) if window.day_until else day_end
        start, end = max(start, self.approved), min(end, self.ended)
        return (start, end) if end > start else None


def in_force(request: ExceptionRequest) -> tuple[datetime, datetime | None] | None:
    """When an exception took effect and when it stopped (None: not yet); None if never.

    ``decided_at`` is overwritten by a revocation or an expiry, so the decisions say when: the
    approval that reached ``approvals_needed``, then the first revoke or expire.
    """
    approvals = sorted(d.at for d in request.decisions if d.action == "approve")
    if len(approvals) >= request.approvals_needed:
        approved = approvals[request.approvals_needed - 1]
    elif request.status == APPROVED and request.decided_at is not None:
        approved = request.decided_at  # made outside the decision log
    else:
        return None
    endings = [d.at for d in request.decisions if d.action in ("revoke", "expire")]
    return approved, min(endings) if endings else None


def _exception_spans(session: Session, person_ids: Iterable[int], starts_on: date,
                     ends_on: date) -> dict[int, list[_InForce]]:
    wanted = set(person_ids)
    requests = session.scalars(
        select(ExceptionRequest)
        .where(ExceptionRequest.status.in_((APPROVED, REVOKED, EXPIRED)),
               ExceptionRequest.starts_on <= ends_on, ExceptionRequest.ends_on >= starts_on)
        .options(selectinload(ExceptionRequest.decisions))
    )
    spans: dict[int, list[_InForce]] = defaultdict(list)
    for request in requests:
        if request.person_id not in wanted or (active := in_force(request)) is None:
            continue
        approved, ended = active
        spans[request.person_id].append(_InForce(
            Window.of(request), approved.timestamp(), ended.timestamp() if ended else FOREVER))
    return spans


# --- time and intervals ----------------------------------------------------------------------

class _Days:
    """Local midnights and wall-clock times as POSIX seconds, cached: days may be 23 or 25
    hours long."""

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self._bounds: dict[date, Interval] = {}

    def at(self, day: date, clock: time) -> float:
        return datetime.combine(day, clock, self.zone).timestamp()

    def bounds(self, day: date) -> Interval:
        if day not in self._bounds:
            self._bounds[day] = (self.at(day, time(0)), self.at(day + timedelta(days=1), time(0)))
        return self._bounds[day]


def _instant(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _span(seconds: float) -> timedelta:
    return timedelta(seconds=round(seconds))


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _overlap(a: Sequence[Interval], b: Sequence[Interval]) -> float:
    """Seconds in both of two merged, sorted interval lists."""
    total, i, j = 0.0, 0, 0
    while i < len(a) and j < len(b):
        low, high = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if high > low:
            total += high - low
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total
