"""The agent API, kiosk events and emergency opening through Flask's test client."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from kiosk.extensions import db
from register import kiosk_link
from register.db import unit_of_work
from register.models import AuditEvent, Deposit, LockCommand, utc_now
from tests.conftest import pair_browser

HEARTBEAT = "/api/v1/agent/heartbeat"
READERS_OK = {"rfid": {"connected": True, "detail": ""}, "scanner": {"connected": True}}
RFID_GONE = {"rfid": {"connected": False, "detail": "/dev/ttyS0 gone"},
             "scanner": {"connected": True}}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def staff(web_school) -> dict[str, str]:
    return bearer(web_school.staff_kiosk_token)


@pytest.fixture
def page(app, web_school):
    """The staff-room kiosk's browser, paired by cookie."""
    browser = app.test_client()
    pair_browser(browser)
    return browser


def rows(app, model, *where) -> list:
    with app.app_context():
        return db.session.scalars(db.select(model).where(*where)).all()


# --- scans: keys, times, sources -----------------------------------------------------------

def test_a_retried_scan_gets_the_same_answer_and_deposits_once(client, app, web_school, staff):
    scan = {"code": web_school.alice.badge_id, "key": "3f2a9c0e5b7d4e1f", "source": "rfid"}
    first = client.post("/api/v1/scan", json=scan, headers=staff)
    again = client.post("/api/v1/scan", json=scan, headers=staff)
    assert first.status_code == again.status_code == 200
    assert again.json == first.json
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(rows(app, Deposit)) == 1


def test_the_pages_own_scans_honour_keys_too(page, app, web_school):
    scan = {"code": web_school.alice_phone.label_code, "key": "a1b2c3d4"}
    assert page.post("/kiosk/scan", json=scan).json["outcome"] == "deposited"
    assert page.post("/kiosk/scan", json=scan).json["outcome"] == "deposited"
    assert len(rows(app, Deposit, Deposit.collected_at.is_(None))) == 1


def test_scanned_at_sets_the_deposit_time(client, app, web_school, staff):
    scanned = (utc_now() - timedelta(minutes=20)).replace(microsecond=0)
    stamp = scanned.isoformat().replace("+00:00", "Z")
    response = client.post("/api/v1/scan", headers=staff,
                           json={"code": web_school.alice.badge_id, "scanned_at": stamp})
    assert response.status_code == 200
    assert rows(app, Deposit)[0].deposited_at == scanned


def test_a_scan_dated_in_the_future_is_recorded_now(client, app, web_school, staff):
    future = (utc_now() + timedelta(hours=1)).isoformat()
    response = client.post("/api/v1/scan", headers=staff,
                           json={"code": web_school.alice.badge_id, "scanned_at": future})
    assert response.status_code == 200
    assert rows(app, Deposit)[0].deposited_at < utc_now()


@pytest.mark.parametrize(("extra", "words"), [
    ({"scanned_at": "yesterday"}, "scanned_at must be an ISO 8601 time"),
    ({"scanned_at": "2026-11-25T08:02:11"}, "with its zone"),
    ({"scanned_at": 1764057731}, "scanned_at must be"),
    ({"key": ""}, "key must be"),
    ({"key": "x" * 65}, "key must be"),
    ({"key": "has space"}, "key must be"),
    ({"source": "keyboard"}, "source must be one of: page, scanner, rfid"),
])
def test_malformed_scan_fields_are_refused(client, web_school, staff, extra, words):
    response = client.post("/api/v1/scan", headers=staff,
                           json={"code": web_school.alice.badge_id, **extra})
    assert response.status_code == 400
    assert words in response.json["message"]


# --- kiosk events ----------------------------------------------------------------------------

def test_agent_scans_appear_in_the_paired_pages_events(client, page, web_school, staff):
    start = page.get("/kiosk/events?after=0").json
    assert start["events"] == []
    assert start["status"] == {"readers": [], "warnings": []}  # no agent: nothing to report
    client.post("/api/v1/scan", headers=staff,
                json={"code": web_school.alice.badge_id, "source": "rfid", "key": "k1"})
    client.post("/api/v1/scan", headers=staff,
                json={"code": web_school.bob_phone.label_code, "source": "page"})
    found = page.get(f"/kiosk/events?after={start['after']}").json
    [event] = found["events"]
    assert event["kind"] == "scan"
    assert event["data"]["outcome"] == "deposited"
    assert event["data"]["message"] == "Alice, put your phone in locker 1 and close the door."
    assert event["data"]["source"] == "rfid"
    assert found["after"] == event["id"]
    assert page.get(f"/kiosk/events?after={event['id']}").json["events"] == []


def test_the_page_starts_after_the_latest_event(client, page, web_school, staff):
    client.post("/api/v1/scan", headers=staff,
                json={"code": web_school.alice.badge_id, "source": "rfid"})
    html = page.get("/kiosk").get_data(as_text=True)
    latest = page.get("/kiosk/events?after=0").json["after"]
    assert latest > 0
    assert f'data-events-after="{latest}"' in html


def test_events_are_for_paired_kiosks_only(client, auth, web_school):
    assert client.get("/kiosk/events?after=0").status_code == 401
    auth.login("admin")
    assert client.get("/kiosk/events?after=0").status_code == 401


def test_events_need_a_number(page):
    assert page.get("/kiosk/events?after=-1").status_code == 400
    assert page.get("/kiosk/events?after=x").status_code == 400


# --- heartbeat and commands ------------------------------------------------------------------

def test_heartbeat_reports_a_disconnected_reader_to_the_page(client, page, staff):
    assert client.post(HEARTBEAT, headers=staff, json={"readers": RFID_GONE}).status_code == 200
    status = page.get("/kiosk/events?after=0").json["status"]
    assert [r["connected"] for r in status["readers"]] == [False, True]
    assert status["warnings"] == [{"kind": "reader_disconnected", "lockers": [],
                                   "message": "Badge reader disconnected — please see the office"}]
    client.post(HEARTBEAT, headers=staff, json={"readers": READERS_OK})
    assert page.get("/kiosk/events?after=0").json["status"]["warnings"] == []


def test_heartbeat_hands_out_the_deposits_open_command_once(client, web_school, staff):
    client.post("/api/v1/scan", headers=staff, json={"code": web_school.carol.badge_id})
    first = client.post(HEARTBEAT, headers=staff, json={"readers": {}, "doors": {"3": "closed"}})
    [command] = first.json["commands"]
    assert (command["action"], command["locker"]) == ("open", 3)
    assert datetime.fromisoformat(first.json["server_time"]).tzinfo is not None
    assert client.post(HEARTBEAT, headers=staff, json={}).json["commands"] == []


def test_door_left_open_shows_on_the_page_and_to_slt(client, app, auth, page, web_school, staff):
    with app.app_context(), Session(db.engine) as session, unit_of_work(session):
        kiosk_link.heartbeat(session, web_school.staff_kiosk.id, {}, {2: "open"},
                             utc_now() - timedelta(seconds=40))
    client.post(HEARTBEAT, headers=staff, json={"doors": {"2": "open"}})
    found = page.get("/kiosk/events?after=0").json
    assert [e["kind"] for e in found["events"]] == ["door_open"]
    assert found["status"]["warnings"] == [{"kind": "door_open", "lockers": [2],
                                            "message": "Locker 2 is open: please close the door"}]
    auth.login("slt")
    slt = client.get("/slt/").get_data(as_text=True)
    assert "Needs attention" in slt
    assert "Staff room: locker 2 open" in slt
    assert "Door closed" in slt  # a kiosk has an agent: SLT sees which doors were closed


def test_a_failed_open_is_shown_on_the_page(client, page, web_school, staff):
    client.post("/api/v1/scan", headers=staff, json={"code": web_school.alice.badge_id})
    [command] = client.post(HEARTBEAT, headers=staff, json={}).json["commands"]
    url = f"/api/v1/agent/commands/{command['id']}"
    result = client.post(url, headers=staff, json={"ok": False, "error": "no reply from board"})
    assert result.json == {"id": command["id"], "status": "failed"}
    [event] = page.get("/kiosk/events?after=0").json["events"]
    assert event["kind"] == "lock_failed"
    assert event["data"]["message"] == "Locker 1 did not open. Please see the office."


def test_command_results_belong_to_their_kiosk(client, web_school, staff):
    client.post("/api/v1/scan", headers=staff, json={"code": web_school.alice.badge_id})
    [command] = client.post(HEARTBEAT, headers=staff, json={}).json["commands"]
    url = f"/api/v1/agent/commands/{command['id']}"
    other = bearer(web_school.reception_kiosk_token)
    assert client.post(url, headers=other, json={"ok": True}).status_code == 404
    assert client.post(url, headers=staff, json={"ok": "yes"}).status_code == 400
    assert client.post(url, headers=staff, json={"ok": True}).json["status"] == "done"


@pytest.mark.parametrize("body", [
    "not json", '["readers"]', '{"readers": []}', '{"readers": {"rfid": {"connected": "no"}}}',
    '{"doors": {"7": "ajar"}}', '{"doors": {"seven": "open"}}', '{"doors": []}',
])
def test_malformed_heartbeats_are_refused(client, staff, body):
    response = client.post(HEARTBEAT, data=body, content_type="application/json", headers=staff)
    assert response.status_code == 400
    assert response.json["reason"] == "bad_request"


@pytest.mark.parametrize("user", [None, "office", "slt", "admin"])
@pytest.mark.parametrize("url", [HEARTBEAT, "/api/v1/agent/commands/1", "/api/v1/scan"])
def test_agent_endpoints_need_a_kiosk_token_not_a_session(client, auth, page, web_school,
                                                          user, url):
    if user:
        auth.login(user)
    assert client.post(url, json={"ok": True, "code": "x"}).status_code == 401
    # A paired kiosk browser's cookie does not reach the agent API either.
    assert page.post(url, json={"ok": True, "code": "x"}).status_code == 401


# --- emergency opening -----------------------------------------------------------------------

def test_only_admins_see_the_emergency_form(client, auth, web_school):
    auth.login("office")
    assert "Emergency: open every locker" not in client.get("/office/lockers").get_data(True)
    auth.logout()
    auth.login("admin")
    assert "Emergency: open every locker" in client.get("/office/lockers").get_data(True)


def test_admin_opens_a_bank_with_a_reason(client, app, auth, web_school):
    auth.login("admin")
    response = client.post("/office/lockers/emergency-open", follow_redirects=True, data={
        "bank": [str(web_school.staff_room.id)], "reason": "Fire alarm, building evacuated"})
    assert "Opening all 4 lockers at Staff room now." in response.get_data(as_text=True)
    assert len(rows(app, LockCommand, LockCommand.purpose == "emergency")) == 4
    [entry] = rows(app, AuditEvent, AuditEvent.action == "lockers.emergency_open")
    assert entry.actor == "admin"
    assert entry.subject == f"bank:{web_school.staff_room.id}"
    assert "4 lockers" in entry.detail and "Fire alarm, building evacuated" in entry.detail
    assert abs(entry.at - datetime.now(UTC)) < timedelta(minutes=1)


def test_emergency_open_needs_a_reason(client, app, auth, web_school):
    auth.login("admin")
    response = client.post("/office/lockers/emergency-open", follow_redirects=True,
                           data={"bank": [str(web_school.staff_room.id)], "reason": ""})
    assert "Nothing was opened. Say why" in response.get_data(as_text=True)
    assert rows(app, LockCommand) == []
    assert rows(app, AuditEvent, AuditEvent.action == "lockers.emergency_open") == []


@pytest.mark.parametrize("user", ["office", "slt"])
def test_office_and_slt_cannot_open_every_locker(client, app, auth, web_school, user):
    auth.login(user)
    response = client.post("/office/lockers/emergency-open", data={
        "bank": [str(web_school.staff_room.id)], "reason": "Fire alarm"})
    assert response.status_code == 403
    assert rows(app, LockCommand) == []


def test_signed_out_emergency_open_goes_to_sign_in(client, app, web_school):
    response = client.post("/office/lockers/emergency-open", data={
        "bank": [str(web_school.staff_room.id)], "reason": "Fire alarm"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert rows(app, LockCommand) == []
