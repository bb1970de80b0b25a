"""The kiosk page and the scan API through Flask's test client."""

import pytest

from kiosk.extensions import db
from register.db import unit_of_work
from register.models import Deposit
from tests.conftest import pair_browser


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def paired(client, web_school):
    response = pair_browser(client)
    assert "HttpOnly" in response.headers["Set-Cookie"]
    return client


def test_unpaired_browser_is_sent_to_the_office(client, web_school):
    response = client.get("/kiosk")
    assert response.status_code == 401
    assert b"This kiosk is not paired" in response.data
    assert b"Please see the office." in response.data


def test_paired_kiosk_shows_its_bank_and_the_scan_prompt(paired):
    page = paired.get("/kiosk").data.decode()
    assert "Staff room lockers" in page
    assert "Scan your badge" in page
    assert "Type a code instead" in page


def test_demo_codes_show_only_outside_production(app, paired):
    assert b"Demo, try:" in paired.get("/kiosk").data
    app.config["PRODUCTION"] = True
    assert b"Demo, try:" not in paired.get("/kiosk").data


def test_kiosk_page_scan_deposits_and_collects(paired, web_school):
    first = paired.post("/kiosk/scan", json={"code": web_school.alice_phone.label_code})
    assert first.status_code == 200
    assert first.json["outcome"] == "deposited"
    assert first.json["locker"] == 1
    assert first.json["message"] == "Alice, put your phone in locker 1 and close the door."
    assert len(first.json["time"]) == 5  # HH:MM in the school's time zone
    second = paired.post("/kiosk/scan", json={"code": web_school.alice_phone.label_code})
    assert second.json["outcome"] == "already_deposited"  # within the second-scan guard
    assert (second.json["message"], second.json["can_confirm"]) == ("Already in locker 1", True)
    third = paired.post("/kiosk/scan", json={"code": web_school.alice_phone.label_code,
                                             "confirm": True})  # "Take it out again"
    assert third.json["outcome"] == "collected"


def test_kiosk_scan_without_pairing_is_refused(client, web_school):
    response = client.post("/kiosk/scan", json={"code": web_school.alice.badge_id})
    assert response.status_code == 401
    assert response.json["message"] == "This kiosk is not paired. Please see the office."


def test_api_deposits_with_the_kiosk_token(client, web_school):
    response = client.post("/api/v1/scan", json={"code": web_school.alice.badge_id},
                           headers=bearer(web_school.reception_kiosk_token))
    assert response.status_code == 200
    body = response.json
    assert body["outcome"] == "deposited"
    assert (body["locker"], body["bank"], body["person"]) == (1, "Reception", "Alice")


def test_api_choose_lists_the_phones(client, web_school):
    response = client.post("/api/v1/scan", json={"code": web_school.bob.badge_id},
                           headers=bearer(web_school.staff_kiosk_token))
    assert response.status_code == 200
    assert response.json["outcome"] == "choose"
    assert [c["description"] for c in response.json["choices"]] == ["Test B1", "Test B2"]


@pytest.mark.parametrize(("code", "status", "message"), [
    ("0000009999", 404, "We don't recognise that code. Please try again or see the office."),
    ("490154203237517", 422, "That number is not a valid IMEI. Check it with *#06# and try again."),
    ("356868000041418", 404, "This phone is not on the register. Please see the office."),
    ("", 400, "Nothing was scanned. Please try again."),
])
def test_api_refusals_carry_the_sentence_to_show(client, web_school, code, status, message):
    response = client.post("/api/v1/scan", json={"code": code},
                           headers=bearer(web_school.staff_kiosk_token))
    assert response.status_code == status
    assert response.json == {"outcome": "refused", "reason": response.json["reason"],
                             "message": message, "locker": None, "person": None}


def test_api_refuses_a_phone_deposited_at_another_bank(client, web_school):
    client.post("/api/v1/scan", json={"code": web_school.alice.badge_id},
                headers=bearer(web_school.reception_kiosk_token))
    other = client.post("/api/v1/scan", json={"code": web_school.alice.badge_id},
                        headers=bearer(web_school.staff_kiosk_token))
    assert other.status_code == 409
    assert other.json["message"] == (
        "Alice, this phone is already in locker 1 at Reception. Please collect it there.")


def test_api_refuses_when_no_locker_is_free(client, app, web_school):
    with app.app_context(), unit_of_work(db.session()):
        from register import people
        for locker in people.all_lockers(db.session):
            people.set_out_of_service(db.session, locker, True, "test")
    refused = client.post("/api/v1/scan", json={"code": web_school.alice.badge_id},
                          headers=bearer(web_school.staff_kiosk_token))
    assert refused.status_code == 409
    assert refused.json["message"] == (
        "There is no free locker at Staff room. Please see the office.")


def test_api_refuses_retired_phones_and_leavers(client, app, web_school):
    with app.app_context(), unit_of_work(db.session()):
        from register import people
        people.retire_device(db.session, people.get_device(db.session, web_school.carol_phone.id),
                             "t", "lost")
        people.mark_left(db.session, people.get_person(db.session, web_school.bob.id), "t")
    retired = client.post("/api/v1/scan", json={"code": web_school.carol_phone.label_code},
                          headers=bearer(web_school.staff_kiosk_token))
    assert retired.status_code == 409
    assert "was retired from the register" in retired.json["message"]
    left = client.post("/api/v1/scan", json={"code": web_school.bob.badge_id},
                       headers=bearer(web_school.staff_kiosk_token))
    assert left.status_code == 403
    assert "marked as having left" in left.json["message"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"},
                                     {"Authorization": "Basic b2ZmaWNlOng="}])
def test_api_needs_a_kiosk_token(client, web_school, headers):
    response = client.post("/api/v1/scan", json={"code": "x"}, headers=headers)
    assert response.status_code == 401
    assert response.json["message"] == "Missing, unknown or revoked kiosk token."


@pytest.mark.parametrize("body", ['{"code": 5}', "not json", '["code"]'])
def test_api_rejects_malformed_requests(client, web_school, body):
    response = client.post("/api/v1/scan", data=body, content_type="application/json",
                           headers=bearer(web_school.staff_kiosk_token))
    assert response.status_code == 400
    assert response.json["outcome"] == "refused"


def test_office_session_cannot_use_the_scan_api(client, auth, web_school):
    auth.login("admin")
    assert client.post("/api/v1/scan", json={"code": web_school.alice.badge_id}).status_code == 401


def test_healthz(client, app):
    assert client.get("/healthz").json == {"status": "ok"}


def test_healthz_reports_an_unreachable_database(tmp_path, app_config):
    from kiosk import create_app
    app = create_app({**app_config,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/missing/dir/x.db"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503


def test_refused_scans_write_nothing(client, app, web_school):
    client.post("/api/v1/scan", json={"code": "0000009999"},
                headers=bearer(web_school.staff_kiosk_token))
    with app.app_context():
        assert db.session.scalars(db.select(Deposit)).all() == []
