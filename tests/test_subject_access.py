"""Subject access: everything held about a person, as JSON and as a PDF, from the admin's
page and from `flask --app kiosk subject-access`; every export audited without a name or an
IMEI. Both databases."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk import data_subject
from kiosk.extensions import db
from register import people
from register.models import AuditEvent, Person
from register.subject_access import FORMAT_VERSION, subject_access
from tests.conftest import PASSWORD
from tests.data_subject_setup import (
    BOB_ACCOUNT,
    DECLINED_NOTE,
    REQUEST_REASON,
    give_bob_everything,
)
from tests.pdf_tools import flat, reader

LONDON = ZoneInfo("Europe/London")
TOP_KEYS = ["format", "format_version", "made_at", "made_by", "person", "phones", "deposits",
            "duty_periods", "exception_requests", "policy_acknowledgements",
            "incidents", "audit_entries_about_them", "user_accounts"]


def _bob(session: Session, school) -> Person:
    return session.get_one(Person, school.bob.id)


def test_the_export_holds_every_kind_of_record_about_the_person(session, school):
    everything = give_bob_everything(session, school)
    export = subject_access(session, _bob(session, school), "admin", everything.now)

    assert export.person.name == "Bob Brown" and export.person.badge_id == "0000000222"
    assert {(p.imei, p.retired_reason) for p in export.phones} == {
        ("354178036859789", None), ("352099001761481", "replaced by a new phone")}
    [deposit] = export.deposits
    assert deposit.label_code == school.bob_phone.label_code and deposit.bank == "Staff room"
    assert deposit.deposit_kiosk == deposit.collect_kiosk == "Staff kiosk"
    assert deposit.collected_at is not None and deposit.door_closed_at is not None
    assert [(d.start_kind, d.end_kind) for d in export.duty_periods] == [("deposit", "collect")]
    agreed, declined = export.exception_requests
    assert (agreed.reason, agreed.status, agreed.conditions) == (
        REQUEST_REASON, "approved", "Kept on silent")
    assert [(d.by, d.action) for d in agreed.decisions] == [("deputy", "approve")]
    assert [(d.action, d.note) for d in declined.decisions] == [("decline", DECLINED_NOTE)]
    [ack] = export.policy_acknowledgements
    assert (ack.policy_version, ack.via, ack.kiosk) == ("2026-1", "kiosk", "Staff kiosk")
    about = {(e.actor, e.action) for e in export.audit_entries_about_them}
    assert {("office", "person.view"), ("test", "person.add"), ("deputy", "exception.approve"),
            ("office", "device.retire")} <= about
    [account] = export.user_accounts
    assert (account.username, account.role, account.email) == (
        BOB_ACCOUNT, "office", "b.user@example.org")
    assert len(account.sessions) == 1 and account.sessions[0].ended_at is None
    assert [e.action for e in account.audit_entries_by_them] == ["register.search"]
    assert export.counts() == {
        "phones": 2, "deposits": 1, "duty periods": 1, "exception requests": 2,
        "decisions": 2, "policy acknowledgements": 1, "incidents": 0,
        "audit entries about them": len(export.audit_entries_about_them),
        "user accounts": 1, "sign-in sessions": 1, "audit entries by them": 1}
    # Nobody else's records: Alice's phone and entries are not in it.
    assert school.alice_phone.imei not in json.dumps(export.as_json())


def test_the_json_has_stable_keys_plain_types_and_iso_times(session, school):
    everything = give_bob_everything(session, school)
    body = subject_access(session, _bob(session, school), "admin", everything.now).as_json()

    assert list(body) == TOP_KEYS and body["format_version"] == FORMAT_VERSION
    assert json.loads(json.dumps(body)) == body  # plain JSON types only
    assert datetime.fromisoformat(body["made_at"]).tzinfo is not None
    assert list(body["person"]) == ["id", "name", "category", "badge_id", "email",
                                    "fixed_locker", "active", "left_at", "left_reason",
                                    "created_at"]
    assert list(body["phones"][0]) == [
        "id", "make", "model", "imei", "imei2", "label_code", "registered_at", "registered_by",
        "verified_at", "verified_by", "retired_at", "retired_reason"]
    assert list(body["deposits"][0]) == [
        "id", "phone_id", "label_code", "locker", "bank", "deposited_at", "deposit_kiosk",
        "collected_at", "collect_kiosk", "collected_by", "door_closed_at"]
    request = body["exception_requests"][0]
    assert list(request["decisions"][0]) == ["at", "by", "action", "note"]
    assert request["weekdays"][0] == "Monday" and len(request["weekdays"]) == 7
    assert list(body["user_accounts"][0]) == [
        "username", "role", "active", "email", "created_at", "last_sign_in_at", "sessions",
        "audit_entries_by_them"]
    assert list(body["user_accounts"][0]["sessions"][0]) == [
        "started_at", "last_used_at", "ended_at", "ended_because"]
    assert list(body["audit_entries_about_them"][0]) == [
        "id", "at", "actor", "action", "subject", "detail"]
    assert body["deposits"][0]["deposited_at"].endswith("+00:00")


def test_the_pdf_reads_back_with_every_section_and_page_numbers(session, school):
    everything = give_bob_everything(session, school)
    export = subject_access(session, _bob(session, school), "admin", everything.now)
    data = data_subject.export_pdf(export, "Test Primary School", LONDON)

    pages = [flat(page.extract_text()) for page in reader(data).pages]
    text = " ".join(pages)
    for expected in ("OFFICIAL-SENSITIVE: personal data", "Subject access export for Bob Brown",
                     "by admin", "Their details", "0000000222", "354178036859789",
                     "352099001761481", "replaced by a new phone", "Deposits · 1",
                     "Duty periods · 1", "Exception requests · 2", REQUEST_REASON,
                     DECLINED_NOTE, "Kept on silent", "Policy acknowledgements · 1",
                     "Mobile phone policy, version 2026-1", "Audit entries about them",
                     f"User account: {BOB_ACCOUNT}", f"Audit entries by {BOB_ACCOUNT} · 1"):
        assert expected in text, expected
    assert all(f"Page {n} of {len(pages)}" in page for n, page in enumerate(pages, start=1))


def test_a_long_history_runs_over_pages_repeating_the_column_titles(session, school):
    give_bob_everything(session, school)
    export = subject_access(session, _bob(session, school), "admin", datetime.now(UTC))
    many = export.audit_entries_about_them * 40
    longer = type(export)(**{**export.__dict__, "audit_entries_about_them": many})
    data = data_subject.export_pdf(longer, "Test Primary School", LONDON)

    pages = [flat(page.extract_text()) for page in reader(data).pages]
    assert len(pages) > 3
    assert "Audit entries about them (continued)" in pages[-2]
    assert "# When Who What Record Detail" in pages[-2]


def test_a_right_to_left_name_reads_back_in_the_pdf(session, school):
    person = people.add_person(session, people.PersonDetails(
        name="محمد الأحمد", category="visitor"), "office")
    session.commit()
    export = subject_access(session, person, "admin", datetime.now(UTC))
    data = data_subject.export_pdf(export, "Test Primary School", LONDON)
    text = flat(reader(data).pages[0].extract_text())
    assert "None: they do not sign in to the register." in text
    assert "Phones · 0" in text
    # pypdf reads the joined letters back as typed, right to left drawn: compare the letters.
    assert set("محمدالأحمد") <= set(text.replace(" ", ""))


# --- the admin's page, and the command ------------------------------------------------------

def _audit_entries(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_an_admin_gets_the_summary_and_both_downloads_each_audited(app, client, web_school):
    client.post("/login", data={"username": "admin", "password": PASSWORD})
    person_page = client.get(f"/office/people/{web_school.bob.id}").get_data(as_text=True)
    assert "Data protection" in person_page and "Everything we hold" in person_page

    page = client.get(f"/admin/people/{web_school.bob.id}/subject-access")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Everything we hold about Bob Brown" in html and "Download the PDF" in html
    assert page.headers["Cache-Control"] == "no-store"

    as_json = client.get(f"/admin/people/{web_school.bob.id}/subject-access.json")
    assert as_json.status_code == 200 and as_json.mimetype == "application/json"
    assert f"subject-access-person-{web_school.bob.id}-" in as_json.headers[
        "Content-Disposition"]
    assert {p["imei"] for p in as_json.get_json()["phones"]} == {
        web_school.bob_phone.imei, web_school.bob_work_phone.imei}
    as_pdf = client.get(f"/admin/people/{web_school.bob.id}/subject-access.pdf")
    assert as_pdf.data.startswith(b"%PDF-")

    entries = _audit_entries(app, "person.subject_access")
    assert [(e.actor, e.subject) for e in entries] == [("admin", f"person:{web_school.bob.id}")] * 2
    assert [e.detail.split(",")[0] for e in entries] == ["JSON download; 2 phones",
                                                         "PDF download; 2 phones"]
    assert all(e.detail.endswith(" audit entries about them") for e in entries)


def test_the_office_does_not_see_the_data_protection_box(client, web_school):
    client.post("/login", data={"username": "office", "password": PASSWORD})
    page = client.get(f"/office/people/{web_school.bob.id}").get_data(as_text=True)
    assert "Bob Brown" in page and "Data protection" not in page


def test_an_unknown_person_is_a_404_page(client, web_school):
    client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert client.get("/admin/people/999/subject-access").status_code == 404
    assert client.get("/admin/people/999/subject-access.pdf").status_code == 404


def test_the_command_writes_both_files_for_the_owner_only(app, runner, web_school, tmp_path):
    out = tmp_path / "exports" / "bob"
    result = runner.invoke(args=["subject-access", str(web_school.bob.id), str(out)])
    assert result.exit_code == 0, result.output

    stem = f"subject-access-person-{web_school.bob.id}-"
    json_file, pdf_file = sorted(out.iterdir())
    assert json_file.name.startswith(stem) and json_file.suffix == ".json"
    assert pdf_file.name == json_file.with_suffix(".pdf").name
    assert str(json_file) in result.output and str(pdf_file) in result.output
    for path in (json_file, pdf_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(json_file.read_text())["person"]["name"] == "Bob Brown"
    assert pdf_file.read_bytes().startswith(b"%PDF-")
    [entry] = _audit_entries(app, "person.subject_access")
    assert (entry.actor, entry.subject) == ("cli", f"person:{web_school.bob.id}")
    assert entry.detail.startswith("JSON and PDF files; 2 phones, ")
    assert "Bob" not in entry.detail and web_school.bob_phone.imei not in entry.detail


def test_the_command_refuses_an_unknown_person(runner, web_school, tmp_path):
    result = runner.invoke(args=["subject-access", "999", str(tmp_path)])
    assert result.exit_code == 1
    assert "There is no person #999 on the register" in result.output
