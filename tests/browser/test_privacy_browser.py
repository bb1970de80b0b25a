"""The privacy notice from the kiosk's idle screen, in Chromium on the Pi's display (issue 11):
it opens from "How we use your information", Back returns to a kiosk that still scans, and an
untouched notice goes back to the kiosk by itself."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

MIN_TARGET_PX = 44
IDLE_MS = 120_000  # kiosk/privacy.py KIOSK_IDLE_SECONDS


def open_notice(page) -> None:
    page.get_by_role("link", name="How we use your information").click()
    page.wait_for_url("**/privacy?from=kiosk")
    expect(page.get_by_role("heading", level=1)).to_have_text("How we use your information")


def test_the_notice_opens_from_the_kiosk_and_back_returns_to_a_working_kiosk(
        kiosk, web_school, camera, artifacts):
    page = kiosk.page
    refused = []  # the Content-Security-Policy's reports: privacy.js must run under it
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.clock.install()
    camera.kiosk(page, "idle-with-privacy-link")
    open_notice(page)
    expect(page.get_by_role("heading", name="How long do we keep it?")).to_be_visible()
    expect(page.locator(".privacy-retention td.kept").first).to_have_text("13 months")
    back = page.get_by_role("link", name="Back", exact=True)
    box = back.bounding_box()
    assert box and box["height"] >= MIN_TARGET_PX and box["width"] >= MIN_TARGET_PX
    camera.kiosk(page, "privacy-notice")
    page.screenshot(path=artifacts / "kiosk-privacy-notice-full-800.png", full_page=True)
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # at the foot, Back too
    expect(page.get_by_role("link", name="Back to the kiosk")).to_be_in_viewport()

    back.click()
    page.wait_for_url("**/kiosk")
    expect(page.locator("#idle")).to_be_visible()
    kiosk.scan(web_school.alice_phone.label_code)
    kiosk.expect_result("Phone locked away", "Locker 1")

    # Left open and untouched, the notice goes back to the kiosk after two minutes.
    page.clock.fast_forward(30_000)  # the result clears; the idle screen is back
    expect(page.locator("#idle")).to_be_visible()
    open_notice(page)
    page.clock.fast_forward(IDLE_MS - 5_000)
    assert "/privacy" in page.url
    page.clock.fast_forward(10_000)
    page.wait_for_url("**/kiosk")
    expect(page.locator("#idle")).to_be_visible()
    assert refused == []
