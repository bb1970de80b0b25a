"""Mistakes can be undone (issue 10): retiring a phone and marking someone as left ask for a
reason first, and are undone from the person's page; adding a retired phone's IMEI offers to
bring that phone back, for its owner or moved to this person. Each step is audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kiosk.extensions import db
from register import people
from register.errors import ValidationError
from register.models import AuditEvent, Device, Person


@pytest.fixture
def office(client, auth, web_school):
    auth.login("office")
    return client


def kiosk_scan(client, school, code: str) -> dict:
    """A scan at the Staff room kiosk's agent, as a reader sends it."""
    return client.post("/api/v1/scan", json={"code": code}, headers={
        "Authorization": f"Bearer {school.staff_kiosk_token}"}).get_json()


def device(app, device_id: int) -> Device:
    with app.app_context():
        found = db.session.get(Device, device_id)
        db.session.expunge(found)
        return found


def person(app, person_id: int) -> Person:
    with app.app_context():
        found = db.session.get(Person, person_id)
        db.session.expunge(found)
        return found


def audit_trail(app) -> list[tuple[str, str, str]]:
    with app.app_context():
        return [(e.action, e.subject, e.detail) for e in db.session.scalars(
            select(AuditEvent).order_by(AuditEvent.id))]


# --- retiring a phone ------------------------------------------------------------------------

def test_retiring_asks_for_a_reason_on_a_page_of_its_own(office, app, web_school):
    phone = web_school.alice_phone
    person_page = office.get(f"/office/people/{web_school.alice.id}").data.decode()
    assert f'href="/office/devices/{phone.id}/retire"' in person_page
    confirm = office.get(f"/office/devices/{phone.id}/retire").data.decode()
    assert "Retire Alice's Test A1?" in confirm
    assert "Reinstate this phone" in confirm  # it says how to undo it
    refused = office.post(f"/office/devices/{phone.id}/retire", data={"reason": "  "})
    assert refused.status_code == 422
    assert "Give a short reason, such as “replaced”" in refused.data.decode()
    assert device(app, phone.id).retired_at is None
    too_long = office.post(f"/office/devices/{phone.id}/retire", data={"reason": "x" * 201})
    assert "Keep the reason to 200 characters; it has 201." in too_long.data.decode()


def test_a_retired_phone_is_reinstated_from_the_persons_page(office, client, app, web_school):
    phone = web_school.alice_phone
    done = office.post(f"/office/devices/{phone.id}/retire", data={"reason": "lost on a trip"},
                       follow_redirects=True).data.decode()
    assert "Test A1 retired. Its label no longer works at the kiosk." in done
    assert ": lost on a trip. Its label does not work at the kiosk." in done
    assert f'action="/office/devices/{phone.id}/reinstate"' in done
    assert kiosk_scan(client, web_school, phone.label_code)["reason"] == "retired"

    back = office.post(f"/office/devices/{phone.id}/reinstate", follow_redirects=True)
    assert f"Test A1 is back in use: its label {phone.label_code} works at the kiosk again." \
        in back.data.decode()
    reinstated = device(app, phone.id)
    assert (reinstated.retired_at, reinstated.retired_reason) == (None, None)
    assert reinstated.owner_id == web_school.alice.id
    assert kiosk_scan(client, web_school, phone.label_code)["outcome"] == "deposited"
    trail = audit_trail(app)
    assert ("device.retire", f"device:{phone.id}", "lost on a trip") in trail
    assert ("device.reinstate", f"device:{phone.id}", f"person:{web_school.alice.id}") in trail


def test_a_phone_in_use_cannot_be_reinstated_again(office, app, web_school):
    response = office.post(f"/office/devices/{web_school.alice_phone.id}/reinstate",
                           follow_redirects=True)
    assert "Nothing was changed. Alice Adams&#39;s Test A1 is not retired." in \
        response.data.decode()


# --- marking someone as left -----------------------------------------------------------------

def test_marking_as_left_asks_for_a_reason_and_says_what_it_does(office, app, web_school):
    carol = web_school.carol
    page = office.get(f"/office/people/{carol.id}/left").data.decode()
    assert "Mark Carol Clark as left?" in page
    assert "Their own locker, locker 3 (Staff room), is freed for others." in page
    assert "their own locker\n        is not given back automatically" in page
    refused = office.post(f"/office/people/{carol.id}/left", data={"reason": ""})
    assert refused.status_code == 422
    assert "Give a short reason, such as “moved to another school”" in refused.data.decode()
    assert person(app, carol.id).active


def test_mark_as_left_warns_of_a_phone_still_in_a_locker(office, client, web_school):
    kiosk_scan(client, web_school, web_school.alice.badge_id)
    page = office.get(f"/office/people/{web_school.alice.id}/left").data.decode()
    assert "Their Test A1 is in locker 1" in page
    assert "let them collect it first" in page


def test_someone_marked_as_left_rejoins_from_their_page(office, client, app, web_school):
    carol = web_school.carol
    left = office.post(f"/office/people/{carol.id}/left", data={"reason": "contract ended"},
                       follow_redirects=True).data.decode()
    assert "Carol Clark is marked as left" in left
    assert ": contract ended</dd>" in left
    assert "Rejoin: Carol is back" in left
    gone = person(app, carol.id)
    assert (gone.active, gone.left_reason, gone.fixed_locker_id) == (False, "contract ended", None)
    assert kiosk_scan(client, web_school, carol.badge_id)["reason"] == "left"

    back = office.post(f"/office/people/{carol.id}/rejoin", follow_redirects=True)
    page = back.data.decode()
    assert "Carol Clark is back on the register: their badge and phones work at the kiosk " \
           "again." in page
    assert "Their own locker was freed when they left and is not given back automatically" in page
    rejoined = person(app, carol.id)
    assert (rejoined.active, rejoined.left_at, rejoined.left_reason) == (True, None, None)
    assert rejoined.fixed_locker_id is None  # not given back: it may be someone else's now
    answer = kiosk_scan(client, web_school, carol.badge_id)  # her badge works again
    assert answer["outcome"] == "deposited"
    trail = audit_trail(app)
    assert ("person.left", f"person:{carol.id}",
            "contract ended; own locker 3 at Staff room freed") in trail
    assert ("person.rejoin", f"person:{carol.id}", "") in trail


def test_rejoining_someone_who_has_not_left_changes_nothing(office, web_school):
    response = office.post(f"/office/people/{web_school.bob.id}/rejoin", follow_redirects=True)
    assert "Nothing was changed. Bob Brown is not marked as left." in response.data.decode()


# --- adding the IMEI of a retired phone --------------------------------------------------------

def test_adding_a_retired_phones_imei_offers_to_reinstate_it(office, client, app, web_school):
    phone = web_school.alice_phone
    office.post(f"/office/devices/{phone.id}/retire", data={"reason": "thought lost"})
    asked = office.post(f"/office/people/{web_school.alice.id}/devices/new",
                        data={"imei": phone.imei, "make": "Test", "model": "A1"})
    assert asked.status_code == 422
    page = asked.data.decode()
    assert (f"IMEI {phone.imei} is Alice Adams&#39;s Test A1, which was retired (thought lost)."
            in page)
    assert f'action="/office/devices/{phone.id}/reinstate"' in page
    assert ">Reinstate this phone</button>" in page
    office.post(f"/office/devices/{phone.id}/reinstate",
                data={"person_id": web_school.alice.id})
    assert device(app, phone.id).retired_at is None
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Device)) == 4  # no copy


def test_a_retired_phone_moves_to_the_person_adding_its_imei(office, client, app, web_school):
    phone = web_school.alice_phone
    office.post(f"/office/devices/{phone.id}/verify")
    office.post(f"/office/devices/{phone.id}/retire", data={"reason": "given to Bob"})
    asked = office.post(f"/office/people/{web_school.bob.id}/devices/new",
                        data={"imei": phone.imei}).data.decode()
    assert "If the phone is now Bob's, move it to them" in asked
    assert ">Move it to Bob Brown</button>" in asked
    moved = office.post(f"/office/devices/{phone.id}/reinstate",
                        data={"person_id": web_school.bob.id}, follow_redirects=True)
    assert (f"Test A1 (label {phone.label_code}) is now Bob Brown&#39;s phone, and no longer "
            "listed under Alice Adams.") in moved.data.decode()
    now = device(app, phone.id)
    assert (now.owner_id, now.retired_at, now.verified_at) == (web_school.bob.id, None, None)
    assert ("device.move", f"device:{phone.id}",
            f"from person:{web_school.alice.id} to person:{web_school.bob.id}") in audit_trail(app)
    answer = kiosk_scan(client, web_school, phone.label_code)
    assert (answer["outcome"], answer["person"]) == ("deposited", "Bob")


def test_a_phone_is_not_moved_to_someone_who_has_left(session, school):
    people.retire_device(session, school.alice_phone, "test", "replaced")
    people.mark_left(session, school.bob, "test", "moved school")
    session.flush()
    with pytest.raises(ValidationError, match="Bob Brown is marked as left: rejoin them first"):
        people.reinstate_device(session, school.alice_phone, "test", school.bob)
    session.rollback()
