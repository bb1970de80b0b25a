"""The kiosk screen in a real browser, driven as staff and a USB scanner drive it at 08:00."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

MIN_TARGET_PX = 44  # WCAG 2.5.5 target size


def test_scanner_deposits_then_collects(kiosk, web_school, camera):
    camera.kiosk(kiosk.page, "idle")
    code = web_school.alice_phone.label_code

    kiosk.scan(code)
    kiosk.expect_result("Phone locked away", "Locker 1")
    expect(kiosk.page.locator("#result-message")).to_have_text(
        "Alice, put your phone in locker 1 and close the door.")
    expect(kiosk.page.locator("#result-time")).to_contain_text("Locked away at")
    camera.kiosk(kiosk.page, "deposited")

    # The same code again soon after is held by the guard: nothing changes until a tap says so.
    kiosk.page.wait_for_timeout(1_000)  # within a second it is the scanner repeating itself
    kiosk.scan(code)
    kiosk.expect_result("Already in locker 1")
    kiosk.page.get_by_role("button", name="Take it out again").click()
    kiosk.expect_result("Phone collected", "Locker 1")
    expect(kiosk.page.locator("#result-message")).to_contain_text("your phone is in locker 1")
    camera.kiosk(kiosk.page, "collected")


def test_keypad_types_a_code_when_the_scanner_fails(kiosk, web_school, camera):
    page = kiosk.page
    page.get_by_role("button", name="Type a code instead").click()
    keypad = page.locator("#keypad")
    expect(keypad).to_be_visible()
    code = web_school.carol_phone.label_code
    for key in code:
        keypad.get_by_role("button", name=key, exact=True).click()
    expect(page.locator("#typed")).to_have_text(code)
    camera.kiosk(page, "keypad")
    assert_fits_without_scrolling(page)
    assert_touch_targets(page, "#keypad button")

    keypad.get_by_role("button", name="OK").click()
    kiosk.expect_result("Phone locked away", "Locker 3")  # Carol's own locker


def test_badge_with_two_phones_asks_which(kiosk, web_school, camera):
    kiosk.scan(web_school.bob.badge_id)
    kiosk.expect_result("Choose a phone")
    expect(kiosk.page.locator("#result-message")).to_have_text("Bob, which phone?")
    choices = kiosk.page.locator("#choices button")
    expect(choices.locator(".choice-name")).to_have_text(["Test B1", "Test B2"])
    expect(choices.locator(".choice-where")).to_have_text(["Not in a locker"] * 2)
    expect(kiosk.page.locator("#done")).to_contain_text("Cancel")  # nothing was done yet
    camera.kiosk(kiosk.page, "choose")
    assert_touch_targets(kiosk.page, "#choices button, #done")

    choices.filter(has_text="Test B2").click()
    kiosk.expect_result("Phone locked away", "Locker 1")
    expect(kiosk.page.locator("#result-message")).to_contain_text("Bob, put your phone")


def test_unknown_code_is_refused_kindly_then_the_screen_goes_idle(kiosk, camera):
    kiosk.scan("0000000001")
    kiosk.expect_result("Code not recognised")
    expect(kiosk.page.locator("#result-message")).to_have_text(
        "We don't recognise that code. Please try again or see the office.")
    expect(kiosk.page.locator("#result-icon")).to_have_text("!")
    camera.kiosk(kiosk.page, "refused")

    # Nobody touches it: back to idle after KIOSK_IDLE_SECONDS, ready for the next scan.
    expect(kiosk.page.locator("#idle")).to_be_visible(timeout=10_000)
    expect(kiosk.page.locator("#result")).to_be_hidden()
    kiosk.wait_for_scanner_focus()


def test_idle_screen_fits_and_is_touchable_at_both_sizes(kiosk):
    for size in ({"width": 800, "height": 480}, {"width": 1280, "height": 800}):
        kiosk.page.set_viewport_size(size)
        assert_fits_without_scrolling(kiosk.page)
        assert_touch_targets(kiosk.page, "#idle button")


def assert_fits_without_scrolling(page: Page) -> None:
    overflow = page.evaluate("""() => {
        const root = document.scrollingElement;
        const outside = [...document.querySelectorAll('main button, main h1, main p, output')]
          .filter((el) => el.offsetParent !== null)
          .filter((el) => { const r = el.getBoundingClientRect();
                            return r.top < 0 || r.left < 0 || r.bottom > innerHeight + 0.5
                                   || r.right > innerWidth + 0.5; })
          .map((el) => el.id || el.textContent.trim());
        return { scroll: root.scrollHeight > innerHeight || root.scrollWidth > innerWidth,
                 outside };
    }""")
    assert overflow == {"scroll": False, "outside": []}, overflow


def assert_touch_targets(page: Page, selector: str) -> None:
    buttons = page.locator(selector)
    assert buttons.count() > 0
    for index in range(buttons.count()):
        box = buttons.nth(index).bounding_box()
        assert box is not None
        assert box["width"] >= MIN_TARGET_PX and box["height"] >= MIN_TARGET_PX, (
            buttons.nth(index).inner_text(), box)
