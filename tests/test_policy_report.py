"""The termly policy report: exceptions by category and week, repeated requesters, decision
times, compliance by day (the fortnight of tests/test_compliance.py), its page and its audit."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk import slt_report
from kiosk.extensions import db
from register import policy_report
from register.models import AuditEvent, Device, User
from tests.conftest import FAST_HASH, pair_browser
from tests.test_compliance import AFTER, FIRST, LAST, LONDON, fortnight_rows, load_fortnight

REPORT = "/slt/report?period=custom&from=2026-10-19&to=2026-10-30"


def counts(outcomes: policy_report.Outcomes) -> tuple[int, ...]:
    return tuple(getattr(outcomes, name) for name in policy_report.OUTCOMES)


@pytest.fixture
def fortnight(session) -> None:
    load_fortnight(session, fortnight_rows())


@pytest.fixture
def report(session, fortnight) -> policy_report.PolicyReport:
    return policy_report.build(session, FIRST, LAST, LONDON, AFTER)


# --- the service -----------------------------------------------------------------------------

def test_exceptions_by_category(report):
    #  requested | approved: still agreed, ran to its end, revoked | declined, lapsed, pending
    by_category = {row.key: counts(row.outcomes) for row in report.categories}
    assert by_category == {
        "emergency": (3, 0, 3, 0, 0, 0, 0),
        "offsite": (1, 0, 0, 1, 0, 0, 0),
        "on_call": (1, 0, 1, 0, 0, 0, 0),
        "caring": (2, 0, 0, 0, 1, 0, 1),
        "other": (1, 0, 0, 0, 0, 1, 0),
    }
    assert counts(report.totals) == (8, 0, 4, 1, 1, 1, 1)
    assert report.totals.approved == 5
    for outcomes in [row.outcomes for row in report.categories] + [report.totals]:
        assert sum(outcomes.parts) == outcomes.requested  # the columns add up
    assert [row.label for row in report.categories][:2] == [
        "Family or medical emergency", "School trip or off-site duty"]


def test_exceptions_by_week_of_request(report):
    assert [(w.week_of, counts(w.outcomes)) for w in report.weeks] == [
        (date(2026, 10, 19), (4, 0, 3, 0, 1, 0, 0)),
        (date(2026, 10, 26), (4, 0, 1, 1, 0, 1, 1)),
    ]


def test_every_request_is_in_exactly_one_column():
    """Whatever the status says, with or without an approval in force: one column each."""
    outcomes = policy_report.Outcomes()
    statuses = ("pending", "approved", "declined", "revoked", "expired")
    for status in statuses:
        for approved in (True, False):
            outcomes.add(policy_report.Outcome(None, status, approved, None))  # type: ignore[arg-type]
    assert outcomes.requested == 10 and sum(outcomes.parts) == 10
    # Approved: still agreed (pending, approved, declined as recorded), ran to its end, revoked.
    assert (outcomes.agreed, outcomes.expired, outcomes.revoked) == (3, 1, 1)
    assert (outcomes.declined, outcomes.lapsed, outcomes.pending) == (2, 1, 2)
    assert outcomes.approved == 5


def test_repeated_requesters(session, fortnight):
    [alice] = policy_report.build(session, FIRST, LAST, LONDON, AFTER).requesters
    assert (alice.name, alice.category, alice.requests, alice.approved) == (
        "Alice Adams", "Staff", 4, 3)
    assert alice.by_category == {"emergency": 2, "offsite": 1, "caring": 1}
    two_or_more = policy_report.build(session, FIRST, LAST, LONDON, AFTER, min_requests=2)
    assert [(r.name, r.requests, r.by_category) for r in two_or_more.requesters] == [
        ("Alice Adams", 4, {"emergency": 2, "offsite": 1, "caring": 1}),
        ("Bob Brown", 2, {"on_call": 1, "caring": 1}),
        ("Carol Clark", 2, {"emergency": 1, "other": 1}),
    ]


def test_decision_times_are_medians_from_request_to_the_settling_decision(report):
    times = report.decision_times
    # Approvals after 30, 15, 10, 20 minutes and 14 h 30 (asked the evening before);
    # one decline after 30 minutes. Lapsed and pending requests have no decision time.
    assert times.decided == 6
    assert times.median == timedelta(minutes=25)
    assert times.median_approved == timedelta(minutes=20)
    assert times.median_declined == timedelta(minutes=30)
    assert (times.within_an_hour, times.undecided) == (5, 2)
    medians = {row.key: row.median_decision for row in report.categories}
    assert medians == {"emergency": timedelta(minutes=15), "offsite": timedelta(hours=14.5),
                       "on_call": timedelta(minutes=30), "caring": timedelta(minutes=30),
                       "other": None}


def test_compliance_by_day_is_the_compliance_computation(report):
    overall = report.compliance.overall()
    assert (overall.on_duty, overall.compliant, overall.rate) == (30, 27, 0.9)
    assert [d.starts_on.day for d in report.compliance.days() if d.gaps] == [22, 27, 29]
    assert report.records == 8 + 30


def test_a_range_counts_requests_made_in_it(session, fortnight):
    second_week = policy_report.build(session, date(2026, 10, 26), LAST, LONDON, AFTER)
    assert counts(second_week.totals) == (4, 0, 1, 1, 0, 1, 1)
    assert [w.week_of for w in second_week.weeks] == [date(2026, 10, 26)]
    empty = policy_report.build(session, date(2026, 8, 3), date(2026, 8, 9), LONDON, AFTER)
    assert counts(empty.totals) == (0,) * 7 and empty.decision_times.median is None
    assert empty.compliance.overall().rate is None


def test_viewing_is_audited_without_imeis(session, report):
    policy_report.record_access(session, report, "head", printed=True)
    session.commit()
    event = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "report.policy.print")).one()
    assert event.actor == "head" and event.subject == "report:policy"
    assert event.detail == "38 records; 2026-10-19 to 2026-10-30; 8 requests, 30 staff-days"
    assert_no_imei_in_audit(session)


def assert_no_imei_in_audit(session: Session) -> None:
    imeis = [imei for pair in session.execute(select(Device.imei, Device.imei2)) for imei in pair
             if imei]
    for detail in session.scalars(select(AuditEvent.detail)):
        assert not any(imei in detail for imei in imeis), detail


# --- the page --------------------------------------------------------------------------------

@pytest.fixture
def fortnight_app(app, monkeypatch):
    """The fortnight, with office, SLT and admin users, seen on Monday 2 November 2026."""
    with app.app_context(), Session(db.engine) as session:
        load_fortnight(session, fortnight_rows())
        for role in ("office", "slt", "admin"):
            session.add(User(username=role, password_hash=FAST_HASH, role=role))
        session.commit()
    monkeypatch.setattr(slt_report, "utc_now", lambda: AFTER)
    return app


@pytest.mark.parametrize(("user", "status"), [("slt", 200), ("admin", 200), ("office", 403)])
def test_who_reaches_the_report(client, auth, web_school, user, status):
    auth.login(user)
    assert client.get("/slt/report").status_code == status


def test_signed_out_and_kiosk_token_are_sent_to_sign_in(client, web_school):
    assert client.get("/slt/report").status_code == 302
    pair_browser(client)
    response = client.get("/slt/report",
                          headers={"Authorization": f"Bearer {web_school.staff_kiosk_token}"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_page_shows_the_figures(client, auth, fortnight_app):
    auth.login("slt")
    response = client.get(REPORT)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert re.search(r'id="overall-rate">90%<', page)
    assert "OFFICIAL-SENSITIVE: personal data" in page
    assert "19 October 2026 to 30 October 2026" in page
    text = squeeze(page)
    # The whole range, then a day with a gap, by week and by day.
    assert "Whole range 30 27 3 6 90%" in text
    assert "Thu 29 Oct 2026 3 2 1 1 66.7%" in text
    assert "Mon 19 Oct to Sun 25 Oct 15 14 1 3 93.3%" in text
    # Exceptions by category, the totals, the weeks, repeated requesters, decision times.
    assert "Family or medical emergency 3 0 3 0 0 0 0 15 min" in text
    assert "All 8 0 4 1 1 1 1 25 min" in text
    assert "Mon 26 Oct 2026 4 0 1 1 0 1 1" in text
    assert "Approved Declined Not decided in time Pending" in text  # one column each
    assert ("Alice Adams Staff 4 3 Family or medical emergency: 2; School trip or off-site "
            "duty: 1; Caring responsibility: 1") in text
    assert "Carol Clark Staff 10 1 4 h 00 min" in text  # people with gaps
    assert "Median time from request to decision 25 min" in text
    # Two charts, drawn inline: no scripts, no outside files.
    assert page.count("<svg viewBox=\"0 0 720 200\"") == 2
    assert "Thu 29 Oct: 2 of 3 (66.7%)" in page
    ours = page[page.index('<div class="report">'):]
    assert "<script" not in ours and "http" not in ours


def test_the_default_is_this_term_so_far(client, auth, fortnight_app):
    auth.login("slt")
    page = client.get("/slt/report").get_data(as_text=True)
    assert "Autumn term 2026" in page and "1 September 2026 to 2 November 2026" in page
    assert re.search(r'id="overall-rate">90%<', page)
    last = client.get("/slt/report?period=last-term").get_data(as_text=True)
    assert "Summer term 2026" in last and "0 exception requests" in squeeze(last)


def test_viewing_and_printing_are_audited(client, auth, fortnight_app):
    auth.login("slt")
    client.get(REPORT)
    printed = client.get(REPORT + "&print=1").get_data(as_text=True)
    assert "data-print-on-load" in printed  # print.js prints it once loaded
    with fortnight_app.app_context():
        events = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action.like("report.policy.%")).order_by(AuditEvent.id)).all()
        assert [(e.action, e.actor, e.detail) for e in events] == [
            ("report.policy.view", "slt",
             "38 records; 2026-10-19 to 2026-10-30; 8 requests, 30 staff-days"),
            ("report.policy.print", "slt",
             "38 records; 2026-10-19 to 2026-10-30; 8 requests, 30 staff-days"),
        ]
        assert all(e.at == AFTER for e in events)
        assert_no_imei_in_audit(db.session)


@pytest.mark.parametrize(("query", "message"), [
    ("period=custom&from=2026-10-30&to=2026-10-19", "The last day is before the first day."),
    ("period=custom&from=yesterday&to=2026-10-19", "Give the first day as a date"),
    ("period=custom&from=2025-01-01&to=2026-10-19", "Choose at most 400 days"),
    ("min=1", "between 2 and 50"),
    ("period=forever", "Choose one of the periods offered."),
])
def test_a_bad_range_is_explained(client, auth, web_school, query, message):
    auth.login("slt")
    response = client.get(f"/slt/report?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_the_slt_nav_links_to_the_report(client, auth, web_school):
    auth.login("admin")
    assert 'href="/slt/report">SLT: policy report</a>' in client.get("/office/").get_data(
        as_text=True)


def test_presentation_helpers():
    assert slt_report.percent(None) == "\u2013"
    assert slt_report.percent(1.0) == "100%"
    assert slt_report.percent(0.9996) == "99.9%"  # never rounded up to a perfect score
    assert slt_report.percent(0.99949) == "99.9%"
    assert slt_report.percent(2 / 3) == "66.7%"
    assert slt_report.percent(0.9) == "90%"
    assert slt_report.duration(timedelta(minutes=25)) == "25 min"
    assert slt_report.duration(timedelta(hours=14, minutes=30)) == "14 h 30 min"
    assert slt_report.duration(timedelta(days=3, hours=2)) == "3 days 2 h"
    assert slt_report.css_string('Zoë\'s "school" </style>') == (
        '"Zo\\eb \\27 s \\22 school\\22  \\3c \\2f style\\3e "')


def squeeze(page: str) -> str:
    """The page's text, tags removed and whitespace collapsed, for reading figures in order."""
    text = re.sub(r"<style.*?</style>|<svg.*?</svg>", " ", page, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", text).split())



def test_an_empty_range_says_so_in_the_chart(client, auth, web_school):
    auth.login("slt")
    page = client.get("/slt/report?start=2026-08-01&end=2026-08-14").data.decode()
    assert "No one was on duty in this range." in page
    assert page.count("<svg viewBox") >= 2  # both charts drawn by the one macro
