"""The kiosk page tells a scanner from a person by the time between keys: a badge number typed
by hand (or on the keypad) only names the person; read by a scanner, it deposits."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SENTENCE = ("Hello Alice: badge numbers typed by hand cannot collect or deposit. Please tap "
            "your badge or scan your phone's label.")


def test_a_badge_typed_by_hand_names_the_person_and_a_scanned_one_deposits(
        kiosk, web_school, camera):
    page, badge = kiosk.page, web_school.alice.badge_id
    posted = []
    page.on("request", lambda r: posted.append(r.post_data_json)
            if r.url.endswith("/kiosk/scan") else None)

    kiosk.type_by_hand(badge)  # a person at a keyboard: 150 ms a key
    kiosk.expect_result("Please tap your badge")
    expect(page.locator("#result-message")).to_have_text(SENTENCE)
    camera.kiosk(page, "typed-badge")

    page.get_by_role("button", name="Done").click()
    page.wait_for_timeout(1_100)  # the same code within a second is a scanner repeating itself
    page.get_by_role("button", name="Type a code instead").click()
    for key in badge:  # the on-screen keypad is typing too
        page.locator("#keys").get_by_role("button", name=key, exact=True).click()
    page.get_by_role("button", name="OK").click()
    kiosk.expect_result("Please tap your badge")

    page.get_by_role("button", name="Done").click()
    page.wait_for_timeout(1_100)  # the same code within a second is a scanner repeating itself
    kiosk.scan(badge)  # a keyboard-mode reader: the whole number in a few ms a key
    kiosk.expect_result("Phone locked away", "Locker 1")
    assert [(p["code"], p["entry"]) for p in posted] == [
        (badge, "typed"), (badge, "keypad"), (badge, "scanner")]

    # A phone's label typed by hand is on the phone in hand: it acts.
    page.wait_for_timeout(200)
    kiosk.type_by_hand(web_school.carol_phone.label_code)
    kiosk.expect_result("Phone locked away", "Locker 3")
