"""Weekly totals kept before the purge (register/archive.py), and the reports reading them: the
fortnight of tests/test_compliance.py (weeks of Mon 19 and Mon 26 October 2026) on both
databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from register import archive, compliance, exception_requests, policy_report
from register.models import (
    ComplianceWeek,
    DutyPeriod,
    ExceptionDecision,
    ExceptionRequest,
    ExceptionWeek,
    Person,
)
from tests.test_compliance import AFTER, FIRST, LAST, LONDON, fortnight_rows, load_fortnight
from tests.test_policy_report import counts

WEEK_1, WEEK_2 = date(2026, 10, 19), date(2026, 10, 26)
# Tuesday 3 November: both weeks ended, and a day more has passed.
LATER = datetime(2026, 11, 3, 5, 0, tzinfo=UTC)


@pytest.fixture
def fortnight(session) -> None:
    load_fortnight(session, fortnight_rows())


def kept_compliance(session) -> list[tuple[date, str, int, int, int]]:
    return [(w.week_of, w.category, w.on_duty, w.compliant, w.with_exception) for w in
            session.scalars(select(ComplianceWeek).order_by(ComplianceWeek.week_of))]


def kept_exceptions(session) -> dict[date, dict[str, tuple[int, ...]]]:
    weeks: dict[date, dict[str, tuple[int, ...]]] = {}
    for row in session.scalars(select(ExceptionWeek)):
        weeks.setdefault(row.week_of, {})[row.category] = tuple(
            getattr(row, name) for name in policy_report.OUTCOMES)
    return weeks


def test_a_week_is_kept_once_it_has_ended_and_a_day_has_passed(session, fortnight):
    # Monday 2 November, 09:00: the second week ended nine hours ago; a scan queued at a
    # kiosk on Sunday evening may still arrive.
    done = archive.archive(session, AFTER, LONDON)
    session.commit()
    assert done.compliance_weeks == [WEEK_1]
    assert kept_compliance(session) == [(WEEK_1, "staff", 15, 14, 3)]

    done = archive.archive(session, LATER, LONDON)
    session.commit()
    assert done.compliance_weeks == [WEEK_2]
    assert kept_compliance(session) == [(WEEK_1, "staff", 15, 14, 3),
                                        (WEEK_2, "staff", 15, 13, 3)]


def test_exception_counts_are_kept_by_category_and_outcome_once_settled(session, fortnight):
    archive.archive(session, LATER, LONDON)
    session.commit()
    # requested | still agreed, ran to its end, revoked | declined, not decided in time, pending
    assert kept_exceptions(session) == {
        WEEK_1: {"emergency": (2, 0, 2, 0, 0, 0, 0), "on_call": (1, 0, 1, 0, 0, 0, 0),
                 "caring": (1, 0, 0, 0, 1, 0, 0)},
        # Alice's request of Fri 30 for Mon 2 November still says pending, but its window
        # has ended: it is kept as not decided in time, which is what it became.
        WEEK_2: {"emergency": (1, 0, 1, 0, 0, 0, 0), "offsite": (1, 0, 0, 1, 0, 0, 0),
                 "other": (1, 0, 0, 0, 0, 1, 0), "caring": (1, 0, 0, 0, 0, 1, 0)},
    }


def test_a_week_with_a_request_still_in_force_waits_unless_the_request_is_going(
        session, fortnight):
    alice = session.scalar(select(Person).where(Person.name == "Alice Adams"))
    asked = datetime(2026, 10, 20, 10, 0, tzinfo=UTC)
    caring = ExceptionRequest(
        person_id=alice.id, category="caring", reason="r", starts_on=date(2026, 10, 20),
        ends_on=date(2026, 12, 18), status="approved", requested_at=asked, requested_by="t",
        requested_via="office", decided_at=asked + timedelta(hours=1))
    session.add(caring)
    session.flush()
    session.add(ExceptionDecision(request_id=caring.id, action="approve", at=caring.decided_at))
    session.commit()

    done = archive.archive(session, LATER, LONDON)
    session.commit()
    assert done.compliance_weeks == [WEEK_1, WEEK_2]
    assert done.exception_weeks == [WEEK_2]  # week 1 waits: "still agreed" may yet change
    done = archive.archive(session, LATER, LONDON, removing_requests={caring.id})
    session.commit()
    assert done.exception_weeks == [WEEK_1]
    assert kept_exceptions(session)[WEEK_1]["caring"] == (2, 1, 0, 0, 1, 0, 0)


def test_keeping_twice_changes_nothing(session, fortnight):
    archive.archive(session, LATER, LONDON)
    session.commit()
    before = (kept_compliance(session), kept_exceptions(session))
    again = archive.archive(session, LATER, LONDON)
    session.commit()
    assert again.compliance_weeks == [] and again.exception_weeks == []
    assert (kept_compliance(session), kept_exceptions(session)) == before


def test_a_dry_run_keeps_nothing(session, fortnight):
    done = archive.archive(session, LATER, LONDON, dry_run=True)
    assert done.compliance_weeks == [WEEK_1, WEEK_2] and len(done.exception_weeks) == 2
    assert done.describe(dry_run=True) == ("would keep 2 weeks of compliance figures and "
                                           "2 weeks of exception counts, as totals")
    session.commit()
    assert kept_compliance(session) == [] and kept_exceptions(session) == {}


# --- the reports read them -------------------------------------------------------------------

def test_a_kept_week_counts_by_its_totals_even_when_its_people_are_gone(session, fortnight):
    archive.archive(session, LATER, LONDON)
    session.commit()
    live = compliance.compute(session, FIRST, LAST, LONDON, LATER)
    # Someone in week 1 leaves and is forgotten: their duty goes, the week's figures stay.
    session.execute(delete(DutyPeriod).where(DutyPeriod.started_at < datetime(
        2026, 10, 20, tzinfo=UTC)))
    session.commit()
    shown = compliance.evidence(session, FIRST, LAST, LONDON, LATER)
    assert [(w.starts_on, w.on_duty, w.compliant, w.kept_as_totals) for w in shown.weeks()] \
        == [(WEEK_1, 15, 14, False), (WEEK_2, 15, 13, False)]
    assert shown.overall().on_duty == live.overall().on_duty == 30
    assert len(shown.days()) == len(live.days()) - 1  # days come from the events held


def test_a_week_partly_in_the_range_counts_from_its_events_while_they_are_held(
        session, fortnight):
    archive.archive(session, LATER, LONDON)
    session.commit()
    wednesday_on = compliance.evidence(session, date(2026, 10, 21), LAST, LONDON, LATER)
    assert [(w.starts_on, w.on_duty) for w in wednesday_on.weeks()] == [
        (date(2026, 10, 21), 9), (WEEK_2, 15)]  # Wed to Fri clipped; the whole week kept


def test_the_policy_report_shows_kept_weeks_when_the_events_are_gone(session, fortnight):
    exception_requests.expire_due(session, LONDON, LATER)  # as SLT's pages would have
    session.commit()
    before = policy_report.build(session, FIRST, LAST, LONDON, LATER)
    archive.archive(session, LATER, LONDON)
    for table in ("exception_decisions", "exception_requests", "deposit_doors", "deposits",
                  "duty_periods"):
        session.execute(delete(ExceptionRequest.metadata.tables[table]))
    session.commit()

    after = policy_report.build(session, FIRST, LAST, LONDON, LATER)
    assert after.totals_only
    assert [(w.week_of, counts(w.outcomes), w.kept_as_totals) for w in after.weeks] == [
        (w.week_of, counts(w.outcomes), True) for w in before.weeks]
    assert {r.key: counts(r.outcomes) for r in after.categories} == {
        r.key: counts(r.outcomes) for r in before.categories}
    assert counts(after.totals) == counts(before.totals)
    assert [(w.on_duty, w.compliant, w.with_exception, w.kept_as_totals)
            for w in after.compliance.weeks()] == [(15, 14, 3, True), (15, 13, 3, True)]
    overall = after.compliance.overall()
    assert (overall.on_duty, overall.compliant, overall.rate) == (30, 27, 0.9)
    # What needs the people behind the figures is empty now.
    assert after.requesters == [] and after.compliance.days() == []
    assert after.decision_times.decided == 0
    # The term's figure too, as the office's summaries show it.
    term = compliance.termly(session, compliance.Term("autumn", 2026), LONDON, LATER)
    assert (term.on_duty, term.compliant) == (30, 27)


def test_a_gone_week_partly_in_a_range_counts_whole_where_its_monday_is(session, fortnight):
    archive.archive(session, LATER, LONDON)
    session.execute(delete(DutyPeriod))
    session.commit()
    tuesday_on = compliance.evidence(session, date(2026, 10, 20), date(2026, 10, 28), LONDON,
                                     LATER)
    # Week 1's Monday is before the range: it belongs to the range before. Week 2's is in it.
    assert [(w.starts_on, w.ends_on, w.on_duty) for w in tuesday_on.weeks()] == [
        (WEEK_2, WEEK_2 + timedelta(days=6), 15)]


def test_nothing_kept_leaves_the_reports_as_they_were(session, fortnight):
    shown = compliance.evidence(session, FIRST, LAST, LONDON, LATER)
    assert shown.kept_weeks == [] and not policy_report.build(
        session, FIRST, LAST, LONDON, LATER).totals_only
