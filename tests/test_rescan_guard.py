"""The second-scan guard (issue 10): a scan of the same phone or badge soon after its deposit,
or after going on duty under an exception, collects or signs out nothing unless confirmed; and
the other way, soon after collecting or signing out, it deposits or signs in nothing."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from register import duty, exception_requests
from register.exception_requests import Window
from register.models import Deposit, LockCommand, User
from tests.conftest import pair_browser, scan_code, set_rescan_guard

LONDON = ZoneInfo("Europe/London")
T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def scan(session, school, code, seconds: float, **options):
    return scan_code(session, school.staff_kiosk.id, code, T0 + timedelta(seconds=seconds),
                     LONDON, **options)


def open_deposits(session) -> int:
    session.commit()
    return session.scalar(select(func.count()).select_from(Deposit).where(
        Deposit.collected_at.is_(None)))


def agree_exception_until_1530(session, school) -> None:
    """Alice may keep her phone today until 15:30, agreed by the head before the day began."""
    head = User(username="head", password_hash="x", role="slt")
    session.add(head)
    request = exception_requests.request_exception(
        session, school.alice, "emergency", "Son ill", Window(T0.date(), T0.date(), None,
                                                              time(15, 30)),
        "office", "office", LONDON, T0 - timedelta(hours=1))
    exception_requests.approve(session, request, head, "", T0 - timedelta(minutes=30))
    session.commit()


def test_a_second_scan_within_a_minute_says_already_in_locker(session, school):
    assert scan(session, school, school.alice_phone.label_code, 0).outcome == "deposited"
    again = scan(session, school, school.alice_phone.label_code, 1.5)
    assert (again.outcome, again.locker, again.bank, again.person) == (
        "already_deposited", 1, "Staff room", "Alice")
    assert (str(again), again.can_confirm, again.off_duty) == ("Already in locker 1", True, False)
    assert open_deposits(session) == 1
    assert duty.current(session, school.alice.id) is not None  # still on duty
    assert len(session.scalars(select(LockCommand)).all()) == 1  # no locker opened again
    # By badge too, and up to the last second of the guard.
    assert scan(session, school, school.alice.badge_id, 59.9).outcome == "already_deposited"
    assert scan(session, school, school.alice.badge_id, 60).outcome == "collected"


def test_confirm_takes_it_out_again_on_purpose(session, school):
    scan(session, school, school.alice_phone.label_code, 0)
    taken = scan(session, school, school.alice_phone.label_code, 3, confirm=True)
    assert (taken.outcome, taken.locker, taken.off_duty) == ("collected", 1, True)
    assert open_deposits(session) == 0
    # Touched twice: the second finds nothing to take out, and deposits nothing.
    twice = scan(session, school, school.alice_phone.label_code, 4, confirm=True)
    assert (twice.outcome, twice.reason) == ("refused", "already_done")
    assert "not in a locker" in str(twice)
    assert open_deposits(session) == 0


def test_a_reader_repeating_a_held_card_changes_nothing(session, school):
    first = scan(session, school, school.alice.badge_id, 0, source="rfid")
    repeats = [scan(session, school, school.alice.badge_id, s, source="rfid")
               for s in (0.4, 0.8, 1.2, 30)]
    assert first.outcome == "deposited"
    assert {r.outcome for r in repeats} == {"already_deposited"}
    assert open_deposits(session) == 1


def test_under_an_exception_a_second_scan_does_not_sign_out(session, school):
    agree_exception_until_1530(session, school)
    assert scan(session, school, school.alice.badge_id, 0).outcome == "on_duty"
    again = scan(session, school, school.alice.badge_id, 2)
    assert (again.outcome, again.can_confirm, again.exception.until) == (
        "already_on_duty", True, "15:30")
    assert duty.current(session, school.alice.id) is not None
    out = scan(session, school, school.alice.badge_id, 3, confirm=True)
    assert (out.outcome, out.off_duty) == ("off_duty", True)
    assert duty.current(session, school.alice.id) is None


def test_the_guard_is_an_admin_setting(session, school):
    set_rescan_guard(session, 0)
    scan(session, school, school.alice_phone.label_code, 0)
    assert scan(session, school, school.alice_phone.label_code, 1).outcome == "collected"
    set_rescan_guard(session, 600)
    assert scan(session, school, school.alice_phone.label_code, 10).outcome == (
        "already_collected")  # the guard holds the other way too
    assert scan(session, school, school.alice_phone.label_code, 700).outcome == "deposited"
    assert scan(session, school, school.alice_phone.label_code, 1299).outcome == (
        "already_deposited")


def test_admins_set_the_guard_and_the_sound(app, client, auth, web_school):
    auth.login("admin")
    page = client.get("/admin/settings").get_data(as_text=True)
    assert 'name="rescan_guard_seconds"' in page and 'value="60"' in page
    assert 'name="kiosk_sound" value="on" checked' in page
    refused = client.post("/admin/settings", data={
        "idle_minutes": "30", "lifetime_hours": "12", "rescan_guard_seconds": "601"})
    assert refused.status_code == 400
    assert "Second scan within: give a number of seconds from 0 to 600." in refused.get_data(
        as_text=True)
    saved = client.post("/admin/settings", data={
        "idle_minutes": "30", "lifetime_hours": "12", "rescan_guard_seconds": "20"},
        follow_redirects=True).get_data(as_text=True)
    assert "A second scan within 20 seconds of a deposit asks before taking the phone out." in (
        saved)
    assert "Kiosk sounds off." in saved
    auth.logout()
    pair_browser(client)
    assert 'data-sound="off"' in client.get("/kiosk").get_data(as_text=True)


def test_office_and_slt_cannot_change_the_guard(app, client, auth, web_school):
    for role in ("office", "slt"):
        auth.login(role)
        assert client.post("/admin/settings", data={"rescan_guard_seconds": "0"}
                           ).status_code == 403
        auth.logout()


def test_answers_name_their_person_opaquely_so_the_page_replaces_only_their_card(
        session, school):
    """The page lets a person's newer result replace their older card: by ``holder``, which
    is one person whatever their first name, and neither their id nor their name."""
    by_label = scan(session, school, school.alice_phone.label_code, 0)
    by_badge = scan(session, school, school.alice.badge_id, 1)
    carol = scan(session, school, school.carol_phone.label_code, 2)
    assert by_label.holder == by_badge.holder
    assert carol.holder not in (None, by_label.holder)
    assert str(school.alice.id) != by_label.holder and "Alice" not in by_label.holder


def test_a_second_scan_soon_after_collecting_does_not_put_the_phone_back(session, school):
    scan(session, school, school.alice_phone.label_code, 0)
    assert scan(session, school, school.alice_phone.label_code, 100).outcome == "collected"
    again = scan(session, school, school.alice.badge_id, 101.5)
    assert (again.outcome, again.locker, again.bank, again.person) == (
        "already_collected", 1, "Staff room", "Alice")
    assert (str(again), again.can_confirm, again.off_duty) == (
        "Already collected from locker 1", True, False)
    assert open_deposits(session) == 0
    assert duty.current(session, school.alice.id) is None  # still off duty
    assert len(session.scalars(select(LockCommand)).all()) == 2  # no locker opened again
    # A reader repeating the label changes nothing either; past the guard it deposits.
    assert scan(session, school, school.alice_phone.label_code, 159.9,
                source="rfid").outcome == "already_collected"
    assert open_deposits(session) == 0
    assert scan(session, school, school.alice_phone.label_code, 160).outcome == "deposited"


def test_confirm_puts_it_back_on_purpose(session, school):
    scan(session, school, school.alice_phone.label_code, 0)
    scan(session, school, school.alice_phone.label_code, 100)
    back = scan(session, school, school.alice_phone.label_code, 103, confirm=True)
    assert (back.outcome, back.locker) == ("deposited", 1)
    assert open_deposits(session) == 1
    assert duty.current(session, school.alice.id) is not None


def test_taken_out_on_purpose_a_second_confirm_puts_nothing_back(session, school):
    scan(session, school, school.alice_phone.label_code, 0)
    assert scan(session, school, school.alice_phone.label_code, 3, confirm=True).outcome == (
        "collected")
    held = scan(session, school, school.alice_phone.label_code, 5)
    assert (held.outcome, held.can_confirm) == ("already_collected", False)
    twice = scan(session, school, school.alice_phone.label_code, 6, confirm=True)
    assert (twice.outcome, twice.reason) == ("refused", "already_done")
    assert open_deposits(session) == 0


def test_under_an_exception_a_second_scan_does_not_sign_back_in(session, school):
    agree_exception_until_1530(session, school)
    assert scan(session, school, school.alice.badge_id, 0).outcome == "on_duty"
    assert scan(session, school, school.alice.badge_id, 100).outcome == "off_duty"
    again = scan(session, school, school.alice.badge_id, 102, source="rfid")
    assert (again.outcome, str(again), again.can_confirm) == (
        "already_signed_out", "Already signed out", True)
    assert duty.current(session, school.alice.id) is None
    back = scan(session, school, school.alice.badge_id, 103, confirm=True)
    assert back.outcome == "on_duty"
    assert duty.current(session, school.alice.id) is not None
