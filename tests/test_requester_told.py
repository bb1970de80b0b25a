"""Decisions reach the requester (issue 10): the kiosk says so once, at their next scan or "I
need my phone today", first names only and never the reason; and, with an address and SMTP
set, an email with the decision and SLT's reason."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.extensions import db
from register import exception_requests, people
from register.exception_requests import Window
from register.models import ExceptionRequest, Person, User, utc_now
from tests.conftest import FAST_HASH, pair_browser, scan_code
from tests.test_slt_email import PUBLIC_URL, smtp_server, wait_for  # noqa: F401 (a fixture)

LONDON = ZoneInfo("Europe/London")
T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # a Wednesday; GMT
NOT_AGREED = ("Your request for today was not agreed. Please ask Dana (SLT) if you need to "
              "talk about it.")


@pytest.fixture
def dana(session, school) -> User:
    """An SLT member who is on the register as Dana Hughes."""
    person = people.add_person(session, people.PersonDetails(
        name="Dana Hughes", category="staff"), "test")
    user = User(username="dhughes", password_hash="x", role="slt", person=person)
    session.add(user)
    session.commit()
    return user


def ask(session, person: Person, now: datetime = T0) -> ExceptionRequest:
    request = exception_requests.request_exception(
        session, person, "emergency", "Son in hospital",
        Window(now.date(), now.date(), None, time(15, 30)), "kiosk:Staff kiosk", "kiosk", LONDON,
        now)
    session.commit()
    return request


def scan(session, school, code: str, now: datetime):
    return scan_code(session, school.staff_kiosk.id, code, now, LONDON)


def test_a_declined_requester_is_told_at_the_next_scan_once(session, school, dana):
    request = ask(session, school.alice)
    exception_requests.decline(session, request, dana, "Cover is arranged", T0 + timedelta(
        minutes=10))
    session.commit()
    first = scan(session, school, school.alice.badge_id, T0 + timedelta(minutes=20))
    assert (first.outcome, first.notice) == ("deposited", NOT_AGREED)
    assert "Cover" not in str(first.body) and "hospital" not in str(first.body)
    assert "Hughes" not in str(first.body)
    session.refresh(request)
    assert request.requester_told_at == T0 + timedelta(minutes=20)
    later = scan(session, school, school.alice.badge_id, T0 + timedelta(hours=7))
    assert later.outcome == "collected" and later.body.get("notice") is None


def test_nothing_is_told_before_a_decision_or_to_someone_else(session, school, dana):
    request = ask(session, school.alice)
    assert scan(session, school, school.alice.badge_id, T0 + timedelta(minutes=1)).notice is None
    exception_requests.decline(session, request, dana, "No", T0 + timedelta(minutes=5))
    session.commit()
    assert scan(session, school, school.carol.badge_id, T0 + timedelta(minutes=6)).notice is None
    assert scan(session, school, school.alice.badge_id,
                T0 + timedelta(minutes=7)).notice == NOT_AGREED


def test_an_approval_then_its_revocation_are_each_told(session, school, dana):
    request = ask(session, school.alice)
    exception_requests.approve(session, request, dana, "", T0 + timedelta(minutes=5))
    session.commit()
    on_duty = scan(session, school, school.alice.badge_id, T0 + timedelta(minutes=10))
    assert on_duty.outcome == "on_duty"
    assert on_duty.notice == "Your request for today was agreed by Dana (SLT)."
    exception_requests.revoke(session, request, dana, "Trip cancelled",
                              T0 + timedelta(hours=2))
    session.commit()
    after = scan(session, school, school.alice.badge_id, T0 + timedelta(hours=3))
    assert after.notice == ("Your agreed exception for today was ended early. Please ask Dana "
                            "(SLT) if you need to talk about it.")
    assert "Trip" not in str(after.body)


def test_a_week_old_decision_is_not_brought_up(session, school, dana):
    request = ask(session, school.alice)
    exception_requests.decline(session, request, dana, "No", T0 + timedelta(minutes=5))
    session.commit()
    assert scan(session, school, school.alice.badge_id, T0 + timedelta(days=8)).notice is None


# --- through the kiosk page: "I need my phone today" ---------------------------------------

def test_identify_carries_the_notice_once(app, client, web_school):
    pair_browser(client)
    with app.app_context(), Session(db.engine) as session:
        head = session.scalars(select(User).where(User.username == "slt")).one()
        alice = session.get(Person, web_school.alice.id)
        now = utc_now()
        request = exception_requests.request_exception(
            session, alice, "emergency", "Son in hospital",
            Window(now.astimezone(LONDON).date(), now.astimezone(LONDON).date()),
            "office", "office", LONDON, now)
        session.flush()
        exception_requests.decline(session, request, head, "Cover arranged", now)
        session.commit()
    first = client.post("/kiosk/identify", json={"code": web_school.alice.badge_id}).json
    assert first["notice"] == ("Your request for today was not agreed. Please ask slt (SLT) "
                               "if you need to talk about it.")
    assert "Cover" not in str(first)
    again = client.post("/kiosk/identify", json={"code": web_school.alice.badge_id}).json
    assert again["notice"] is None


# --- email to the requester ----------------------------------------------------------------

@pytest.fixture
def decided_by_email(app, web_school, smtp_server):  # noqa: F811 (the fixture)
    inbox, port = smtp_server
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(port),
                      SMTP_FROM="phones@school.example", PUBLIC_URL=PUBLIC_URL)
    with app.app_context(), Session(db.engine) as session:
        session.get(Person, web_school.alice.id).email = "alice@school.example"
        dana = people.add_person(session, people.PersonDetails(
            name="Dana Hughes", category="staff"), "test")
        session.add(User(username="dhughes", password_hash=FAST_HASH, role="slt", person=dana))
        session.commit()
    return inbox


def request_for_alice(app, web_school) -> int:
    with app.app_context(), Session(db.engine) as session:
        now = utc_now()
        today = now.astimezone(LONDON).date()
        request = exception_requests.request_exception(
            session, session.get(Person, web_school.alice.id), "emergency", "Son in hospital",
            Window(today, today), "office", "office", LONDON, now)
        session.commit()
        return request.id


def test_a_decline_is_emailed_to_the_requester_with_the_reason(
        app, client, auth, web_school, decided_by_email):
    inbox = decided_by_email
    request_id = request_for_alice(app, web_school)
    auth.login("dhughes")
    assert client.post(f"/slt/requests/{request_id}/decline",
                       data={"reason": "Cover is arranged"}).status_code == 302
    wait_for(lambda: len(inbox.received) == 1)
    [(to, message)] = inbox.received
    assert to == ["alice@school.example"]
    assert message["Subject"] == "Your phone exception request: not agreed"
    body = message.get_payload(decode=True).decode()
    assert body.startswith("Dear Alice,")
    assert "was not agreed by Dana Hughes on " in body
    assert "Reason: Cover is arranged" in body
    assert "please speak to Dana Hughes" in body


def test_an_approval_and_a_revocation_are_emailed_too(
        app, client, auth, web_school, decided_by_email):
    inbox = decided_by_email
    request_id = request_for_alice(app, web_school)
    auth.login("dhughes")
    client.post(f"/slt/requests/{request_id}/approve", data={"conditions": "Silent"})
    wait_for(lambda: len(inbox.received) == 1)
    body = inbox.received[0][1].get_payload(decode=True).decode()
    assert inbox.received[0][1]["Subject"] == "Your phone exception request: agreed"
    assert "was agreed by Dana Hughes" in body and "Conditions: Silent" in body
    client.post(f"/slt/exceptions/{request_id}/revoke", data={"reason": "Trip cancelled"})
    wait_for(lambda: len(inbox.received) == 2)
    assert inbox.received[1][1]["Subject"] == "Your phone exception request: ended early"
    assert "Reason: Trip cancelled" in inbox.received[1][1].get_payload(decode=True).decode()


def test_no_address_no_email(app, client, auth, web_school, decided_by_email):
    inbox = decided_by_email
    with app.app_context(), Session(db.engine) as session:
        session.get(Person, web_school.alice.id).email = ""
        session.commit()
    request_id = request_for_alice(app, web_school)
    auth.login("dhughes")
    client.post(f"/slt/requests/{request_id}/decline", data={"reason": "No"})
    import time as clock
    clock.sleep(0.5)
    assert inbox.received == []
