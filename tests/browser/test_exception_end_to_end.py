"""Issue 4 end to end: asked at the kiosk, approved with taps on the SLT tablet, honoured by the
kiosk. Two browsers at once: the Pi's 800x480 kiosk and a 10-inch touch tablet in portrait."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.extensions import db
from register import people
from register.models import ExceptionRequest, User
from tests.browser.conftest import KioskScreen
from tests.conftest import FAST_HASH, PASSWORD

pytestmark = pytest.mark.browser

TABLET = {"width": 820, "height": 1180}


@pytest.fixture
def app_config(app_config: dict[str, object]) -> dict[str, object]:
    return {**app_config, "SLT_POLL_SECONDS": 0.5}  # the tablet asks often: the test stays short


@pytest.fixture
def head(app: Flask, web_school: Any) -> str:
    """Dana Hughes, head teacher: an SLT user who is a stakeholder too."""
    with app.app_context(), Session(db.engine) as session:
        dana = people.add_person(session, people.PersonDetails(name="Dana Hughes",
                                                               category="staff"), "test")
        session.add(User(username="dhughes", password_hash=FAST_HASH, role="slt",
                         person_id=dana.id))
        session.commit()
    return "dhughes"


@pytest.fixture
def tablet(browser: Browser, live_server: str, head: str) -> Iterator[Page]:
    """The head's tablet, touch only, signed in through the real form."""
    context = browser.new_context(base_url=live_server, viewport=TABLET, has_touch=True,
                                  is_mobile=True, locale="en-GB", timezone_id="Europe/London")
    context.set_default_timeout(5_000)
    context.route("**/*", lambda route, request: route.continue_()
                  if request.url.startswith(live_server) else route.abort())
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/login")
    page.get_by_label("Username").fill(head)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").tap()
    page.wait_for_url("**/slt/")
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the tablet: {errors}"


def statuses(app: Flask) -> list[str]:
    with app.app_context(), Session(db.engine) as session:
        return list(session.scalars(select(ExceptionRequest.status)))


def test_asked_at_the_kiosk_approved_on_the_tablet_honoured_at_the_kiosk(
        kiosk: KioskScreen, tablet: Page, app: Flask, web_school: Any, camera):
    expect(tablet.locator("#pending-list [data-request-id]")).to_have_count(0)
    tablet.evaluate("window.sameDocument = true")  # gone if the tablet reloads

    # Alice asks at the kiosk, with taps.
    page = kiosk.page
    page.locator("#idle .ask-start").click()
    kiosk.scan(web_school.alice.badge_id)
    page.get_by_role("button", name="Family or medical emergency").click()
    for letter in "son ill":
        if letter == " ":
            page.get_by_role("button", name="Space").click()
        else:
            page.locator(f'#qwerty [data-key="{letter}"]').click()
    page.locator("#reason-next").click()
    page.get_by_role("button", name="Today and tomorrow").click()
    page.locator("#ask-send").click()
    kiosk.expect_result("Request sent")
    expect(page.locator("#result-message")).to_have_text(
        "Waiting for SLT; please deposit your phone meanwhile.")
    assert statuses(app) == ["pending"]

    # It appears on the tablet by itself, and the head approves it with taps.
    card = tablet.locator("#pending-list [data-request-id]").filter(has_text="Alice Adams")
    expect(card).to_be_visible()
    expect(card).to_contain_text("Son ill")
    assert tablet.evaluate("window.sameDocument") is True
    tablet.screenshot(path=camera.folder / "e2e-tablet-request-arrived-820x1180.png")
    card.get_by_label("Conditions").tap()
    tablet.keyboard.type("Silent, used only in the staff room")
    card.get_by_role("button", name="Approve").tap()
    expect(tablet.locator(".flash")).to_contain_text("Approved Alice Adams")
    assert statuses(app) == ["approved"]

    # The kiosk honours it: Alice scans in and keeps her phone.
    kiosk.scan(web_school.alice.badge_id)
    kiosk.expect_result("On duty with your phone")
    expect(page.locator("#result-message")).to_have_text("Alice · agreed by Dana Hughes")
    expect(page.locator("#result-conditions")).to_have_text(
        "Conditions: Silent, used only in the staff room")
    expect(page.locator("#result-until")).to_have_text("until the end of the day")
    camera.kiosk(page, "e2e-on-duty")
