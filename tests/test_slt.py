"""The SLT tablet through Flask's test client: who may decide, and each decision's path."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from kiosk.extensions import db
from kiosk.requests import parse_window
from register import exception_requests, people, settings
from register.db import unit_of_work
from register.errors import ValidationError
from register.exception_requests import Window
from register.models import (
    AuditEvent,
    DutyPeriod,
    ExceptionDecision,
    ExceptionRequest,
    Person,
    User,
    utc_now,
)
from tests.conftest import FAST_HASH, pair_browser

LONDON = ZoneInfo("Europe/London")


def today() -> date:
    return utc_now().astimezone(LONDON).date()


def two_days() -> Window:
    """Whole days, today and tomorrow: never ends while a test runs, whatever the hour."""
    return Window(today(), today() + timedelta(days=1))


@pytest.fixture
def leaders(app, web_school):
    """``slt`` is Carol Clark (a stakeholder too); ``deputy`` is a second SLT member."""
    with app.app_context(), Session(db.engine) as session:
        session.scalars(select(User).where(User.username == "slt")).one().person_id = \
            web_school.carol.id
        session.add(User(username="deputy", password_hash=FAST_HASH, role="slt"))
        session.commit()


def ask(app, person_id: int, category: str = "emergency", window: Window | None = None,
        now: datetime | None = None, reason: str = "Child in hospital") -> int:
    with app.app_context(), Session(db.engine) as session:
        request = exception_requests.request_exception(
            session, session.get_one(Person, person_id), category, reason,
            window or two_days(), "kiosk:Staff kiosk", "kiosk", LONDON, now)
        session.commit()
        return request.id


def state(app, request_id: int) -> tuple[str, list[tuple[str, str]]]:
    """The request's status, and its decisions as (action, username)."""
    with app.app_context(), Session(db.engine) as session:
        request = session.get_one(ExceptionRequest, request_id)
        return request.status, [(d.action, d.user.username if d.user else "system")
                                for d in request.decisions]


def page(client, url: str = "/slt/") -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


# --- who may see and decide ----------------------------------------------------------------

DECISIONS = ["/slt/requests/{id}/approve", "/slt/requests/{id}/decline",
             "/slt/exceptions/{id}/revoke"]


@pytest.mark.parametrize(("method", "url"), [
    ("GET", "/slt/"), ("GET", "/slt/pending.json"), *(("POST", url) for url in DECISIONS)])
def test_anonymous_users_are_sent_to_sign_in(client, app, web_school, method, url):
    request_id = ask(app, web_school.alice.id)
    response = client.open(url.format(id=request_id), method=method, data={"reason": "x"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert state(app, request_id) == ("pending", [])


@pytest.mark.parametrize("url", DECISIONS)
def test_office_cannot_decide(client, auth, app, web_school, url):
    request_id = ask(app, web_school.alice.id)
    auth.login("office")
    assert client.get("/slt/").status_code == 403
    assert client.get("/slt/pending.json").status_code == 403
    response = client.post(url.format(id=request_id), data={"reason": "Not needed"})
    assert response.status_code == 403
    assert state(app, request_id) == ("pending", [])


def test_the_kiosk_token_cannot_decide(client, app, web_school):
    """A kiosk is no user: its token, as a bearer header or the paired browser's cookie,
    gets the sign-in page like anyone else, and nothing is decided."""
    request_id = ask(app, web_school.alice.id)
    pair_browser(client)
    bearer = {"Authorization": f"Bearer {web_school.staff_kiosk_token}"}
    for url in (f"/slt/requests/{request_id}/approve", f"/slt/requests/{request_id}/decline"):
        response = client.post(url, data={"reason": "x"}, headers=bearer)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")
    assert client.get("/slt/pending.json", headers=bearer).status_code == 302
    assert state(app, request_id) == ("pending", [])


def test_admin_may_decide(client, auth, app, web_school):
    request_id = ask(app, web_school.alice.id)
    auth.login("admin")
    assert client.post(f"/slt/requests/{request_id}/approve").status_code == 302
    assert state(app, request_id) == ("approved", [("approve", "admin")])


# --- the page --------------------------------------------------------------------------------

def test_pending_requests_come_first_with_all_a_decision_needs(client, auth, app, web_school,
                                                                leaders):
    request_id = ask(app, web_school.alice.id)
    auth.login("deputy")
    html = page(client)
    assert "<title>(1) SLT · Test Primary School</title>" in html
    card = re.search(rf'<li class="card request" [^>]*data-request-id="{request_id}".*?</li>',
                     html, re.S).group(0)
    for text in ("Alice Adams", "Family or medical emergency", "Child in hospital",
                 two_days().describe(), "at Staff kiosk, today", "Needs 1 approval",
                 "Approve</button>", "Decline</button>", "Conditions"):
        assert text in card, text
    assert html.index("Waiting for a decision") < html.index("Agreed exceptions") \
        < html.index("On duty")


def test_an_empty_queue_says_so(client, auth, web_school):
    auth.login("slt")
    html = page(client)
    assert "<title>SLT · Test Primary School</title>" in html
    assert "Nothing is waiting for a decision." in html
    assert 'id="pending-empty" hidden' not in html


def test_an_slt_members_own_request_is_for_someone_else(client, auth, app, web_school, leaders):
    request_id = ask(app, web_school.carol.id)
    auth.login("slt")  # Carol
    card = re.search(r'data-request-id="\d+".*?</li>', page(client), re.S).group(0)
    assert "Another SLT member must decide this" in card
    assert "Approve</button>" not in card and "Decline</button>" not in card
    # Even a hand-made post is refused, plainly, and changes nothing.
    response = client.post(f"/slt/requests/{request_id}/approve", data={"conditions": "ok"})
    assert response.status_code == 422
    assert "Nobody decides their own request: ask another SLT member." in \
        response.get_data(as_text=True)
    assert state(app, request_id) == ("pending", [])


# --- decisions -------------------------------------------------------------------------------

def test_approve_with_conditions(client, auth, app, web_school, leaders):
    request_id = ask(app, web_school.alice.id)
    auth.login("deputy")
    response = client.post(f"/slt/requests/{request_id}/approve",
                           data={"conditions": "Silent, used only in the staff room"},
                           follow_redirects=True)
    html = response.get_data(as_text=True)
    assert f"Approved Alice Adams: {two_days().describe()}. Conditions: Silent, used only in " \
           "the staff room." in html
    assert "Nothing is waiting for a decision." in html
    agreed = re.search(r'<li class="card exception".*?</li>', html, re.S).group(0)
    assert "Alice Adams" in agreed and "Silent, used only in the staff room" in agreed
    assert "Agreed by" in agreed and "deputy, today" in agreed
    assert "In effect now" in agreed and "Revoke</button>" in agreed
    assert state(app, request_id) == ("approved", [("approve", "deputy")])
    with app.app_context():
        assert db.session.scalars(select(AuditEvent.actor).where(
            AuditEvent.action == "exception.approve")).all() == ["deputy"]


def test_decline_needs_a_reason(client, auth, app, web_school, leaders):
    request_id = ask(app, web_school.alice.id)
    auth.login("deputy")
    refused = client.post(f"/slt/requests/{request_id}/decline", data={"reason": "   "})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    card = re.search(rf'data-request-id="{request_id}".*?</li>', html, re.S).group(0)
    assert "Give a reason for declining: the person will be told." in card
    assert state(app, request_id) == ("pending", [])
    done = client.post(f"/slt/requests/{request_id}/decline",
                       data={"reason": "Cover is arranged"}, follow_redirects=True)
    assert "Declined Alice Adams&#39;s request." in done.get_data(as_text=True)
    assert state(app, request_id) == ("declined", [("decline", "deputy")])


def test_revoke_needs_a_reason_and_ends_the_exception(client, auth, app, web_school, leaders):
    request_id = ask(app, web_school.alice.id)
    auth.login("deputy")
    client.post(f"/slt/requests/{request_id}/approve")
    auth.logout()
    auth.login("slt")  # any SLT member may revoke
    refused = client.post(f"/slt/exceptions/{request_id}/revoke", data={"reason": ""})
    assert refused.status_code == 422
    assert "Give a reason for revoking it." in refused.get_data(as_text=True)
    done = client.post(f"/slt/exceptions/{request_id}/revoke",
                       data={"reason": "Situation resolved"}, follow_redirects=True)
    assert "Revoked Alice Adams&#39;s exception: it has ended." in done.get_data(as_text=True)
    assert state(app, request_id) == ("revoked", [("approve", "deputy"), ("revoke", "slt")])


def test_a_decision_on_a_request_decided_meanwhile_is_explained(client, auth, app, web_school,
                                                                leaders):
    request_id = ask(app, web_school.alice.id)
    auth.login("deputy")
    client.post(f"/slt/requests/{request_id}/decline", data={"reason": "Cover is arranged"})
    again = client.post(f"/slt/requests/{request_id}/approve")
    assert again.status_code == 422
    assert "This request is already declined." in again.get_data(as_text=True)
    assert client.post("/slt/requests/999/approve").status_code == 404


def test_two_approver_category_shows_progress(client, auth, app, web_school, leaders):
    with app.app_context(), unit_of_work(db.session()):
        settings.put(db.session, settings.SECOND_APPROVER_CATEGORIES, "caring", "admin")
    request_id = ask(app, web_school.alice.id, "caring")
    auth.login("deputy")
    assert "0 of 2 approvals" in page(client)
    first = client.post(f"/slt/requests/{request_id}/approve", follow_redirects=True)
    html = first.get_data(as_text=True)
    assert "Your approval of Alice Adams&#39;s request is recorded: it needs 1 more" in html
    assert "1 of 2 approvals" in html and "(approved by deputy)" in html
    assert "You have approved this: another SLT member must approve it too" in html
    assert state(app, request_id)[0] == "pending"
    auth.logout()
    auth.login("slt")
    card = re.search(rf'data-request-id="{request_id}".*?</li>', page(client), re.S).group(0)
    assert "1 of 2 approvals" in card and "Approve</button>" in card
    client.post(f"/slt/requests/{request_id}/approve")
    assert state(app, request_id) == ("approved", [("approve", "deputy"), ("approve", "slt")])


# --- polling ---------------------------------------------------------------------------------

def test_a_poll_answered_after_a_decision_does_not_lose_its_message(client, auth, app,
                                                                    web_school):
    """The tablet's poll may start before an approval and end after it, with the cookie it
    started with: sent back, that cookie would overwrite the one holding "Approved ..."."""
    request_id = ask(app, web_school.alice.id)
    auth.login("slt")
    cookie_before = client.get_cookie("session").value
    client.post(f"/slt/requests/{request_id}/approve")
    cookie_after = client.get_cookie("session").value
    client.set_cookie("session", cookie_before)
    polled = client.get("/slt/pending.json")  # the poll that started before the decision
    assert polled.status_code == 200 and "Set-Cookie" not in polled.headers
    client.set_cookie("session", cookie_after)  # the browser keeps the decision's cookie
    assert "Approved Alice Adams" in client.get("/slt/").get_data(as_text=True)


def test_the_poll_returns_new_pending_requests(client, auth, app, web_school):
    first = ask(app, web_school.alice.id)
    auth.login("slt")
    assert client.get("/slt/pending.json").json["count"] == 1
    second = ask(app, web_school.bob.id, reason="On call for the boiler repair")
    polled = client.get(f"/slt/pending.json?have={first}")
    assert polled.headers["Cache-Control"] == "no-store"
    body = polled.json
    assert body["count"] == 2
    assert body["title"] == "(2) SLT · Test Primary School"
    assert [r["id"] for r in body["requests"]] == [first, second]
    new = body["requests"][1]
    assert new["person"] == "Bob Brown"
    assert f'data-request-id="{second}"' in new["html"]
    assert "On call for the boiler repair" in new["html"] and "Approve</button>" in new["html"]
    client.get(f"/slt/pending.json?have={first},{second}")  # nothing new: nothing audited
    with app.app_context():
        shown = db.session.scalars(select(AuditEvent.detail).where(
            AuditEvent.action == "slt.requests.shown")).all()
    assert shown == [f"exception:{first}", f"exception:{second}"]


def test_the_slt_pages_expire_what_has_ended(client, auth, app, web_school):
    yesterday = today() - timedelta(days=1)
    ended = ask(app, web_school.alice.id, window=Window(yesterday, yesterday),
                now=utc_now() - timedelta(days=1))
    auth.login("slt")
    assert client.get("/slt/pending.json").json["count"] == 0
    assert state(app, ended) == ("expired", [("expire", "system")])
    assert "Nothing is waiting for a decision." in page(client)


# --- now -------------------------------------------------------------------------------------

def test_now_shows_who_is_on_duty_and_how_the_policy_is_met(client, auth, app, web_school,
                                                             leaders):
    scan = {"Authorization": f"Bearer {web_school.staff_kiosk_token}"}
    with app.app_context(), Session(db.engine) as session:
        deputy = session.scalars(select(User).where(User.username == "deputy")).one()
        for person in (web_school.bob, web_school.carol):
            request = exception_requests.request_exception(
                session, session.get_one(Person, person.id), "on_call", "Site on call",
                two_days(), "office", "office", LONDON)
            exception_requests.approve(session, request, deputy, "Silent")
        dan = people.add_person(session, people.PersonDetails(name="Dan Dale",
                                                              category="staff"), "test")
        session.flush()
        session.add(DutyPeriod(person_id=dan.id, started_at=utc_now(), start_kind="deposit"))
        session.commit()
    client.post("/api/v1/scan", headers=scan, json={"code": web_school.alice.badge_id})
    client.post("/api/v1/scan", headers=scan, json={"code": web_school.bob_phone.label_code})
    client.post("/api/v1/scan", headers=scan, json={"code": web_school.carol.badge_id})
    carol_request = state_ids(app, web_school.carol.id)
    auth.login("deputy")
    client.post(f"/slt/exceptions/{carol_request}/revoke", data={"reason": "Cover found"})
    html = page(client)
    now = html[html.index('id="now-title"'):]
    assert "Phone locked away: Staff room locker 1" in now  # two banks: which one
    assert "Exception until the end of the day, agreed by deputy" in now
    assert re.search(r"Due to deposit: exception revoked at \d\d:\d\d", now)
    assert "No phone locked away and no exception" in now
    words = " ".join(re.sub(r"<[^>]+>", " ", now).split())
    for figure in ("4 on duty", "1 phone in lockers", "1 exception in effect",
                   "2 gaps in compliance"):
        assert figure in words, figure
    # Gaps come first, each with words as well as colour.
    assert now.index("Carol Clark") < now.index("Alice Adams")
    assert now.index("Dan Dale") < now.index("Bob Brown")
    assert "1 (Staff room)" in now  # the phones table as before


def state_ids(app, person_id: int) -> int:
    with app.app_context(), Session(db.engine) as session:
        return session.scalars(select(ExceptionRequest.id).where(
            ExceptionRequest.person_id == person_id)).one()


# --- recording a request on someone's behalf -----------------------------------------------

def test_office_records_a_request_on_someones_behalf(client, auth, app, web_school):
    auth.login("office")
    found = page(client, "/requests/new?q=ali")
    assert f'/requests/new?person={web_school.alice.id}' in found
    assert "Bob Brown" not in found
    form = page(client, f"/requests/new?person={web_school.alice.id}")
    assert "For <strong>Alice Adams</strong>" in form
    first, last = today() + timedelta(days=1), today() + timedelta(days=3)
    response = client.post("/requests/new", data={
        "person_id": web_school.alice.id, "category": "offsite",
        "reason": "Leading the Year 6 trip", "when": "range",
        "range_from": first.isoformat(), "range_to": last.isoformat()})
    assert response.status_code == 302
    assert response.headers["Location"] == "/requests/new"
    assert "Request for Alice Adams sent to SLT" in page(client, "/requests/new")
    with app.app_context():
        request = db.session.scalars(select(ExceptionRequest)).one()
        assert (request.requested_via, request.requested_by, request.status) == \
            ("office", "office", "pending")
        assert Window.of(request) == Window(first, last)
    auth.logout()
    auth.login("slt")
    assert "through the office, recorded by office, today" in page(client)


def test_slt_records_a_weekly_request_and_returns_to_the_tablet(client, auth, app, web_school):
    auth.login("slt")
    response = client.post("/requests/new", data=MultiDict([
        ("person_id", web_school.bob.id), ("category", "on_call"),
        ("reason", "On call for the site"), ("when", "weekly"), ("weekly_days", "1"),
        ("weekly_days", "3"), ("weekly_from", today().isoformat()),
        ("weekly_to", (today() + timedelta(days=60)).isoformat()),
        ("weekly_start", "07:30"), ("weekly_end", "17:00")]))
    assert response.headers["Location"] == "/slt/"
    with app.app_context():
        request = db.session.scalars(select(ExceptionRequest)).one()
        assert (request.requested_via, request.weekdays) == ("slt", "13")
        assert (request.day_from, request.day_until) == (time(7, 30), time(17, 0))
    assert "Tuesdays and Thursdays" in page(client)


@pytest.mark.parametrize(("fields", "message"), [
    ({"category": "", "reason": "x", "when": "range"}, "Choose what the exception is for."),
    ({"category": "other", "reason": " ", "when": "range"}, "Say briefly why the phone is needed."),
    ({"category": "other", "reason": "x", "when": ""}, "Choose when the exception applies."),
    ({"category": "other", "reason": "x", "when": "today", "today_until": ""},
     "Enter the time it ends today"),
    ({"category": "other", "reason": "x", "when": "range", "range_to": "2020-01-01"},
     "The last day is before the first day."),
    ({"category": "other", "reason": "x", "when": "weekly", "weekly_to": "2099-01-01"},
     "Choose at least one day of the week."),
])
def test_a_request_form_with_a_problem_says_what(client, auth, app, web_school, fields, message):
    auth.login("office")
    data = {"person_id": web_school.alice.id, "range_from": today().isoformat(),
            "range_to": today().isoformat(), "weekly_from": today().isoformat(), **fields}
    response = client.post("/requests/new", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(ExceptionRequest)).all() == []


def test_the_request_form_is_for_office_and_slt(client, auth, web_school):
    assert client.get("/requests/new").status_code == 302
    pair_browser(client)
    assert client.get("/requests/new").status_code == 302  # a kiosk is nobody
    for user in ("office", "slt", "admin"):
        auth.login(user)
        assert client.get("/requests/new").status_code == 200
        auth.logout()


def test_today_until_a_time_that_has_passed_is_refused():
    morning = datetime(2026, 11, 24, 9, 0, tzinfo=LONDON)
    window = parse_window(MultiDict({"when": "today", "today_until": "15:30"}), morning)
    assert window == Window(date(2026, 11, 24), date(2026, 11, 24), None, time(15, 30))
    with pytest.raises(ValidationError, match="It is already past 08:30"):
        parse_window(MultiDict({"when": "today", "today_until": "08:30"}), morning)
    with pytest.raises(ValidationError, match="as a time"):
        parse_window(MultiDict({"when": "today", "today_until": "half three"}), morning)


# --- settings --------------------------------------------------------------------------------

def test_settings_are_for_admins_only(client, auth, app, web_school):
    assert client.get("/admin/settings").status_code == 302
    for user in ("office", "slt"):
        auth.login(user)
        assert client.get("/admin/settings").status_code == 403
        assert client.post("/admin/settings", data={"second_approver": "caring"}).status_code \
            == 403
        auth.logout()
    with app.app_context():
        assert settings.second_approver_categories(db.session) == set()


def test_admin_chooses_the_two_approver_categories(client, auth, app, web_school):
    auth.login("admin")
    assert 'value="caring"' in page(client, "/admin/settings")
    response = client.post("/admin/settings", data=MultiDict(
        [("second_approver", "caring"), ("second_approver", "on_call"),
         ("second_approver", "nonsense")]), follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Categories needing two SLT approvals: On-call or site duty, Caring responsibility." \
        in html
    assert re.search(r'value="caring"\s+checked', html)
    with app.app_context():
        assert settings.get(db.session, settings.SECOND_APPROVER_CATEGORIES) == "on_call,caring"
        assert db.session.scalars(select(AuditEvent.actor).where(
            AuditEvent.action == "settings.change")).all() == ["admin"]
    assert state(app, ask(app, web_school.alice.id, "caring"))[0] == "pending"
    with app.app_context():
        assert db.session.scalars(select(ExceptionRequest.approvals_needed)).one() == 2


def test_no_decision_row_is_written_outside_the_domain(client, auth, app, web_school, leaders):
    """Every path above writes decisions through register.exception_requests: one audit
    entry per decision row."""
    request_id = ask(app, web_school.alice.id)
    auth.login("deputy")
    client.post(f"/slt/requests/{request_id}/approve")
    client.post(f"/slt/exceptions/{request_id}/revoke", data={"reason": "Resolved"})
    with app.app_context():
        decisions = db.session.scalars(select(ExceptionDecision.action)).all()
        audited = db.session.scalars(select(AuditEvent.action).where(
            AuditEvent.action.in_(["exception.approve", "exception.revoke"]))).all()
    assert decisions == ["approve", "revoke"]
    assert sorted(audited) == ["exception.approve", "exception.revoke"]
