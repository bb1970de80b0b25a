"""The evidence pack (register/evidence.py, kiosk/evidence.py): its figures against the fortnight
of tests/test_compliance.py, with a policy, incidents and lock faults added; who reaches it; the
audit; the PDF read back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk import evidence as evidence_views
from kiosk.extensions import db
from register import evidence, policy
from register.models import AuditEvent, Incident, Kiosk, LockCommand, Person, User
from tests.conftest import FAST_HASH
from tests.pdf_tools import flat, reader
from tests.test_compliance import AFTER, FIRST, LAST, LONDON, at, fortnight_rows, load_fortnight
from tests.test_policy_report import assert_no_imei_in_audit, squeeze

PERIOD = "period=custom&from=2026-10-19&to=2026-10-30"


def add_the_rest(session: Session) -> None:
    """A policy acknowledged by two people; incidents in and out of the fortnight; lock
    commands that failed or worked, in and out of it."""
    version = policy.publish_version(session, "Mobile phone policy", "2026.1", "2026-09-01",
                                     "Phones in lockers on duty.", "The whole text.", "head",
                                     now=datetime(2026, 9, 1, 8, tzinfo=UTC))
    for person in session.scalars(select(Person).order_by(Person.id).limit(2)):
        policy.acknowledge(session, person, version, "office", "office",
                           now=datetime(2026, 9, 2, 8, tzinfo=UTC))
    for kind, day, status in [("used_on_duty", 20, "closed"), ("used_on_duty", 27, "open"),
                              ("locker_fault", 22, "closed"), ("refused_deposit", 12, "closed")]:
        session.add(Incident(kind=kind, occurred_at=at(day, 10), what_happened="Seen.",
                             reported_by="Head", status=status))
    kiosk = session.scalars(select(Kiosk).order_by(Kiosk.id)).first()
    assert kiosk is not None
    for day, ok in [(21, False), (28, False), (28, True), (31, False)]:
        session.add(LockCommand(kiosk_id=kiosk.id, locker_number=1, purpose="deposit",
                                created_at=at(day, 9), ok=ok))
    session.commit()


@pytest.fixture
def pack(session) -> evidence.EvidencePack:
    load_fortnight(session, fortnight_rows())
    add_the_rest(session)
    return evidence.build(session, FIRST, LAST, LONDON, AFTER)


def test_the_policy_and_its_coverage(session, pack):
    assert pack.policy_version is not None and pack.policy_version.version == "2026.1"
    active = session.scalar(select(func.count(Person.id)).where(Person.active))
    assert (pack.coverage.total.people, pack.coverage.total.acknowledged) == (active, 2)


def test_compliance_by_week_is_the_compliance_computation(pack):
    assert [(w.starts_on, w.on_duty, w.compliant) for w in pack.weeks] == [
        (date(2026, 10, 19), 15, 14), (date(2026, 10, 26), 15, 13)]
    assert (pack.overall.on_duty, pack.overall.compliant, pack.overall.rate) == (30, 27, 0.9)


def test_exceptions_by_category_and_outcome(pack):
    by_category = {row.key: row.outcomes.requested for row in pack.exceptions}
    assert by_category["emergency"] == 3 and by_category["caring"] == 2
    totals = pack.exception_totals
    assert (totals.requested, totals.approved, totals.declined, totals.pending) == (8, 5, 1, 1)


def test_incidents_by_kind_and_outcome_in_the_period(pack):
    rows = {row.kind: (row.open, row.closed) for row in pack.incidents}
    assert rows["used_on_duty"] == (1, 1)
    assert rows["locker_fault"] == (0, 1)
    assert rows["refused_deposit"] == (0, 0)  # 12 October: before the period
    assert pack.incidents_total.total == 3


def test_lock_faults_in_the_period_by_kiosk(pack):
    assert [(row.kiosk, row.failed) for row in pack.faults] == [("Staff kiosk", 2)]
    # Commands are kept a day: on 2 November, the pack cannot vouch for October's.
    assert not pack.faults_cover_the_period


def test_viewing_is_audited_with_counts_only(session, pack):
    evidence.record_access(session, pack, "head", printed=True)
    session.commit()
    event = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "report.evidence.print")).one()
    assert event.subject == "report:evidence"
    assert event.detail == ("2026-10-19 to 2026-10-30; 30 staff-days, 8 requests, "
                            "3 incidents, 2 lock faults")
    assert_no_imei_in_audit(session)


# --- the page and the PDF --------------------------------------------------------------------

@pytest.fixture
def pack_app(app, monkeypatch):
    with app.app_context(), Session(db.engine) as session:
        load_fortnight(session, fortnight_rows())
        add_the_rest(session)
        for role in ("office", "slt", "admin"):
            session.add(User(username=role, password_hash=FAST_HASH, role=role))
        session.commit()
    monkeypatch.setattr(evidence_views, "utc_now", lambda: AFTER)
    return app


@pytest.mark.parametrize(("user", "status"), [("slt", 200), ("admin", 200), ("office", 403)])
def test_who_reaches_the_pack(client, auth, web_school, user, status):
    auth.login(user)
    assert client.get("/reports/evidence").status_code == status
    assert client.get("/reports/evidence.pdf").status_code == status


def test_the_page_shows_the_figures(client, auth, pack_app):
    auth.login("slt")
    response = client.get(f"/reports/evidence?{PERIOD}")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "OFFICIAL-SENSITIVE" in page and "printed by slt at" in page
    text = squeeze(page)
    assert "Mobile phone policy, version 2026.1" in text
    assert "Mon 19 Oct to Sun 25 Oct 2026 15 14 93.3%" in text
    assert "The whole period 30 27 90%" in text
    assert "Phone used on duty 1 1 2" in text
    assert "Staff kiosk 2" in text
    assert "Lock faults are kept for a day" in text
    assert "All 8 0 4 1 1 1 1" in text


def test_the_default_is_this_term_and_a_bad_range_is_explained(client, auth, pack_app):
    auth.login("slt")
    page = client.get("/reports/evidence").get_data(as_text=True)
    assert "Autumn term 2026" in page and "1 September 2026 to 2 November 2026" in page
    bad = client.get("/reports/evidence?period=custom&from=2026-10-30&to=2026-10-19")
    assert bad.status_code == 400
    assert "The last day is before the first day." in bad.get_data(as_text=True)


def test_the_pdf_parses_and_printing_is_audited(client, auth, pack_app):
    auth.login("admin")
    client.get(f"/reports/evidence?{PERIOD}&print=1")
    response = client.get(f"/reports/evidence.pdf?{PERIOD}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = flat(" ".join(page.extract_text() for page in reader(response.data).pages))
    assert "OFFICIAL-SENSITIVE" in text and "Phone policy evidence pack" in text
    assert "Compliance by week" in text and "Incidents by kind and outcome" in text
    assert "by admin" in text
    # How to treat the paper: counts for the review, not a subject access export.
    assert "no names: for the annual review" in text and "give it only to the person" not in text
    with pack_app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).where(
            AuditEvent.action.like("report.evidence.%")).order_by(AuditEvent.id)).all()
        assert actions == ["report.evidence.print", "report.evidence.print"]
        assert_no_imei_in_audit(db.session)


def test_the_reports_index_links_to_it_for_slt_only(client, auth, web_school):
    auth.login("slt")
    assert "/reports/evidence" in client.get("/reports/").get_data(as_text=True)
    client.get("/logout")
    auth.login("office")
    assert "/reports/evidence" not in client.get("/reports/").get_data(as_text=True)


def test_a_period_with_nothing_says_so(session):
    empty = evidence.build(session, date(2026, 8, 3), date(2026, 8, 9), LONDON,
                           AFTER - timedelta(days=90))
    assert empty.weeks == [] and empty.incidents_total.total == 0 and empty.faults == []
    assert empty.policy_version is None
