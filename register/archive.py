"""Weekly totals kept before the events behind them are purged: counts only, no names.

The policy report and the office's summaries show compliance week by week and exception
requests week by week; the retention purge (register/purge.py) removes the duty periods,
deposits and requests those figures come from, and forgets people who have left. So that next
year's annual review, and an inspector, still see the trend, the purge first keeps each
complete week's figures:

- ``compliance_weeks``: staff-days per week per stakeholder category (on duty, met the policy,
  relied on an exception), as ``register.compliance.compute`` counts them.
- ``exception_weeks``: requests made per week per exception category, by outcome (the policy
  report's columns, ``register.policy_report.Outcomes``).

A week is complete once it has ended and a day more has passed: a kiosk's queued scans may
arrive up to a day late (``scans.MAX_SCAN_AGE``). Its compliance figures are kept then. Its
exception counts are kept once every request made in it is settled (declined, revoked, or its
window has ended: run to its end, or not decided in time), so that "still agreed" is never
kept for a request that later runs out; or sooner, when the purge is about to remove one of
its requests. A week already kept is left as it is: the figures are the week's evidence,
whoever leaves afterwards.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from register import compliance, policy_report
from register.db import insert_unless_present
from register.exception_requests import DECLINED, EXPIRED, REVOKED, Window
from register.models import (
    ComplianceWeek,
    DutyPeriod,
    ExceptionRequest,
    ExceptionWeek,
)
from register.scans import MAX_SCAN_AGE

WEEKS_AT_ONCE = 13  # compliance is computed a term at a time: a first purge may see years
SETTLED = (DECLINED, REVOKED, EXPIRED)


@dataclass(frozen=True)
class Archived:
    """The weeks kept (or, in a dry run, that would be), by Monday."""

    compliance_weeks: list[date]
    exception_weeks: list[date]

    def describe(self, dry_run: bool = False) -> str:
        verb = "would keep" if dry_run else "kept"
        if not self.compliance_weeks and not self.exception_weeks:
            return f"{verb} no more weeks as totals"
        return (f"{verb} {_weeks(len(self.compliance_weeks))} of compliance figures and "
                f"{_weeks(len(self.exception_weeks))} of exception counts, as totals")


def _weeks(count: int) -> str:
    return f"{count} week{'' if count == 1 else 's'}"


def first_open_monday(now: datetime, zone: tzinfo) -> date:
    """The Monday of the first week not complete yet: the weeks before it ended a day ago."""
    return compliance.monday_of((now - MAX_SCAN_AGE).astimezone(zone).date())


def archive(session: Session, now: datetime, zone: tzinfo,
            removing_requests: Collection[int] = (), dry_run: bool = False) -> Archived:
    """Keep the totals of every complete week not kept yet, in the caller's transaction (in a
    dry run, only say which). ``removing_requests``: requests about to be purged, whose weeks
    are kept now even if not every request in them is settled."""
    before = first_open_monday(now, zone)
    return Archived(_keep_compliance(session, before, zone, now, dry_run),
                    _keep_exceptions(session, before, zone, now, set(removing_requests),
                                     dry_run))


# --- compliance --------------------------------------------------------------------------------

def _keep_compliance(session: Session, before: date, zone: tzinfo, now: datetime,
                     dry_run: bool) -> list[date]:
    earliest = session.scalar(select(func.min(DutyPeriod.started_at)))
    if earliest is None:
        return []
    first = compliance.monday_of(earliest.astimezone(zone).date())
    kept = set(session.scalars(select(ComplianceWeek.week_of).distinct()
                               .where(ComplianceWeek.week_of >= first)))
    mondays = [m for m in _mondays(first, before) if m not in kept]
    done = []
    for run in _runs(mondays):
        figures = compliance.compute(session, run[0], run[-1] + timedelta(days=6), zone, now)
        counts: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        for day in figures.person_days:
            count = counts[(compliance.monday_of(day.day), day.category)]
            count[0] += 1
            count[1] += day.compliant
            count[2] += day.by_exception > timedelta()
        for (monday, category), (on_duty, compliant, with_exception) in sorted(counts.items()):
            if not dry_run:
                insert_unless_present(session, ComplianceWeek, {
                    "week_of": monday, "category": category, "on_duty": on_duty,
                    "compliant": compliant, "with_exception": with_exception,
                }, ("week_of", "category"))
        done += sorted({monday for monday, _ in counts})
    return done


# --- exceptions --------------------------------------------------------------------------------

def _keep_exceptions(session: Session, before: date, zone: tzinfo, now: datetime,
                     removing: set[int], dry_run: bool) -> list[date]:
    made_at = session.scalars(select(ExceptionRequest.requested_at).where(
        ExceptionRequest.requested_at < _midnight(before, zone)))
    mondays = {compliance.monday_of(at.astimezone(zone).date()) for at in made_at}
    if not mondays:
        return []
    kept = set(session.scalars(select(ExceptionWeek.week_of).distinct()
                               .where(ExceptionWeek.week_of >= min(mondays))))
    done = []
    for monday in sorted(mondays - kept):
        made = list(session.scalars(
            select(ExceptionRequest)
            .where(ExceptionRequest.requested_at >= _midnight(monday, zone),
                   ExceptionRequest.requested_at < _midnight(monday + timedelta(weeks=1), zone))
            .options(selectinload(ExceptionRequest.decisions))))
        settled = all(_settled(request, now, zone) for request in made)
        if not settled and not any(request.id in removing for request in made):
            continue  # kept once every request in it is settled
        by_category: dict[str, policy_report.Outcomes] = defaultdict(policy_report.Outcomes)
        for request in made:
            by_category[request.category].add(_final_outcome(request, now, zone))
        if not dry_run:
            for category, outcomes in sorted(by_category.items()):
                insert_unless_present(session, ExceptionWeek, {
                    "week_of": monday, "category": category,
                    **{name: getattr(outcomes, name) for name in policy_report.OUTCOMES},
                }, ("week_of", "category"))
        done.append(monday)
    return done


def _settled(request: ExceptionRequest, now: datetime, zone: tzinfo) -> bool:
    """Nothing will change what became of it: decided against, ended early, or run out."""
    return request.status in SETTLED or Window.of(request).has_ended(now, zone)


def _final_outcome(request: ExceptionRequest, now: datetime, zone: tzinfo,
                   ) -> policy_report.Outcome:
    """What became of it, counting a window that has ended as expired even if nothing has
    marked it so yet (``exception_requests.expire_due`` runs when SLT's pages are open)."""
    outcome = policy_report.Outcome.of(request)
    if request.status not in SETTLED and Window.of(request).has_ended(now, zone):
        return replace(outcome, status=EXPIRED)
    return outcome


# --- weeks -------------------------------------------------------------------------------------

def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), zone)


def _mondays(first: date, before: date) -> list[date]:
    return [first + timedelta(weeks=n) for n in range(max(0, (before - first).days // 7))]


def _runs(mondays: list[date]) -> Iterator[list[date]]:
    """Consecutive Mondays, at most WEEKS_AT_ONCE at a time."""
    run: list[date] = []
    for monday in mondays:
        if run and (monday - run[-1] != timedelta(weeks=1) or len(run) == WEEKS_AT_ONCE):
            yield run
            run = []
        run.append(monday)
    if run:
        yield run
