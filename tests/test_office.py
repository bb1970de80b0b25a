"""Office pages through Flask's test client: what the office sees and what is saved."""

import re

import pytest

from kiosk.extensions import db
from register.db import unit_of_work
from register.models import AuditEvent, Device, Person, User
from tests.conftest import FAST_HASH


@pytest.fixture
def office(client, auth, web_school):
    auth.login("office")
    return client


def audit_actions(app) -> list[str]:
    with app.app_context():
        return db.session.scalars(db.select(AuditEvent.action).order_by(AuditEvent.id)).all()


def test_people_list_and_search(office, app):
    page = office.get("/office/").data.decode()
    assert "Alice Adams" in page and "Bob Brown" in page
    found = office.post("/office/", data={"q": "bob"}).data.decode()
    assert "Bob Brown" in found and "Alice Adams" not in found
    by_imei = office.post("/office/", data={"q": "4901 5420"}).data.decode()
    assert "Alice Adams" in by_imei and "Bob Brown" not in by_imei
    assert "register.search" in audit_actions(app)


def test_category_filter(office, app):
    with app.app_context(), unit_of_work(db.session()):
        from register import people
        people.add_person(db.session, people.PersonDetails("Gwen Governor", "governor"), "t")
    page = office.get("/office/?category=governor").data.decode()
    assert "Gwen Governor" in page and "Alice Adams" not in page


def test_add_person_then_phone(office, app):
    response = office.post("/office/people/new", data={
        "name": "Zoë Ó Súilleabháin", "category": "volunteer", "badge_id": "0001234567"})
    assert response.status_code == 302
    assert "/devices/new" in response.headers["Location"]
    form = office.get(response.headers["Location"]).data.decode()
    assert "Add a phone for Zoë Ó Súilleabháin" in form
    saved = office.post(response.headers["Location"], data={
        "imei": "26 053179 311383 7", "make": "Apple", "model": "iPhone 13"}, follow_redirects=True)
    assert "Apple iPhone 13 registered" in saved.data.decode()
    with app.app_context():
        device = db.session.scalars(db.select(Device).where(Device.model == "iPhone 13")).one()
        assert device.imei == "260531793113837"
        assert device.registered_by == "office"
        assert device.verified_at is None


def test_person_form_errors_keep_what_was_typed(office, web_school):
    response = office.post("/office/people/new", data={
        "name": "Eve Evans", "category": "staff", "badge_id": web_school.alice.badge_id})
    assert response.status_code == 422
    page = response.data.decode()
    assert f"Badge {web_school.alice.badge_id} already belongs to Alice Adams." in page
    assert 'value="Eve Evans"' in page
    empty = office.post("/office/people/new", data={"name": " ", "category": "staff"})
    assert "Enter the person&#39;s full name." in empty.data.decode()


@pytest.mark.parametrize(("imei", "message"), [
    ("490154203237517", "The last digit of 490154203237517 should be 8, not 7"),
    ("3520990017614823", "16-digit IMEISV"),
    ("4901542032", "An IMEI has 15 digits; this has 10."),
    ("354178036859789", "already registered to Bob Brown&#39;s Test B1"),
])
def test_phone_form_refuses_bad_imeis_with_the_reason(office, app, web_school, imei, message):
    response = office.post(f"/office/people/{web_school.alice.id}/devices/new",
                           data={"imei": imei, "make": "X"})
    assert response.status_code == 422
    assert message in response.data.decode()
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Device)) == 4


def test_fourteen_digits_get_their_check_digit_shown_for_confirmation(office, web_school):
    url = f"/office/people/{web_school.alice.id}/devices/new"
    response = office.post(url, data={"imei": "35686800004141", "make": "Nokia"})
    assert response.status_code == 422
    page = response.data.decode()
    assert "We added the check digit 8: the full IMEI is 356868000041418." in page
    assert 'value="356868000041418"' in page  # filled in, ready to confirm
    confirmed = office.post(url, data={"imei": "356868000041418", "make": "Nokia"})
    assert confirmed.status_code == 302


def test_person_page_shows_phones_and_is_audited(office, app, web_school):
    page = office.get(f"/office/people/{web_school.bob.id}").data.decode()
    assert "Test B1" in page and "Test B2" in page
    assert web_school.bob_phone.label_code in page
    assert "not yet" in page  # IMEI not verified
    with app.app_context():
        event = db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.action == "person.view")).one()
        assert (event.actor, event.subject) == ("office", f"person:{web_school.bob.id}")


def test_unknown_person_is_404(office):
    assert office.get("/office/people/9999").status_code == 404


def test_edit_person(office, app, web_school):
    response = office.post(f"/office/people/{web_school.alice.id}/edit", data={
        "name": "Alice Adams-Smith", "category": "staff", "badge_id": "0003887558",
        "fixed_locker_id": str(web_school.staff_room.lockers[1].id)}, follow_redirects=True)
    page = response.data.decode()
    assert "Alice Adams-Smith" in page and "locker 2 (Staff room)" in page


def test_verify_device_records_who_and_when(office, app, web_school):
    response = office.post(f"/office/devices/{web_school.alice_phone.id}/verify",
                           follow_redirects=True)
    assert "marked verified" in response.data.decode()
    with app.app_context():
        device = db.session.get(Device, web_school.alice_phone.id)
        assert device.verified_by == "office" and device.verified_at is not None


def test_editing_an_imei_clears_verification(office, app, web_school):
    office.post(f"/office/devices/{web_school.alice_phone.id}/verify")
    office.post(f"/office/devices/{web_school.alice_phone.id}/edit", data={
        "imei": "356868000041418", "make": "Test", "model": "A1"})
    with app.app_context():
        device = db.session.get(Device, web_school.alice_phone.id)
        assert device.imei == "356868000041418" and device.verified_at is None


def test_retire_device(office, app, web_school):
    response = office.post(f"/office/devices/{web_school.alice_phone.id}/retire",
                           data={"reason": "replaced"}, follow_redirects=True)
    assert "retired" in response.data.decode()
    with app.app_context():
        device = db.session.get(Device, web_school.alice_phone.id)
        assert device.retired_reason == "replaced"


def test_a_phone_in_a_locker_cannot_be_retired(office, client, app, web_school):
    client.post("/api/v1/scan", json={"code": web_school.alice.badge_id},
                headers={"Authorization": f"Bearer {web_school.staff_kiosk_token}"})
    response = office.post(f"/office/devices/{web_school.alice_phone.id}/retire",
                           follow_redirects=True)
    assert "collect it at the kiosk before retiring it" in response.data.decode()


def test_mark_left_and_reinstate(office, app, web_school):
    office.post(f"/office/people/{web_school.carol.id}/left", data={"reason": "moved school"},
                follow_redirects=True)
    with app.app_context():
        carol = db.session.get(Person, web_school.carol.id)
        assert not carol.active and carol.fixed_locker_id is None
    assert "Carol Clark" not in office.get("/office/").data.decode()
    assert "Carol Clark" in office.get("/office/?left=1").data.decode()
    office.post(f"/office/people/{web_school.carol.id}/rejoin")
    assert "Carol Clark" in office.get("/office/").data.decode()


def test_lockers_page_shows_occupancy(office, client, web_school):
    client.post("/api/v1/scan", json={"code": web_school.alice.badge_id},
                headers={"Authorization": f"Bearer {web_school.staff_kiosk_token}"})
    page = office.get("/office/lockers").data.decode()
    assert "1 of 4 in use" in page
    assert "■ Alice Adams" in page


def test_locker_out_of_service(office, app, web_school):
    locker = web_school.staff_room.lockers[0]
    response = office.post(f"/office/lockers/{locker.id}/service", data={"out_of_service": "1"},
                           follow_redirects=True)
    assert "Locker 1 at Staff room is out of service." in response.data.decode()
    assert "✕ out of service" in response.data.decode()


def test_add_bank(office):
    response = office.post("/office/lockers/banks", data={
        "name": "Sports hall", "count": "12"}, follow_redirects=True)
    assert "Added Sports hall with 12 lockers." in response.data.decode()
    again = office.post("/office/lockers/banks", data={"name": "Sports hall", "count": "12"},
                        follow_redirects=True)
    assert "There is already a bank called Sports hall." in again.data.decode()


def test_slt_now_lists_phones_in_lockers(client, auth, web_school):
    client.post("/api/v1/scan", json={"code": web_school.alice.badge_id},
                headers={"Authorization": f"Bearer {web_school.staff_kiosk_token}"})
    auth.login("slt")
    page = client.get("/slt/").data.decode()
    assert "Alice Adams" in page and "1 (Staff room)" in page


def test_audit_never_holds_an_imei(office, app, web_school):
    office.get(f"/office/people/{web_school.alice.id}")
    office.post(f"/office/people/{web_school.alice.id}/devices/new",
                data={"imei": "356868000041418"})
    with app.app_context():
        for event in db.session.scalars(db.select(AuditEvent)):
            for imei in ("356868000041418", "490154203237518"):
                assert imei not in f"{event.subject} {event.detail}"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("name", "N" * 121, "The name is longer than 120 characters."),
    ("badge_id", "9" * 65, "The badge id is longer than 64 characters."),
    ("email", "not-an-email", "“not-an-email” does not look like an email address."),
])
def test_person_form_checks_lengths_and_email(office, app, field, value, message):
    data = {"name": "Fay Ford", "category": "staff", field: value}
    response = office.post("/office/people/new", data=data)
    assert response.status_code == 422
    assert message in response.data.decode()
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Person)) == 3


def test_the_field_at_fault_is_marked(office, web_school):
    url = f"/office/people/{web_school.alice.id}/devices/new"
    page = office.post(url, data={"imei": "356868000041418", "imei2": "12345"}).data.decode()
    assert "An IMEI has 15 digits; this has 5." in page
    first, second = page.split('name="imei2"')
    assert 'aria-invalid="true"' not in first.split('name="imei"')[1]
    assert 'aria-invalid="true"' in second.split("</label>")[0]


# --- issue 10's smaller truths -----------------------------------------------------------------

def test_an_own_locker_is_never_shown_as_free(office, web_school):
    page = office.get("/office/lockers").data.decode()
    staff_room = page[page.index("<h2>Staff room"):]
    cells = re.findall(r'<span class="num">(\d+)</span>\s*<span class="state">([^<]*)</span>',
                       staff_room)[:4]
    assert cells == [("1", "free"), ("2", "free"), ("3", "Carol Clark's own locker"),
                     ("4", "free")]


def test_import_rows_with_problems_say_they_will_not_be_imported(office):
    text = "name,category,imei\nDan Dale,Staff,490154203237517\nErin Ellis,Staff,\n"
    page = office.post("/office/import", data={"text": text}).data.decode()
    row = page[page.index("<td>2</td>"):page.index("<td>3</td>")]
    assert "new person + phone" not in row
    assert "✕ to fix: nothing is imported until this row is right" in row
    assert "The last digit of 490154203237517 should be 8, not 7" in row


def test_the_register_csv_names_its_charset_once(office):
    response = office.get("/print/register.csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"


def signed_in_as(page: str) -> str:
    """The words at the top right, beside Sign out."""
    form = re.search(r'<form[^>]*class="signout">(.*?)</form>', page, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", form).split())


@pytest.mark.parametrize(("username", "shown"), [("office", "Office"), ("slt", "SLT"),
                                                 ("admin", "Admin")])
def test_the_header_names_the_role_once(client, auth, web_school, username, shown):
    auth.login(username)
    words = signed_in_as(client.get("/requests/new").data.decode())
    assert words.endswith(f"{shown} Sign out")
    assert username not in words.replace(shown, "")


def test_another_users_header_names_them_and_their_role(client, auth, app, web_school):
    with app.app_context(), unit_of_work(db.session()) as session:
        session.add(User(username="deputy", password_hash=FAST_HASH, role="slt"))
    auth.login("deputy")
    assert signed_in_as(client.get("/slt/").data.decode()).endswith("deputy (SLT) Sign out")
