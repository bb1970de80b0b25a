"""Erasure: "Erase this person" and `flask --app kiosk erase-person` remove the person, their
phones, deposits, duty periods, requests and acknowledgements; the audit trail keeps its
entries by record number without their reasons, and still verifies; a linked account is
disabled and keeps its username. On SQLite, afterwards, the name, badge and IMEIs are in
neither the database file nor its write-ahead log (read as raw bytes)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from kiosk.extensions import db
from register import audit, erasure
from register.errors import ValidationError
from register.models import (
    AuditEvent,
    Deposit,
    Device,
    DutyPeriod,
    ExceptionDecision,
    ExceptionRequest,
    KioskEvent,
    Person,
    PolicyAcknowledgement,
    ScanReceipt,
    User,
    UserSession,
)
from tests.conftest import PASSWORD, School, scan_code
from tests.data_subject_setup import (
    BOB_ACCOUNT,
    DECLINED_NOTE,
    REQUEST_REASON,
    give_bob_everything,
)

REASON = "Asked in writing on 3 March"


def _alice_scans(session: Session, school: School) -> None:
    """Someone else's stored answer and page event, which an erasure of Bob leaves alone."""
    scan_code(session, school.staff_kiosk.id, school.alice_phone.label_code, key="alice-1",
              source="scanner")


def test_erasing_removes_everything_about_them_and_the_trail_still_verifies(session, school):
    everything = give_bob_everything(session, school)
    _alice_scans(session, school)
    bob = session.get_one(Person, everything.person_id)

    erased = erasure.erase_person(session, bob, REASON, "admin", everything.now)
    session.commit()

    assert erased.removed == {
        "phones": 2, "deposits": 1, "duty periods": 1, "exception requests": 2,
        "decisions": 2, "policy acknowledgements": 1,
        "kiosk screen events and scan answers": 4}  # two scans: an answer and an event each
    assert session.get(Person, everything.person_id) is None
    for model in (ExceptionRequest, ExceptionDecision, PolicyAcknowledgement):
        assert session.scalars(select(model)).all() == []  # only Bob had any
    assert set(session.scalars(select(Device.owner_id))) == {school.alice.id, school.carol.id}
    assert set(session.scalars(select(DutyPeriod.person_id))) == {school.alice.id}
    assert set(session.scalars(select(Deposit.device_id))) == {school.alice_phone.id}

    account = session.get_one(User, everything.account_id)
    assert (account.username, account.active, account.email, account.person_id) == (
        BOB_ACCOUNT, False, "", None)
    assert all(s.ended_at is not None for s in session.scalars(
        select(UserSession).where(UserSession.user_id == account.id)))

    entry = session.get_one(AuditEvent, erased.erasure_entry_id)
    assert (entry.action, entry.subject, entry.actor) == (
        "person.erase", f"person:{everything.person_id}", "admin")
    assert entry.detail.startswith(f"{REASON} (removed: 2 phones, 1 deposit, 1 duty period")
    details = " ".join(session.scalars(select(AuditEvent.detail)))
    for gone in ("Bob", REQUEST_REASON, DECLINED_NOTE, "Kept on silent", "replaced by a new"):
        assert gone not in details
    result = audit.verify(session)
    assert result.intact and result.redacted == erased.audit_entries_blanked > 0

    assert not any("Bob" in str(data) for data in session.scalars(select(KioskEvent.data)))
    answers = {key: body for key, body in session.execute(
        select(ScanReceipt.key, ScanReceipt.body))}
    assert answers["deposit-1"] == answers["collect-1"] == erasure.ERASED_ANSWER
    assert answers["alice-1"]["person"] == "Alice"
    assert any("Alice" in str(data) for data in session.scalars(select(KioskEvent.data)))
    assert session.get(Person, school.alice.id) is not None
    assert session.get(Person, school.carol.id) is not None


@pytest.mark.parametrize(("reason", "refusal"), [
    ("   ", "Give a reason for the erasure"),
    ("bob asked at the office", "The reason contains “Bob”, part of their name"),
    ("Phone 354178036859789 sold", "must not hold a long number"),
])
def test_a_reason_that_is_blank_names_them_or_holds_an_imei_is_refused(session, school,
                                                                       reason, refusal):
    with pytest.raises(ValidationError, match=refusal):
        erasure.erase_person(session, school.bob, reason, "admin", give_bob_everything(
            session, school).now)
    session.rollback()
    assert session.get(Person, school.bob.id) is not None


def test_an_admin_cannot_erase_the_person_their_own_account_is(session, school):
    everything = give_bob_everything(session, school)
    with pytest.raises(ValidationError, match="you cannot erase yourself"):
        erasure.erase_person(session, school.bob, REASON, BOB_ACCOUNT, everything.now,
                             acting_user_id=everything.account_id)
    session.rollback()
    assert session.get_one(User, everything.account_id).active


def test_a_person_whose_phone_is_in_a_locker_is_not_erased_until_it_is_back(session, school):
    _alice_scans(session, school)  # her phone goes into a locker
    with pytest.raises(ValidationError, match=r"Their Test A1 is in locker \d \(Staff room\)"):
        erasure.erase_person(session, school.alice, REASON, "admin", datetime.now(UTC))
    session.rollback()
    assert session.get(Person, school.alice.id) is not None


# --- the raw bytes, on SQLite ----------------------------------------------------------------

def _raw(database: Path) -> bytes:
    wal = Path(f"{database}-wal")
    return database.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_after_erase_person_the_name_badge_and_imeis_are_in_neither_file_nor_wal(
        app, runner, web_school, database_url_for_test):
    if not database_url_for_test.startswith("sqlite"):
        pytest.skip("the raw bytes of a SQLite file (PostgreSQL: see the README)")
    database = Path(make_url(database_url_for_test).database or "")
    with app.app_context(), Session(db.engine) as session:
        everything = give_bob_everything(session, web_school)
    secrets = [b"Bob Brown", b"bob brown", web_school.bob.badge_id.encode(),
               web_school.bob_phone.imei.encode(), web_school.bob_work_phone.imei.encode(),
               web_school.bob_phone.label_code.encode(), REQUEST_REASON.encode()]
    before = _raw(database)
    assert all(secret in before for secret in secrets)  # else this test proves nothing

    result = runner.invoke(args=["erase-person", str(everything.person_id), "--reason", REASON,
                                 "--yes"])
    assert result.exit_code == 0, result.output
    assert f"Person #{everything.person_id} is erased: removed 2 phones" in result.output

    after = _raw(database)
    assert [secret for secret in secrets if secret in after] == []
    assert b"Alice Adams" in after and web_school.alice_phone.imei.encode() in after
    verified = runner.invoke(args=["audit-verify"])
    assert verified.exit_code == 0 and "Audit trail intact" in verified.output


# --- the command -----------------------------------------------------------------------------

def _on_register(app, person_id: int) -> bool:
    with app.app_context():
        return db.session.get(Person, person_id) is not None


def test_the_command_shows_what_goes_and_an_n_answer_erases_nothing(app, runner, web_school):
    result = runner.invoke(args=["erase-person", str(web_school.bob.id), "--reason", REASON],
                           input="n\n")
    assert result.exit_code == 1
    assert f"Erasing person #{web_school.bob.id}, Bob Brown (Staff) removes:" in result.output
    assert "  2 phones" in result.output and "Nothing was erased." in result.output
    assert _on_register(app, web_school.bob.id)


def test_the_command_refuses_an_unknown_person_and_a_blank_reason(app, runner, web_school):
    unknown = runner.invoke(args=["erase-person", "999", "--reason", REASON, "--yes"])
    assert unknown.exit_code == 1 and "There is no person #999" in unknown.output
    blank = runner.invoke(args=["erase-person", str(web_school.bob.id), "--reason", " ",
                                "--yes"])
    assert blank.exit_code == 1 and "Give a reason for the erasure" in blank.output
    assert _on_register(app, web_school.bob.id)


# --- the admin's pages -----------------------------------------------------------------------

def test_the_confirmation_says_what_goes_and_what_stays(client, web_school):
    client.post("/login", data={"username": "admin", "password": PASSWORD})
    page = client.get(f"/admin/people/{web_school.bob.id}/erase").get_data(as_text=True)
    assert "Erase Bob Brown?" in page and "<li>2 phones</li>" in page
    assert "kept for the audit retention (2 years)" in " ".join(page.split())
    assert 'name="csrf_token"' in page


def test_a_wrong_confirmation_erases_nothing_and_the_right_one_erases(app, client, web_school):
    client.post("/login", data={"username": "admin", "password": PASSWORD})
    url = f"/admin/people/{web_school.bob.id}/erase"
    wrong = client.post(url, data={"reason": REASON, "confirm": "Bob"})
    assert wrong.status_code == 422
    assert "To confirm, type their name exactly" in wrong.get_data(as_text=True)
    assert _on_register(app, web_school.bob.id)

    done = client.post(url, data={"reason": REASON, "confirm": "  bob  BROWN "})
    page = done.get_data(as_text=True)
    assert done.status_code == 200 and "Erased" in page
    assert f"Person #{web_school.bob.id} is no longer on the register." in page
    assert "Bob" not in page and "<li>2 phones</li>" in page and "<li>1 phone" not in page
    assert not _on_register(app, web_school.bob.id)
    assert client.get(f"/office/people/{web_school.bob.id}").status_code == 404
    assert client.post(url, data={"reason": REASON, "confirm": "ERASE"}).status_code == 404


def test_an_admin_linked_to_the_person_cannot_erase_them(app, client, web_school):
    with app.app_context(), Session(db.engine) as session:
        admin = session.scalars(select(User).where(User.username == "admin")).one()
        admin.person_id = web_school.bob.id
        session.commit()
    client.post("/login", data={"username": "admin", "password": PASSWORD})
    url = f"/admin/people/{web_school.bob.id}/erase"
    assert "you cannot erase yourself" in client.get(url).get_data(as_text=True)
    refused = client.post(url, data={"reason": REASON, "confirm": "ERASE"})
    assert refused.status_code == 422
    assert "you cannot erase yourself" in refused.get_data(as_text=True)
    assert _on_register(app, web_school.bob.id)
