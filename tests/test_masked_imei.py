"""IMEIs whole only where they are needed (issue 11): the printed register, the slip, the lost
phone report and the phone's edit form. Elsewhere on screen the last four digits, with a Show
that is audited; the search as you type and the kiosk carry no IMEI at all."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.extensions import db
from register import people
from register.db import read_only
from register.models import AuditEvent
from tests.conftest import pair_browser

DUAL_SIM = ("356868000041418", "260531793113837")


@pytest.fixture
def office(client, auth, web_school):
    auth.login("office")
    return client


def audit_entries(app) -> list[AuditEvent]:
    with app.app_context(), read_only(db.session()) as session:
        found = list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        session.expunge_all()
        return found


def show(client, device_id: int, json: bool = True):
    headers = {"Accept": "application/json"} if json else {"Accept": "text/html"}
    return client.post(f"/office/devices/{device_id}/imei", headers=headers)


def test_the_person_page_shows_the_last_four_digits_only(office, web_school):
    page = office.get(f"/office/people/{web_school.bob.id}").get_data(as_text=True)
    for phone in (web_school.bob_phone, web_school.bob_work_phone):
        assert phone.imei not in page
        assert f"•••• {phone.imei[-4:]}" in page
    assert page.count(">Show</button>") == 2


def test_a_dual_sim_phone_shows_both_masked_and_show_answers_both(app, office, web_school):
    with app.app_context(), Session(db.engine) as session:
        device = people.register_device(session, people.get_person(session, web_school.carol.id),
                                        people.DeviceDetails(*DUAL_SIM, make="Dual"), "test")
        session.commit()
        device_id = device.id
    page = office.get(f"/office/people/{web_school.carol.id}").get_data(as_text=True)
    assert "•••• 1418" in page and "•••• 3837" in page
    assert not any(imei in page for imei in DUAL_SIM)
    assert show(office, device_id).get_json() == {"imei": DUAL_SIM[0], "imei2": DUAL_SIM[1]}


@pytest.mark.parametrize("path", [
    "/office/devices/{phone}/edit", "/print/people/{bob}/imei-slip",
    "/print/devices/{phone}/lost-report", "/print/register",
])
def test_pages_that_need_the_whole_imei_still_show_it(office, web_school, path):
    url = path.format(bob=web_school.bob.id, phone=web_school.bob_phone.id)
    assert web_school.bob_phone.imei in office.get(url).get_data(as_text=True)


def test_show_answers_the_whole_imei_and_records_who_looked(app, office, web_school):
    phone = web_school.alice_phone
    before = len(audit_entries(app))

    answer = show(office, phone.id)

    assert answer.status_code == 200 and answer.get_json() == {"imei": phone.imei, "imei2": ""}
    [entry] = audit_entries(app)[before:]
    assert (entry.actor, entry.action, entry.subject, entry.detail) == (
        "office", "device.imei_view", f"device:{phone.id}", f"person:{web_school.alice.id}")
    assert answer.headers["Cache-Control"] == "no-store"


def test_show_without_javascript_is_a_page_with_the_imei(app, office, web_school):
    phone = web_school.bob_work_phone
    page = show(office, phone.id, json=False)
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert phone.imei in text and "Bob Brown" in text and "recorded in the audit trail" in text
    assert audit_entries(app)[-1].action == "device.imei_view"


def test_show_for_a_phone_that_is_not_there_is_404_and_records_nothing(app, office):
    before = len(audit_entries(app))
    assert show(office, 9999).status_code == 404
    assert len(audit_entries(app)) == before


def test_show_asks_for_the_forms_csrf_token(app, auth, web_school):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    client.post("/login", data={"username": "office", "password": "correct horse battery"})
    assert show(client, web_school.alice_phone.id).status_code == 400


def test_admin_may_show_but_slt_and_a_kiosk_may_not(app, web_school):
    phone_id = web_school.alice_phone.id
    admin, slt, kiosk = app.test_client(), app.test_client(), app.test_client()
    for client, user in ((admin, "admin"), (slt, "slt")):
        client.post("/login", data={"username": user, "password": "correct horse battery"})
    pair_browser(kiosk)
    before = len(audit_entries(app))

    assert show(admin, phone_id).get_json()["imei"] == web_school.alice_phone.imei
    assert slt.get(f"/office/people/{web_school.alice.id}").status_code == 403  # as ever
    assert show(slt, phone_id).status_code == 403
    refused = show(kiosk, phone_id)
    assert refused.status_code == 302 and "/login" in refused.headers["Location"]
    assert [e.actor for e in audit_entries(app)[before:]] == ["admin"]


def test_the_search_as_you_type_and_the_kiosk_carry_no_imei(app, office, web_school):
    phone = web_school.bob_phone
    found = office.post("/office/search.json", data={"q": phone.imei[:8]})
    assert "Bob Brown" in found.get_json()["html"]
    assert phone.imei not in found.get_data(as_text=True)

    kiosk = app.test_client()
    pair_browser(kiosk)
    screen = kiosk.get("/kiosk").get_data(as_text=True)
    answer = kiosk.post("/kiosk/scan", json={"code": phone.imei})
    assert answer.status_code == 200 and answer.get_json()["outcome"] == "deposited"
    assert not any(p.imei in screen for p in (web_school.alice_phone, phone))
    assert phone.imei not in answer.get_data(as_text=True)
    assert phone.imei[-4:] not in answer.get_data(as_text=True)


def test_the_import_preview_shows_the_last_four_digits(office):
    page = office.post("/office/import", data={
        "text": "name,category,imei\nDan Dale,staff,356938035643809\n"}).get_data(as_text=True)
    assert "•••• 3809" in page
    # The whole IMEI is only in the file itself, which the confirm form sends back.
    visible = re.sub(r'<input type="hidden" name="csv_text"[^>]*>', "", page)
    assert visible != page and "356938035643809" not in visible
