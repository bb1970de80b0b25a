"""Who is at the kiosk: a badge number acts only when a reader read it. Typed by hand or on
the keypad it names the person (first name only) and does nothing; a phone's label or IMEI
typed still acts (it is read off the phone in hand). The public screen never shows a surname
or an exception's category."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from kiosk.extensions import db
from register import scans
from register.models import Deposit, LockCommand
from tests.conftest import pair_browser, scan_code

TYPED_BADGE_SENTENCE = ("Hello Alice: badge numbers typed by hand cannot collect or deposit. "
                        "Please tap your badge or scan your phone's label.")


def deposits(session) -> int:
    return session.scalar(select(func.count()).select_from(Deposit)) or 0


# --- the service layer ----------------------------------------------------------------------

def test_a_badge_typed_or_keyed_only_names_the_person(session, school):
    for entry in (scans.TYPED, scans.KEYPAD):
        shown = scan_code(session, school.staff_kiosk.id, school.alice.badge_id, entry=entry)
        assert (shown.outcome, shown.reason, shown.locker) == ("refused", "typed_badge", None)
        assert str(shown) == TYPED_BADGE_SENTENCE
        assert "Adams" not in str(shown.body)
    assert deposits(session) == 0
    assert session.scalars(select(LockCommand)).all() == [], "no locker opened"


def test_a_typed_badge_with_two_phones_lists_none_of_them(session, school):
    shown = scan_code(session, school.staff_kiosk.id, school.bob.badge_id, entry=scans.TYPED)
    assert (shown.reason, shown.body.get("choices")) == ("typed_badge", None)


def test_a_scanned_badge_deposits_and_collects(session, school):
    shown = scan_code(session, school.staff_kiosk.id, school.alice.badge_id,
                      entry=scans.SCANNER)
    assert (shown.outcome, shown.locker, shown.person) == ("deposited", 1, "Alice")
    shown = scan_code(session, school.staff_kiosk.id, school.alice.badge_id,
                      datetime.now(UTC) + timedelta(minutes=2), entry=scans.SCANNER)
    assert shown.outcome == "collected"


def test_the_agents_badge_reader_is_presence_whatever_the_entry(session, school):
    shown = scan_code(session, school.staff_kiosk.id, school.alice.badge_id,
                      source=scans.RFID, entry=scans.TYPED)
    assert shown.outcome == "deposited"


def test_a_typed_label_or_imei_still_deposits(session, school):
    label = scan_code(session, school.staff_kiosk.id, school.alice_phone.label_code,
                      entry=scans.TYPED)
    assert (label.outcome, label.locker) == ("deposited", 1)
    imei = scan_code(session, school.staff_kiosk.id, school.carol_phone.imei,
                     entry=scans.KEYPAD)
    assert (imei.outcome, imei.locker) == ("deposited", 3)


# --- the kiosk page and the agent's API ----------------------------------------------------

def test_the_page_counts_a_code_it_does_not_say_was_scanned_as_typed(app, client, web_school):
    pair_browser(client)
    typed = client.post("/kiosk/scan", json={"code": web_school.alice.badge_id})
    assert (typed.status_code, typed.json["reason"]) == (403, "typed_badge")
    assert typed.json["message"] == TYPED_BADGE_SENTENCE
    keyed = client.post("/kiosk/scan", json={"code": web_school.alice.badge_id,
                                             "entry": "keypad"})
    assert keyed.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Deposit)) == 0
    scanned = client.post("/kiosk/scan", json={"code": web_school.alice.badge_id,
                                               "entry": "scanner"})
    assert (scanned.status_code, scanned.json["outcome"]) == (200, "deposited")
    label = client.post("/kiosk/scan", json={"code": web_school.carol_phone.label_code,
                                             "entry": "typed"})
    assert (label.status_code, label.json["outcome"], label.json["person"]) == (
        200, "deposited", "Carol")


def test_the_page_cannot_pass_for_the_agents_reader(client, web_school):
    pair_browser(client)
    for body in ({"source": "rfid"}, {"source": "scanner"}, {"entry": "telepathy"}):
        response = client.post("/kiosk/scan", json={"code": web_school.alice.badge_id, **body})
        assert (response.status_code, response.json["reason"]) == (400, "bad_request"), body
    assert "source page" in client.post("/kiosk/scan", json={
        "code": web_school.alice.badge_id, "source": "rfid"}).json["message"]


def test_the_agents_api_still_acts_on_reader_scans(client, web_school):
    bearer = {"Authorization": f"Bearer {web_school.staff_kiosk_token}"}
    # The second read, within the second-scan guard, is held: nothing more is done.
    for source, outcome in (("rfid", "deposited"), ("scanner", "already_deposited")):
        response = client.post("/api/v1/scan", json={"code": web_school.alice.badge_id,
                                                     "source": source}, headers=bearer)
        assert (response.status_code, response.json["outcome"]) == (200, outcome)
    typed = client.post("/api/v1/scan", json={"code": web_school.alice.badge_id,
                                              "entry": "typed"}, headers=bearer)
    assert typed.json["reason"] == "typed_badge", "an integration may say so itself"


def test_identify_shows_the_first_name_and_never_the_category(app, client, web_school):
    pair_browser(client)
    asked = client.post("/kiosk/exception-request", json={
        "code": web_school.alice.badge_id, "category": "emergency", "reason": "Son ill",
        "ends_on": datetime.now(ZoneInfo("Europe/London")).date().isoformat(), "until": None})
    assert asked.status_code == 201, asked.json
    assert asked.json["person"] == "Alice" and "category" not in asked.json["request"]
    identified = client.post("/kiosk/identify", json={"code": web_school.alice.badge_id})
    assert identified.status_code == 200
    shown = identified.get_data(as_text=True)
    assert identified.json["person"] == identified.json["first_name"] == "Alice"
    for private in ("Adams", "emergency", "Emergency", "Son ill"):
        assert private not in shown
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Deposit)) == 0
