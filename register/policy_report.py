"""The termly evidence report for the annual review of the phone policy.

How exceptions were asked for and decided, and how well the policy was met day by day:

- **Exceptions by category and by week.** Every request *made* in the range is counted once,
  in the week it was made, in exactly one column, by what became of it: approved and still
  agreed, approved and ran to its end, approved and revoked early, declined, not decided in
  time (nobody decided before its window ended), or still pending. The columns add up to the
  requests; approved is the first three.
- **Compliance by day**: from ``register.compliance``, the same computation as the office's
  weekly and termly summaries.
- **Repeated requesters**: people with at least ``min_requests`` requests in the range, with
  their counts by category.
- **Decision times**: from the request to the decision that settled it (the approval that put
  it into force, or the decline); medians, because one request left over a weekend should not
  drown the rest.

**Weeks kept as totals.** Before the retention purge removes requests, each complete week's
requests are kept in ``exception_weeks`` by category and outcome, counts only
(register/archive.py). A kept week counts by those totals in place of its requests, by the same
rule as ``compliance.evidence``; repeated requesters and decision times need the requests
themselves, so they cover only the requests still held.

Viewing or printing the report is written to the audit trail: who, when, which report, the
range and how many records; the report holds no IMEIs, and neither does its audit entry.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from register import audit, compliance
from register.exception_requests import (
    CATEGORIES,
    DECLINED,
    EXPIRED,
    REVOKED,
)
from register.models import AuditEvent, ExceptionRequest, ExceptionWeek, utc_now

NAME = "policy"  # the report's name in the audit trail
MIN_REQUESTS = 3
# The columns of the exceptions tables, in order: after "requested", they partition it.
OUTCOMES = ("requested", "agreed", "expired", "revoked", "declined", "lapsed", "pending")


@dataclass
class Outcomes:
    """Requests made in a span, by what became of each."""

    requested: int = 0
    agreed: int = 0  # approved, and still in force (or yet to start)
    expired: int = 0  # approved, and ran to the end of its window
    revoked: int = 0  # approved, then ended early by SLT
    declined: int = 0
    lapsed: int = 0  # never decided: its window ended while pending
    pending: int = 0  # not decided yet

    def merge(self, other: Outcomes) -> None:
        """Add another span's counts (a week kept as totals) to these."""
        for name in OUTCOMES:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def add(self, outcome: Outcome) -> None:
        """Into exactly one column, whatever the status says, so the columns add up."""
        self.requested += 1
        if outcome.approved:
            self.revoked += outcome.status == REVOKED
            self.expired += outcome.status == EXPIRED
            self.agreed += outcome.status not in (REVOKED, EXPIRED)
        else:
            self.declined += outcome.status in (DECLINED, REVOKED)
            self.lapsed += outcome.status == EXPIRED
            self.pending += outcome.status not in (DECLINED, REVOKED, EXPIRED)

    @property
    def approved(self) -> int:
        """Put into force at some time: still agreed, ran to its end, or revoked."""
        return self.agreed + self.expired + self.revoked

    @property
    def parts(self) -> tuple[int, ...]:
        """The columns that partition the requests: they sum to ``requested``."""
        return (self.agreed, self.expired, self.revoked, self.declined, self.lapsed,
                self.pending)


@dataclass(frozen=True)
class Outcome:
    """One request: its status now, whether it was ever in force, and when it was settled."""

    request: ExceptionRequest
    status: str
    approved: bool
    decided_at: datetime | None  # the approval in force, or the decline

    @property
    def decision_time(self) -> timedelta | None:
        if self.decided_at is None:
            return None
        return self.decided_at - self.request.requested_at

    @classmethod
    def of(cls, request: ExceptionRequest) -> Outcome:
        active = compliance.in_force(request)
        if active is not None:
            return cls(request, request.status, True, active[0])
        declined = next((d.at for d in request.decisions if d.action == "decline"), None)
        return cls(request, request.status, False, declined)


@dataclass(frozen=True)
class CategoryRow:
    key: str
    label: str
    outcomes: Outcomes
    median_decision: timedelta | None


@dataclass(frozen=True)
class WeekRow:
    week_of: date  # Monday
    outcomes: Outcomes
    kept_as_totals: bool = False  # its requests are purged: only its totals are left


@dataclass(frozen=True)
class Requester:
    person_id: int
    name: str
    category: str  # the person's stakeholder category label
    requests: int
    approved: int
    by_category: dict[str, int]  # exception category key -> requests


@dataclass(frozen=True)
class DecisionTimes:
    decided: int  # requests settled by an SLT decision
    median: timedelta | None
    median_approved: timedelta | None
    median_declined: timedelta | None
    within_an_hour: int
    undecided: int  # lapsed or still pending


@dataclass
class PolicyReport:
    starts_on: date
    ends_on: date
    generated_at: datetime
    min_requests: int
    totals: Outcomes
    categories: list[CategoryRow]
    weeks: list[WeekRow]
    requesters: list[Requester]
    decision_times: DecisionTimes
    compliance: compliance.Compliance
    requests: list[ExceptionRequest] = field(repr=False, default_factory=list)

    @property
    def records(self) -> int:
        """What the report drew on: requests and staff-days (for the audit trail)."""
        return len(self.requests) + len(self.compliance.person_days)

    @property
    def span(self) -> str:
        return f"{self.starts_on.isoformat()} to {self.ends_on.isoformat()}"

    @property
    def totals_only(self) -> bool:
        """Some weeks are counted from totals kept after their events were purged."""
        return bool(self.compliance.totals_only) or any(w.kept_as_totals for w in self.weeks)


def build(
    session: Session, starts_on: date, ends_on: date, zone: tzinfo,
    now: datetime | None = None, min_requests: int = MIN_REQUESTS,
    grace: timedelta = compliance.GRACE,
) -> PolicyReport:
    """The report for requests made, and duty done, from ``starts_on`` to ``ends_on``."""
    now = now or utc_now()
    first = datetime.combine(starts_on, time(0), zone)
    after = datetime.combine(ends_on + timedelta(days=1), time(0), zone)
    requests = list(session.scalars(
        select(ExceptionRequest)
        .where(ExceptionRequest.requested_at >= first, ExceptionRequest.requested_at < after)
        .options(selectinload(ExceptionRequest.decisions),
                 selectinload(ExceptionRequest.person))
        .order_by(ExceptionRequest.requested_at, ExceptionRequest.id)))
    outcomes = [Outcome.of(r) for r in requests]

    totals = Outcomes()
    by_category: dict[str, Outcomes] = {key: Outcomes() for key in CATEGORIES}
    times: dict[str, list[timedelta]] = defaultdict(list)
    by_week: dict[date, Outcomes] = {monday: Outcomes() for monday in _mondays(starts_on, ends_on)}
    held = {compliance.monday_of(r.requested_at.astimezone(zone).date()) for r in requests}
    kept = {monday: week for monday, week in
            kept_weeks(session, compliance.monday_of(starts_on), ends_on).items()
            if compliance.use_kept_week(monday, starts_on, ends_on, monday in held)}
    for outcome in outcomes:
        request = outcome.request
        if outcome.decision_time is not None:
            times[request.category].append(outcome.decision_time)
        monday = compliance.monday_of(request.requested_at.astimezone(zone).date())
        if monday in kept:
            continue  # counted by the week's kept totals
        totals.add(outcome)
        by_category.setdefault(request.category, Outcomes()).add(outcome)
        by_week[monday].add(outcome)
    for monday, week in kept.items():
        for key, counts in week.items():
            totals.merge(counts)
            by_category.setdefault(key, Outcomes()).merge(counts)
            by_week[monday].merge(counts)

    categories = [
        CategoryRow(key, CATEGORIES.get(key, key), counts, _median(times[key]))
        for key, counts in by_category.items()
    ]
    return PolicyReport(
        starts_on=starts_on, ends_on=ends_on, generated_at=now, min_requests=min_requests,
        totals=totals, categories=categories,
        weeks=[WeekRow(monday, counts, monday in kept and monday not in held)
               for monday, counts in sorted(by_week.items())],
        requesters=_repeated(outcomes, min_requests),
        decision_times=_decision_times(outcomes),
        compliance=compliance.evidence(session, starts_on, ends_on, zone, now, grace),
        requests=requests,
    )


def kept_weeks(session: Session, first_monday: date, last_day: date,
               ) -> dict[date, dict[str, Outcomes]]:
    """The weeks kept as totals (exception_weeks) from ``first_monday`` to ``last_day``: by
    Monday, each category's counts."""
    rows = session.scalars(select(ExceptionWeek).where(ExceptionWeek.week_of >= first_monday,
                                                       ExceptionWeek.week_of <= last_day))
    weeks: dict[date, dict[str, Outcomes]] = defaultdict(dict)
    for row in rows:
        weeks[row.week_of][row.category] = Outcomes(
            **{name: getattr(row, name) for name in OUTCOMES})
    return weeks


def record_access(session: Session, report: PolicyReport, actor: str, printed: bool = False,
                  at: datetime | None = None) -> AuditEvent:
    """Who viewed or printed the report, for which range, and how much it held."""
    noun = "record" if report.records == 1 else "records"
    return audit.record(
        session, actor, f"report.{NAME}.{'print' if printed else 'view'}", f"report:{NAME}",
        f"{report.records} {noun}; {report.span}; {len(report.requests)} requests, "
        f"{len(report.compliance.person_days)} staff-days", at=at)


def _repeated(outcomes: list[Outcome], min_requests: int) -> list[Requester]:
    by_person: dict[int, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_person[outcome.request.person_id].append(outcome)
    result = []
    for person_id, mine in by_person.items():
        if len(mine) < min_requests:
            continue
        person = mine[0].request.person
        counts = Counter(o.request.category for o in mine)
        result.append(Requester(
            person_id, person.name, person.category_label, len(mine),
            sum(o.approved for o in mine),
            {key: counts[key] for key in [*CATEGORIES, *counts] if counts[key]}))
    return sorted(result, key=lambda r: (-r.requests, r.name, r.person_id))


def _decision_times(outcomes: list[Outcome]) -> DecisionTimes:
    decided = [o for o in outcomes if o.decision_time is not None]
    every = [o.decision_time for o in decided if o.decision_time is not None]
    return DecisionTimes(
        decided=len(decided),
        median=_median(every),
        median_approved=_median([o.decision_time for o in decided
                                 if o.approved and o.decision_time is not None]),
        median_declined=_median([o.decision_time for o in decided
                                 if not o.approved and o.decision_time is not None]),
        within_an_hour=sum(t <= timedelta(hours=1) for t in every),
        undecided=sum(not o.approved and o.status not in (DECLINED, REVOKED) for o in outcomes),
    )


def _median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=round(statistics.median(v.total_seconds() for v in values)))


def _mondays(starts_on: date, ends_on: date) -> list[date]:
    monday = starts_on - timedelta(days=starts_on.weekday())
    mondays = []
    while monday <= ends_on:
        mondays.append(monday)
        monday += timedelta(days=7)
    return mondays
