"""Who reaches the printed register, labels, slips and exports, and what the audit trail keeps."""

from __future__ import annotations

import pytest

from kiosk.extensions import db
from register.models import AuditEvent
from tests.conftest import pair_browser


def print_urls(school) -> list[str]:
    return [
        "/print/",
        "/print/register",
        "/print/register?category=staff&status=all&verified=no",
        "/print/register.pdf",
        "/print/register.csv",
        "/print/labels?stock=l7651",
        "/print/labels.pdf?stock=l7160&which=unverified",
        "/print/labels/alignment.pdf?stock=l7651",
        f"/print/people/{school.alice.id}/imei-slip",
        f"/print/devices/{school.alice_phone.id}/lost-report",
    ]


@pytest.mark.parametrize("role", ["office", "admin"])
def test_office_and_admin_reach_every_print(client, auth, web_school, role):
    auth.login(role)
    for url in print_urls(web_school):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store", url


def test_slt_is_refused(client, auth, web_school):
    auth.login("slt")
    for url in print_urls(web_school):
        assert client.get(url).status_code == 403, url


def test_signed_out_is_sent_to_sign_in(client, web_school):
    for url in print_urls(web_school):
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/login" in response.headers["Location"]


def test_the_kiosk_token_reaches_none(client, web_school):
    bearer = {"Authorization": f"Bearer {web_school.staff_kiosk_token}"}
    pair_browser(client)  # the kiosk's own cookie
    for url in print_urls(web_school):
        response = client.get(url, headers=bearer)
        assert response.status_code == 302, url
        assert "/login" in response.headers["Location"]
        assert b"490154203237518" not in response.data


def test_unknown_person_or_phone_is_404(client, auth, web_school):
    auth.login("office")
    assert client.get("/print/people/9999/imei-slip").status_code == 404
    assert client.get("/print/devices/9999/lost-report").status_code == 404


def audit_events(app) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id)))


def test_every_print_and_export_is_audited_without_imeis(client, auth, app, web_school):
    auth.login("office")
    before = len(audit_events(app))
    for url in print_urls(web_school)[1:]:  # the menu itself shows no personal data
        client.get(url)
    events = [e for e in audit_events(app)[before:] if e.action != "login"]
    assert [(e.action, e.actor) for e in events] == [
        ("print.register", "office"), ("print.register", "office"),
        ("print.register_pdf", "office"), ("export.register_csv", "office"),
        ("print.labels", "office"), ("print.labels_pdf", "office"),
        ("print.label_alignment", "office"), ("print.imei_slip", "office"),
        ("print.lost_report", "office"),
    ]
    details = [e.detail for e in events]
    assert details[0] == "4 records; All categories; active; verified or not"
    assert details[1] == "4 records; Staff; active and left; not verified"
    assert details[3] == "4 records; All categories; active; verified or not"
    assert details[4] == "4 records; Every phone; l7651"
    assert details[5] == "4 records; Phones whose IMEI is not yet checked; l7160"
    assert details[6] == "0 records; l7651"
    assert (events[7].subject, details[7]) == (f"person:{web_school.alice.id}", "1 record")
    assert (events[8].subject, details[8]) == (f"device:{web_school.alice_phone.id}", "1 record")
    imeis = [d.imei for d in (web_school.alice_phone, web_school.bob_phone,
                              web_school.bob_work_phone, web_school.carol_phone)]
    for event in events:
        for imei in imeis:
            assert imei not in f"{event.subject} {event.detail}"


def test_refused_requests_write_no_print_audit(client, auth, app, web_school):
    auth.login("slt")
    client.get("/print/register.pdf")
    assert not [e for e in audit_events(app) if e.action.startswith(("print.", "export."))]


def test_person_page_links_to_slip_and_lost_report(client, auth, web_school):
    auth.login("office")
    page = client.get(f"/office/people/{web_school.bob.id}").data.decode()
    assert f'href="/print/people/{web_school.bob.id}/imei-slip"' in page
    for phone in (web_school.bob_phone, web_school.bob_work_phone):
        assert f'href="/print/devices/{phone.id}/lost-report"' in page
    assert 'href="/print/"' in page  # the Print menu in the top bar


def test_slip_and_lost_report_say_what_they_must(client, auth, web_school):
    auth.login("office")
    slip = client.get(f"/print/people/{web_school.bob.id}/imei-slip").data.decode()
    for text in ("Bob Brown", "354178036859789", "352099001761481", "OFFICIAL-SENSITIVE",
                 "not with your phone", "Printed "):
        assert text in slip
    client.post("/api/v1/scan", json={"code": web_school.bob_phone.label_code},
                headers={"Authorization": f"Bearer {web_school.staff_kiosk_token}"})
    report = client.get(f"/print/devices/{web_school.bob_phone.id}/lost-report").data.decode()
    for text in ("Lost or stolen phone report", "Bob Brown", "Test", "B1", "354178036859789",
                 "locker 1 (Staff room) at Staff kiosk", "In a locker", "crime reference"):
        assert text in report
    assert "352099001761481" not in report  # only the phone reported
