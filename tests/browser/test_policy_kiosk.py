"""The policy, acknowledged at the kiosk, in Chromium (issue 11): a scan by someone who has
not read the current version acts as always and shows the summary beside the result; tapping
"I have read it" records it; the next scan does not ask; a new version is asked again."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.extensions import db
from register.models import PolicyAcknowledgement
from tests.conftest import set_rescan_guard_in
from tests.test_policy_web import SUMMARY, publish

pytestmark = pytest.mark.browser


def test_the_kiosk_asks_until_read_and_again_after_a_new_version(kiosk, app, web_school,
                                                                 camera):
    set_rescan_guard_in(app, 0)  # the same phone again soon after: collected, not held
    publish(app, "2026-27", date(2026, 9, 1))
    page, code = kiosk.page, web_school.alice_phone.label_code

    kiosk.scan(code)
    kiosk.expect_result("Phone locked away", "Locker 1")  # the scan did not wait for it
    expect(page.locator("#policy-title")).to_have_text("Our phone policy · 2026-27")
    expect(page.locator("#policy-summary")).to_have_text(SUMMARY)
    expect(page.locator("#policy-whole")).to_have_text(
        "The whole policy is on paper at the office.")
    camera.kiosk(page, "policy-ask")

    page.get_by_role("button", name="I have read it").click()
    expect(page.locator("#policy-answer")).to_have_text(
        "Thank you, Alice: recorded that you have read it.")
    expect(page.get_by_role("button", name="I have read it")).to_be_hidden()
    camera.kiosk(page, "policy-thanks")
    with app.app_context(), Session(db.engine) as session:
        assert session.scalars(select(PolicyAcknowledgement.via)).all() == ["kiosk"]

    page.wait_for_timeout(1_000)  # within a second it is the scanner repeating itself
    kiosk.scan(code)
    kiosk.expect_result("Phone collected", "Locker 1")
    expect(page.locator("#result-policy")).to_be_hidden()

    publish(app, "2027-28", date(2027, 9, 1))  # the next annual review
    page.wait_for_timeout(1_000)
    kiosk.scan(code)
    kiosk.expect_result("Phone locked away", "Locker 1")
    expect(page.locator("#policy-title")).to_have_text("Our phone policy · 2027-28")
    expect(page.get_by_role("button", name="I have read it")).to_be_visible()
