"""The kiosk page at the edges of a real morning queue (issue 10): a second scan that would
have collected the phone just deposited, leaving after an exception has ended, someone with no
phone, SLT's decision reaching the requester, two people scanning a moment apart, a request
form that survives someone else's scan, and the tones that tell a queue what happened."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk import kiosk_views
from kiosk.extensions import db
from register import exception_requests, people, scans, settings
from register.models import Deposit, DutyPeriod, Person, User
from tests.browser import test_kiosk_requests as asking
from tests.browser.conftest import KioskScreen, pair_page
from tests.browser.test_kiosk_requests import LONDON, T0, agreed, tap, type_on_screen
from tests.browser.test_kiosk_screen import assert_fits_without_scrolling, assert_touch_targets

pytestmark = pytest.mark.browser

# The server and the page both think it is 07:50 on a Tuesday (time runs on from there), and
# the staff-room kiosk is paired and idle.
morning = asking.morning
kiosk = asking.kiosk
IDLE_SECONDS = 10  # long enough to look at two cards on a loaded test machine


@pytest.fixture
def app_config(app_config: dict[str, object]) -> dict[str, object]:
    return {**app_config, "KIOSK_IDLE_SECONDS": IDLE_SECONDS}


def open_deposits(app: Flask) -> list[Deposit]:
    with app.app_context(), Session(db.engine, expire_on_commit=False) as session:
        return list(session.scalars(select(Deposit).where(Deposit.collected_at.is_(None))))


def all_deposits(app: Flask) -> list[Deposit]:
    with app.app_context(), Session(db.engine, expire_on_commit=False) as session:
        return list(session.scalars(select(Deposit).order_by(Deposit.id)))


def duty_periods(app: Flask, person_id: int) -> list[DutyPeriod]:
    with app.app_context(), Session(db.engine, expire_on_commit=False) as session:
        return list(session.scalars(select(DutyPeriod).where(DutyPeriod.person_id == person_id)
                                    .order_by(DutyPeriod.id)))


def server_time(monkeypatch: pytest.MonkeyPatch, hour: int, minute: int) -> None:
    """The server thinks it is this time today (the page's clock is its own)."""
    moment = T0.astimezone(LONDON).replace(hour=hour, minute=minute)
    monkeypatch.setattr(scans, "utc_now", lambda: moment)
    monkeypatch.setattr(kiosk_views, "utc_now", lambda: moment)


def test_a_second_scan_soon_after_asks_before_taking_the_phone_out(kiosk, app, web_school,
                                                                   camera):
    page = kiosk.page
    kiosk.scan(web_school.alice_phone.label_code)
    kiosk.expect_result("Phone locked away", "Locker 1")
    page.wait_for_timeout(1_100)  # past the scanner's own repeat

    kiosk.scan(web_school.alice.badge_id)  # her badge this time: the same phone
    kiosk.expect_result("Already in locker 1")
    expect(page.locator("#result-message")).to_have_text("Alice, your phone stays locked away.")
    expect(page.locator("#result-detail")).to_have_text("Nothing was changed.")
    expect(page.locator("#result .result-icon")).to_have_text("!")  # not by colour alone
    assert len(open_deposits(app)) == 1
    assert_fits_without_scrolling(page)
    assert_touch_targets(page, "#result button:visible")
    camera.kiosk(page, "guard-already-in")

    with page.expect_request("**/kiosk/scan") as sent:
        tap(page, "Take it out again")
    body = sent.value.post_data_json
    assert (body["code"], body["confirm"], body["entry"]) == (
        web_school.alice.badge_id, True, "scanner")
    kiosk.expect_result("Phone collected", "Locker 1")
    expect(page.locator(".result")).to_have_count(1)  # her answer took her card's place
    assert open_deposits(app) == []
    assert len(all_deposits(app)) == 1


def test_a_second_scan_soon_after_collecting_asks_before_putting_it_back(
        kiosk, app, web_school, monkeypatch, camera):
    page = kiosk.page
    server_time(monkeypatch, 7, 50)
    kiosk.scan(web_school.alice_phone.label_code)
    kiosk.expect_result("Phone locked away", "Locker 1")
    page.wait_for_timeout(1_100)
    server_time(monkeypatch, 12, 30)  # she collects it at lunch
    kiosk.scan(web_school.alice.badge_id)
    kiosk.expect_result("Phone collected", "Locker 1")
    page.wait_for_timeout(1_100)

    kiosk.scan(web_school.alice_phone.label_code)  # the reader or her hand, again
    kiosk.expect_result("Already collected from locker 1")
    expect(page.locator("#result-message")).to_have_text("Alice, your phone stays with you.")
    expect(page.locator("#result-detail")).to_have_text("Nothing was changed.")
    assert open_deposits(app) == []
    assert_touch_targets(page, "#result button:visible")
    camera.kiosk(page, "guard-already-collected")

    with page.expect_request("**/kiosk/scan") as sent:
        tap(page, "Put it back in a locker")
    assert sent.value.post_data_json["confirm"] is True
    kiosk.expect_result("Phone locked away", "Locker 1")
    assert len(open_deposits(app)) == 1


def scan_after_the_exception_ended(kiosk, app, web_school, monkeypatch) -> None:
    """Alice on duty with her phone until 15:30, scanning at 15:45 to go home: the choice."""
    agreed(app, web_school.alice.id)  # until 15:30
    kiosk.scan(web_school.alice.badge_id)
    kiosk.expect_result("On duty with your phone")
    server_time(monkeypatch, 15, 45)  # going home, a quarter of an hour after it ended
    kiosk.page.locator("#done").click()
    kiosk.page.wait_for_timeout(1_100)  # past the scanner's own repeat
    kiosk.scan(web_school.alice.badge_id)
    kiosk.expect_result("Your exception has ended")


def test_leaving_after_the_exception_ended_is_a_choice(kiosk, app, web_school, monkeypatch,
                                                       camera):
    page = kiosk.page
    scan_after_the_exception_ended(kiosk, app, web_school, monkeypatch)
    expect(page.locator("#result-detail")).to_have_text("Nothing is done until you choose.")
    choices = page.locator("#choices button .choice-name")
    expect(choices).to_have_text(["Going home", "Lock my phone away"])
    assert open_deposits(app) == []
    assert_fits_without_scrolling(page)
    assert_touch_targets(page, "#result button:visible")
    camera.kiosk(page, "leave-choice")

    tap(page, "Going home")
    kiosk.expect_result("Signed out")
    [period] = duty_periods(app, web_school.alice.id)
    assert period.ended_at is not None and open_deposits(app) == []


def test_lock_my_phone_away_deposits(kiosk, app, web_school, monkeypatch):
    scan_after_the_exception_ended(kiosk, app, web_school, monkeypatch)
    tap(kiosk.page, "Lock my phone away")
    kiosk.expect_result("Phone locked away", "Locker 1")
    assert [d.device_id for d in open_deposits(app)] == [web_school.alice_phone.id]


def test_the_leave_choice_goes_back_to_idle_untouched(kiosk, app, web_school, monkeypatch):
    scan_after_the_exception_ended(kiosk, app, web_school, monkeypatch)
    kiosk.page.clock.fast_forward(29_000)
    expect(kiosk.page.locator("#result")).to_be_visible()
    kiosk.page.clock.fast_forward(2_000)
    expect(kiosk.page.locator("#idle")).to_be_visible()
    assert open_deposits(app) == [] and duty_periods(app, web_school.alice.id)[0].ended_at is None


def test_someone_with_no_phone_signs_in_and_out(kiosk, app, web_school, camera):
    with app.app_context(), Session(db.engine, expire_on_commit=False) as session:
        governor = people.add_person(session, people.PersonDetails(
            name="Grace Gill", category="governor", badge_id="0000000999"), "test")
        session.commit()
    page = kiosk.page
    kiosk.scan("0000000999")
    kiosk.expect_result("Signed in, no phone registered")
    expect(page.locator("#result-message")).to_have_text("Hello, Grace.")
    expect(page.locator("#result-time")).to_have_text("Signed in at 07:50")
    camera.kiosk(page, "signed-in-no-phone")
    page.wait_for_timeout(1_100)
    kiosk.scan("0000000999")
    kiosk.expect_result("Already signed in")
    tap(page, "Sign out now")
    kiosk.expect_result("Signed out")
    expect(page.locator("#result-detail")).to_have_text("No phone registered.")
    [period] = duty_periods(app, governor.id)
    assert (period.start_kind, period.ended_at is not None) == ("no_phone", True)


def declined(app: Flask, person_id: int) -> None:
    """Alice asked by phone; Dana declined it, with a reason the kiosk must never show."""
    with app.app_context(), Session(db.engine) as session:
        head = people.add_person(session, people.PersonDetails(name="Dana Hughes",
                                                               category="staff"), "test")
        dana = User(username="dana", password_hash="x", role="slt", person=head)
        session.add(dana)
        window = exception_requests.Window.today_until(T0.astimezone(LONDON), time(15, 30))
        request = exception_requests.request_exception(
            session, session.get_one(Person, person_id), "other", "Parcel coming", window,
            "office", "office", LONDON, T0)
        exception_requests.decline(session, request, dana, "Use the office phone", T0)
        session.commit()


NOT_AGREED = ("Your request for today was not agreed. Please ask Dana (SLT) if you need to "
              "talk about it.")


def test_the_requester_is_told_at_their_next_scan_once(kiosk, app, web_school, camera):
    declined(app, web_school.alice.id)
    page = kiosk.page
    kiosk.scan(web_school.alice_phone.label_code)
    kiosk.expect_result("Phone locked away", "Locker 1")
    notice = page.locator("#result-notice")
    expect(notice).to_have_text(NOT_AGREED)
    expect(page.locator("#result")).not_to_contain_text("Parcel")
    expect(page.locator("#result")).not_to_contain_text("office phone")
    assert_fits_without_scrolling(page)
    camera.kiosk(page, "notice-on-scan")

    page.locator("#done").click()
    page.wait_for_timeout(1_100)
    kiosk.scan(web_school.alice.badge_id)
    kiosk.expect_result("Already in locker 1")
    expect(notice).to_be_hidden()  # told once


def test_the_requester_is_told_when_asking_again(kiosk, app, web_school, camera):
    declined(app, web_school.alice.id)
    page = kiosk.page
    page.locator("#idle .ask-start").click()
    kiosk.scan(web_school.alice.badge_id)
    kiosk.expect_result("About your request")
    expect(page.locator("#result-notice")).to_have_text(NOT_AGREED)
    assert_fits_without_scrolling(page)
    camera.kiosk(page, "notice-on-asking")
    tap(page, "Ask again")
    expect(page.locator("#ask-title")).to_have_text("1 of 3: Why do you need your phone?")
    expect(page.locator("#ask-who")).to_have_text("Alice")


def test_two_scans_a_moment_apart_both_stay_readable(kiosk, app, web_school, camera):
    page = kiosk.page
    kiosk.scan(web_school.alice_phone.label_code)
    page.wait_for_timeout(300)
    kiosk.scan(web_school.carol_phone.label_code)
    cards = page.locator(".result")
    expect(cards).to_have_count(2)
    # Newest first; each person sees their own locker.
    expect(cards.locator(".locker")).to_have_text(["Locker 3", "Locker 1"])
    expect(cards.locator(".lead")).to_have_text([
        "Carol, put your phone in locker 3 and close the door.",
        "Alice, put your phone in locker 1 and close the door."])
    for size in ({"width": 800, "height": 480}, {"width": 1024, "height": 600}):
        page.set_viewport_size(size)
        assert_fits_without_scrolling(page)
        assert_touch_targets(page, ".result button:visible")
    page.set_viewport_size({"width": 800, "height": 480})
    camera.kiosk(page, "two-at-once")

    cards.nth(0).get_by_role("button", name="Done").click()  # Carol has read hers
    expect(cards).to_have_count(1)
    expect(page.locator("#result-locker")).to_have_text("Locker 1")  # Alice's is still there
    assert len(open_deposits(app)) == 2


def test_a_request_form_survives_someone_elses_scan(kiosk, app, web_school, camera):
    page = kiosk.page
    page.locator("#idle .ask-start").click()
    kiosk.scan(web_school.alice.badge_id)
    tap(page, "Other")
    type_on_screen(page, "dentist")
    page.locator("#reason-next").click()
    tap(page, "15:30")
    summary = "You are asking: Other, “Dentist”, today until 15:30."
    expect(page.locator("#ask-summary")).to_have_text(summary)

    kiosk.scan(web_school.alice.badge_id)  # the asker's own badge is still ignored
    expect(page.locator("#ask")).to_be_visible()
    kiosk.scan(web_school.carol_phone.label_code)  # Carol, behind her, deposits
    kiosk.expect_result("Phone locked away", "Locker 3")
    expect(page.locator("#ask")).to_be_hidden()
    expect(page.locator("#result-ask")).to_be_hidden()  # Alice's form is waiting underneath
    camera.kiosk(page, "form-under-a-result")

    page.locator("#done").click()
    expect(page.locator("#ask")).to_be_visible()
    expect(page.locator("#ask-title")).to_have_text("3 of 3: Until when?")
    expect(page.locator("#ask-who")).to_have_text("Alice")
    expect(page.locator("#ask-summary")).to_have_text(summary)
    expect(page.locator('#windows-time [aria-pressed="true"]')).to_have_text("15:30")
    page.locator("#ask-send").click()
    kiosk.expect_result("Request sent")
    [made] = _requests(app)
    assert (made.person_id, made.reason, made.category) == (web_school.alice.id, "Dentist",
                                                           "other")


def test_a_form_comes_back_by_itself_after_the_result(kiosk, web_school):
    page = kiosk.page
    page.locator("#idle .ask-start").click()
    kiosk.scan(web_school.alice.badge_id)
    tap(page, "Other")
    type_on_screen(page, "vet")
    kiosk.scan(web_school.carol_phone.label_code)
    kiosk.expect_result("Phone locked away", "Locker 3")
    page.clock.fast_forward((IDLE_SECONDS + 1) * 1000)
    expect(page.locator("#ask")).to_be_visible()
    expect(page.locator("#ask-title")).to_have_text("2 of 3: Say briefly why")
    expect(page.locator("#reason")).to_have_text("Vet")


def _requests(app: Flask) -> list[Any]:
    with app.app_context(), Session(db.engine, expire_on_commit=False) as session:
        return list(session.scalars(select(exception_requests.ExceptionRequest)))


# --- sound -----------------------------------------------------------------------------------

# Counts the tones the page starts, and their pitches, before the page's own script runs.
LISTEN = """
window.tones = [];
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) {
  window.tones.push(this.frequency.value);
  return start.apply(this, args);
};
"""


def tones(page: Page, count: int) -> list[float]:
    page.wait_for_function(f"() => window.tones.length >= {count}")
    page.wait_for_timeout(200)  # and no more
    return list(page.evaluate("() => window.tones.splice(0)"))


def test_a_tone_for_done_and_another_for_a_refusal(page: Page, app: Flask, web_school: Any):
    page.add_init_script(LISTEN)
    pair_page(page, app)
    screen = KioskScreen(page)
    expect(page.locator("body")).to_have_attribute("data-sound", "on")
    screen.scan(web_school.carol_phone.label_code)
    screen.expect_result("Phone locked away", "Locker 3")
    done = tones(page, 2)
    page.wait_for_timeout(1_100)
    screen.scan("0000000001")
    screen.expect_result("Code not recognised")
    refused = tones(page, 2)
    assert len(done) == len(refused) == 2
    assert done[1] > done[0] and refused[1] < refused[0]  # rising, then falling
    assert set(done).isdisjoint(refused)


def test_no_tone_when_the_school_turns_sound_off(page: Page, app: Flask, web_school: Any):
    with app.app_context(), Session(db.engine) as session:
        settings.put(session, settings.KIOSK_SOUND, settings.OFF, "test")
        session.commit()
    page.add_init_script(LISTEN)
    pair_page(page, app)
    screen = KioskScreen(page)
    expect(page.locator("body")).to_have_attribute("data-sound", "off")
    screen.scan(web_school.carol_phone.label_code)
    screen.expect_result("Phone locked away", "Locker 3")
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.tones.length") == 0
