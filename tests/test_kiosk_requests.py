"""Asking for an exception at the kiosk, and the kiosk honouring one, through the test client."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk import kiosk_views
from kiosk.extensions import db
from register import exception_requests, people, scans
from register.models import (
    AuditEvent,
    Deposit,
    DutyPeriod,
    ExceptionDecision,
    ExceptionRequest,
    KioskEvent,
    Person,
    ScanReceipt,
    User,
)
from tests.conftest import pair_browser

LONDON = ZoneInfo("Europe/London")
# Tuesday 24 November 2026, 07:50 in London (GMT): the morning rush.
T0 = datetime(2026, 11, 24, 7, 50, tzinfo=UTC)
TODAY = date(2026, 11, 24)


@pytest.fixture(autouse=True)
def morning(monkeypatch):
    """Every request in these tests happens at T0 (the kiosk's views and its scans)."""
    monkeypatch.setattr(kiosk_views, "utc_now", lambda: T0)
    monkeypatch.setattr(scans, "utc_now", lambda: T0)


@pytest.fixture
def paired(client, web_school):
    pair_browser(client)
    return client


def ask(client, code, **fields):
    body = {"code": code, "category": "emergency", "reason": "Son ill at home",
            "ends_on": TODAY.isoformat(), "until": "15:30", **fields}
    return client.post("/kiosk/exception-request", json=body)


def counts(app: Flask) -> dict[str, int]:
    with app.app_context(), Session(db.engine) as session:
        return {model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
                for model in (ExceptionRequest, ExceptionDecision, AuditEvent, Deposit,
                              DutyPeriod, KioskEvent, ScanReceipt)}


def requests(app: Flask) -> list[ExceptionRequest]:
    with app.app_context(), Session(db.engine, expire_on_commit=False) as session:
        return list(session.scalars(select(ExceptionRequest).order_by(ExceptionRequest.id)))


def approve(app: Flask, request_id: int, conditions: str = "") -> None:
    """The head approves, as the SLT tablet would."""
    with app.app_context(), Session(db.engine) as session:
        head = User(username="head", password_hash="x", role="slt")
        session.add(head)
        request = session.get_one(ExceptionRequest, request_id)
        exception_requests.approve(session, request, head, conditions, T0)
        session.commit()


# --- identify: a scan that only says who --------------------------------------------------

def test_identify_names_the_person_and_changes_nothing(app, paired, web_school):
    before = counts(app)
    for code in (web_school.alice.badge_id, web_school.alice_phone.label_code,
                 "4901 5420 3237 518"):
        response = paired.post("/kiosk/identify", json={"code": code})
        assert response.status_code == 200, code
        body = response.json
        assert (body["outcome"], body["person"], body["first_name"]) == (
            "identified", "Alice", "Alice")  # the screen is public: first names only
        assert "Adams" not in response.get_data(as_text=True)
        assert body["request"] is None and body["message"] == ""
    assert counts(app) == before


def test_identify_offers_windows_that_have_not_passed(paired, web_school, monkeypatch):
    body = paired.post("/kiosk/identify", json={"code": web_school.alice.badge_id}).json
    assert [(w["label"], w["ends_on"], w["until"]) for w in body["windows"]] == [
        ("12:00", "2026-11-24", "12:00"), ("15:30", "2026-11-24", "15:30"),
        ("17:00", "2026-11-24", "17:00"), ("End of day", "2026-11-24", None),
        ("Today and tomorrow", "2026-11-25", None), ("Until Fri 27 Nov", "2026-11-27", None)]
    # Thursday at 13:00: 12:00 has gone, and "until Friday" means next week's.
    monkeypatch.setattr(kiosk_views, "utc_now", lambda: datetime(2026, 11, 26, 13, tzinfo=UTC))
    body = paired.post("/kiosk/identify", json={"code": web_school.alice.badge_id}).json
    assert [w["label"] for w in body["windows"]] == [
        "15:30", "17:00", "End of day", "Today and tomorrow", "Until Fri 4 Dec"]


def test_identify_says_what_is_already_asked_or_agreed_never_why(app, paired, web_school):
    ask(paired, web_school.alice.badge_id)
    pending = paired.post("/kiosk/identify", json={"code": web_school.alice.badge_id}).json
    assert pending["request"]["status"] == "pending"
    assert "category" not in pending["request"]
    assert pending["message"] == (
        "You have already asked (Tue 24 Nov, until 15:30). "
        "Waiting for SLT; please deposit your phone meanwhile.")
    # The screen is public: neither the reason nor the category, nor the surname.
    for private in ("Son ill", "emergency", "Adams"):
        assert private not in str(pending)

    approve(app, requests(app)[0].id, "Silent")
    agreed = paired.post("/kiosk/identify", json={"code": web_school.alice.badge_id}).json
    assert {k: agreed["request"][k] for k in ("status", "approved_by", "until", "conditions")} == {
        "status": "approved", "approved_by": "head", "until": "15:30", "conditions": "Silent"}
    assert agreed["message"] == (
        "Alice, SLT have already agreed: you may keep your phone until 15:30. Scan as usual.")


# The same refusals as a scan of the same code (register.codes): a mistyped IMEI is called one.
@pytest.mark.parametrize(("code", "status", "reason"), [
    ("0000009999", 404, "unknown"), ("", 400, "empty"),
    ("490154203237517", 422, "invalid_imei")])
def test_identify_refuses_codes_it_cannot_place(paired, code, status, reason):
    response = paired.post("/kiosk/identify", json={"code": code})
    assert (response.status_code, response.json["reason"]) == (status, reason)


def test_identify_and_asking_need_a_paired_kiosk(app, client, auth, web_school):
    code = web_school.alice.badge_id
    assert client.post("/kiosk/identify", json={"code": code}).status_code == 401
    assert ask(client, code).status_code == 401
    auth.login("slt")  # a signed-in user is not a kiosk either
    assert client.post("/kiosk/identify", json={"code": code}).status_code == 401
    assert requests(app) == []
    # The hardware's bearer token is a kiosk's own credential, like its cookie.
    bearer = {"Authorization": f"Bearer {web_school.staff_kiosk_token}"}
    assert client.post("/kiosk/identify", json={"code": code}, headers=bearer).status_code == 200


# --- the agent's reader answering "scan your badge" -----------------------------------------

def agent_scan(app: Flask, token: str, code: str, key: str = "k1", source: str = "rfid"):
    return app.test_client().post("/api/v1/scan", headers={"Authorization": f"Bearer {token}"},
                                  json={"code": code, "key": key, "source": source})


def test_while_the_page_asks_an_agent_badge_only_identifies(app, paired, web_school):
    token, code = web_school.staff_kiosk_token, web_school.alice.badge_id
    response = paired.post("/kiosk/ask-mode", json={"on": True})
    assert response.status_code == 200
    assert response.json == {"on": True, "until": (T0 + timedelta(seconds=60)).isoformat()}
    before = counts(app)
    answer = agent_scan(app, token, code)
    assert answer.status_code == 200
    assert {k: answer.json[k] for k in ("outcome", "person", "code")} == {
        "outcome": "identified", "person": "Alice", "code": code}
    after = counts(app)
    assert after["Deposit"] == before["Deposit"] == 0
    assert (after["KioskEvent"], after["ScanReceipt"]) == (1, 1)  # and nothing else written
    [event] = paired.get("/kiosk/events?after=0").json["events"]
    assert (event["kind"], event["data"]["outcome"], event["data"]["code"]) == (
        "scan", "identified", code)
    # The page goes on with that code, as if it had been typed.
    assert ask(paired, event["data"]["code"]).status_code == 201
    # A retry of the agent's scan is the stored answer; a new scan deposits as usual.
    again = agent_scan(app, token, code)
    assert (again.json, again.headers.get("Idempotent-Replayed")) == (answer.json, "true")
    assert agent_scan(app, token, code, key="k2").json["outcome"] == "deposited"


def test_a_page_that_stops_asking_leaves_agent_scans_acting(paired, app, web_school):
    paired.post("/kiosk/ask-mode", json={"on": True})
    assert paired.post("/kiosk/ask-mode", json={"on": False}).json == {"on": False, "until": None}
    answer = agent_scan(app, web_school.staff_kiosk_token, web_school.alice.badge_id)
    assert answer.json["outcome"] == "deposited"


@pytest.mark.parametrize("payload", [None, {}, {"on": "yes"}, {"on": 1}])
def test_ask_mode_wants_on_true_or_false(paired, payload):
    response = paired.post("/kiosk/ask-mode", json=payload)
    assert (response.status_code, response.json["reason"]) == (400, "bad_request")


def test_ask_mode_needs_a_paired_kiosk(client, auth):
    assert client.post("/kiosk/ask-mode", json={"on": True}).status_code == 401
    auth.login("office")
    assert client.post("/kiosk/ask-mode", json={"on": True}).status_code == 401


# --- asking --------------------------------------------------------------------------------

def test_a_request_at_the_kiosk_is_pending_and_audited(app, paired, web_school):
    response = ask(paired, web_school.alice.badge_id, reason="  Son   ill at home ")
    assert response.status_code == 201
    assert response.json["outcome"] == "requested"
    assert response.json["message"] == "Waiting for SLT; please deposit your phone meanwhile."
    assert response.json["request"]["window"] == "Tue 24 Nov, until 15:30"
    [made] = requests(app)
    assert (made.status, made.person_id, made.category, made.reason) == (
        "pending", web_school.alice.id, "emergency", "Son ill at home")
    assert (made.requested_by, made.requested_via, made.requested_at) == (
        "kiosk:Staff kiosk", "kiosk", T0)
    assert (made.starts_on, made.ends_on, made.day_from, made.day_until) == (
        TODAY, TODAY, None, time(15, 30))
    with app.app_context(), Session(db.engine) as session:
        entry = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "exception.request")).one()
    assert (entry.actor, entry.subject) == ("kiosk:Staff kiosk", f"exception:{made.id}")


def test_a_phone_label_asks_for_its_owner_for_whole_days(app, paired, web_school):
    response = ask(paired, web_school.bob_work_phone.label_code, category="offsite",
                   reason="Year 9 trip", ends_on="2026-11-27", until=None)
    assert response.status_code == 201
    [made] = requests(app)
    assert (made.person_id, made.ends_on, made.day_until) == (
        web_school.bob.id, date(2026, 11, 27), None)
    assert response.json["request"]["window"] == "Tue 24 Nov to Fri 27 Nov"


@pytest.mark.parametrize(("fields", "message"), [
    ({"category": ""}, "Choose what the exception is for."),
    ({"category": "holiday"}, "Choose what the exception is for."),
    ({"reason": "   "}, "Say briefly why the phone is needed."),
    ({"reason": "x" * 301}, "Keep the reason under 300 characters."),
    ({"ends_on": None, "until": None}, "Choose until when you need your phone."),
    ({"until": "07:30"}, "It is already past 07:30: choose a later time."),
    ({"ends_on": "2026-11-23", "until": None}, "The last day is before the first day."),
    ({"ends_on": "2027-11-23", "until": None}, "An exception lasts at most one term (200 days)."),
])
def test_bad_requests_are_refused_with_a_sentence(app, paired, web_school, fields, message):
    response = ask(paired, web_school.alice.badge_id, **fields)
    assert response.status_code == 422
    assert (response.json["outcome"], response.json["message"]) == ("refused", message)
    assert requests(app) == []


@pytest.mark.parametrize("fields", [
    {"ends_on": "Friday"}, {"until": "half three"}, {"reason": 5}, {"ends_on": 20261127}])
def test_malformed_requests_are_a_bad_request(app, paired, web_school, fields):
    response = ask(paired, web_school.alice.badge_id, **fields)
    assert response.status_code == 400
    assert response.json["reason"] == "bad_request"
    assert paired.post("/kiosk/exception-request", data="nope",
                       content_type="application/json").status_code == 400
    assert requests(app) == []


def test_someone_who_has_left_cannot_ask(app, paired, web_school):
    with app.app_context(), Session(db.engine) as session:
        people.mark_left(session, people.get_person(session, web_school.alice.id), "test")
        session.commit()
    for response in (paired.post("/kiosk/identify", json={"code": web_school.alice.badge_id}),
                     ask(paired, web_school.alice.badge_id)):
        assert response.status_code == 403
        assert response.json["message"] == (
            "Alice is marked as having left. Please see the office.")
    assert requests(app) == []


def test_a_second_request_while_one_waits_is_not_made(app, paired, web_school):
    assert ask(paired, web_school.alice.badge_id).status_code == 201
    again = ask(paired, web_school.alice_phone.label_code, category="other", until="17:00")
    assert again.status_code == 409
    assert again.json["outcome"] == "pending"
    assert again.json["message"].startswith("You have already asked (Tue 24 Nov")
    assert len(requests(app)) == 1
    # Once it is decided, a new request may be made.
    approve(app, requests(app)[0].id)
    assert ask(paired, web_school.alice.badge_id, until="17:00").status_code == 201
    assert [r.status for r in requests(app)] == ["approved", "pending"]


def test_a_request_waiting_for_a_later_day_does_not_stop_one_for_today(app, paired, web_school):
    with app.app_context(), Session(db.engine) as session:
        trip = exception_requests.Window(date(2026, 12, 1), date(2026, 12, 2))
        exception_requests.request_exception(
            session, session.get_one(Person, web_school.alice.id), "offsite", "Trip", trip,
            "office", "office", LONDON, T0)
        session.commit()
    identified = paired.post("/kiosk/identify", json={"code": web_school.alice.badge_id}).json
    assert identified["request"] is None
    assert ask(paired, web_school.alice.badge_id).status_code == 201
    assert [r.status for r in requests(app)] == ["pending", "pending"]


# --- what the kiosk token cannot do ---------------------------------------------------------

def test_the_kiosk_cannot_reach_slt_pages_or_decisions(app, paired, web_school):
    ask(paired, web_school.alice.badge_id)
    [made] = requests(app)
    bearer = {"Authorization": f"Bearer {web_school.staff_kiosk_token}"}
    slt_rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/slt")]
    assert slt_rules
    for rule in slt_rules:
        url = rule.rule
        for argument in rule.arguments:
            url = url.replace(f"<{argument}>", str(made.id)).replace(
                f"<int:{argument}>", str(made.id))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for headers in ({}, bearer):
                response = paired.open(url, method=method, headers=headers, data={
                    "conditions": "none", "reason": "no", "action": "approve"})
                assert response.status_code in (302, 401, 403), (method, url)
                if response.status_code == 302:
                    assert "/login" in response.headers["Location"]
    [still] = requests(app)
    assert still.status == "pending"
    assert counts(app)["ExceptionDecision"] == 0


# --- the kiosk honours an approved exception ------------------------------------------------

def test_a_scan_under_an_approved_exception_is_on_duty_with_its_details(app, paired, web_school):
    ask(paired, web_school.alice.badge_id)
    approve(app, requests(app)[0].id, "Silent; staff room only")
    badge = {"code": web_school.alice.badge_id, "entry": "scanner"}  # a reader's read
    body = paired.post("/kiosk/scan", json=badge).json
    assert body["outcome"] == "on_duty"
    assert body["locker"] is None and body["off_duty"] is False
    assert body["exception"] == {"approved_by": "head", "until": "15:30",
                                 "conditions": "Silent; staff room only"}
    assert body["message"] == (
        "Alice, you are on duty with your phone until 15:30, as agreed by head.")
    again = paired.post("/kiosk/scan", json=badge).json  # within the second-scan guard
    assert (again["outcome"], again["can_confirm"]) == ("already_on_duty", True)
    leaving = paired.post("/kiosk/scan", json={**badge, "confirm": True}).json
    assert (leaving["outcome"], leaving["off_duty"], leaving["exception"]) == (
        "off_duty", True, None)


def test_collecting_says_whether_you_go_off_duty(app, paired, web_school):
    carol_phone = web_school.carol_phone.label_code
    paired.post("/kiosk/scan", json={"code": carol_phone})
    collected = paired.post("/kiosk/scan", json={"code": carol_phone, "confirm": True}).json
    assert (collected["outcome"], collected["off_duty"]) == ("collected", True)
    assert collected["message"].endswith("You are now off duty.")

    badge = {"code": web_school.alice.badge_id, "entry": "scanner"}  # a reader's read
    paired.post("/kiosk/scan", json=badge)  # deposited
    ask(paired, web_school.alice.badge_id)
    approve(app, requests(app)[0].id)
    kept = paired.post("/kiosk/scan", json={**badge, "confirm": True}).json
    assert (kept["outcome"], kept["off_duty"]) == ("collected", False)
    assert kept["exception"]["until"] == "15:30"
    assert "You may keep it until 15:30, as agreed by head." in kept["message"]


def test_window_choices_on_a_weekend_and_late_in_the_day():
    saturday = datetime(2026, 11, 28, 18, 0, tzinfo=LONDON)
    assert [(w["label"], w["summary"]) for w in kiosk_views.window_choices(saturday)] == [
        ("End of day", "today, all day"),
        ("Today and tomorrow", "all day, today to Sunday 29 November"),
        ("Until Fri 4 Dec", "all day, today to Friday 4 December")]
    friday = datetime(2026, 11, 27, 8, 0, tzinfo=LONDON) + timedelta(minutes=1)
    assert kiosk_views.window_choices(friday)[-1]["ends_on"] == "2026-12-04"
