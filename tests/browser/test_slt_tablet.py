"""The SLT tablet in a real browser: a 10-inch tablet, touch only, portrait and landscape."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.extensions import db
from register import duty, exception_requests, kiosk_link, people, settings
from register.db import unit_of_work
from register.exception_requests import Window
from register.models import DutyPeriod, ExceptionRequest, Person, User, utc_now
from tests.browser.conftest import CHROMIUM, confine_to_server
from tests.conftest import FAST_HASH, PASSWORD, scan_code

pytestmark = pytest.mark.browser

LONDON = ZoneInfo("Europe/London")
PORTRAIT = {"width": 820, "height": 1180}
LANDSCAPE = {"width": 1180, "height": 820}
MIN_TARGET_PX = 48
TITLE = "SLT · Test Primary School"


@pytest.fixture
def app_config(app_config: dict[str, object]) -> dict[str, object]:
    return {**app_config, "SLT_POLL_SECONDS": 0.5}  # the tablet asks often: tests stay short


@pytest.fixture
def tablet(browser: Browser, live_server: str) -> Iterator[Page]:
    """A touch tablet in portrait that may talk to our server only, failing on page errors."""
    assert CHROMIUM.exists()
    context = browser.new_context(base_url=live_server, viewport=PORTRAIT, has_touch=True,
                                  is_mobile=True, locale="en-GB", timezone_id="Europe/London")
    context.set_default_timeout(5_000)
    outside = confine_to_server(context, live_server)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not outside, f"the page asked for something outside the product: {outside}"
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def leaders(app: Flask, web_school) -> None:
    """``slt`` is Carol Clark, a stakeholder too; ``deputy`` is a second SLT member."""
    with app.app_context(), Session(db.engine) as session:
        session.scalars(select(User).where(User.username == "slt")).one().person_id = \
            web_school.carol.id
        session.add(User(username="deputy", password_hash=FAST_HASH, role="slt"))
        session.commit()


def sign_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").tap()
    page.wait_for_url("**/slt/")


def ask(app: Flask, person_id: int, reason: str, category: str = "emergency",
        window: Window | None = None, by: str = "kiosk:Staff kiosk", via: str = "kiosk",
        minutes_ago: int = 0) -> int:
    today = utc_now().astimezone(LONDON).date()
    with app.app_context(), Session(db.engine) as session:
        request = exception_requests.request_exception(
            session, session.get_one(Person, person_id), category, reason,
            window or Window(today, today + timedelta(days=1)), by, via, LONDON,
            utc_now() - timedelta(minutes=minutes_ago))
        session.commit()
        return request.id


def status_of(app: Flask, request_id: int) -> str:
    with app.app_context(), Session(db.engine) as session:
        return session.get_one(ExceptionRequest, request_id).status


def card(page: Page, request_id: int):
    return page.locator(f'#pending-list [data-request-id="{request_id}"]')


def test_a_new_request_appears_without_reload_and_is_approved_with_taps(
        tablet: Page, app: Flask, web_school, leaders):
    waiting = ask(app, web_school.bob.id, "Dentist may call about my son's appointment",
                  minutes_ago=20)
    sign_in(tablet, "deputy")
    expect(tablet).to_have_title(f"(1) {TITLE}")
    tablet.evaluate("window.sameDocument = true")  # gone if the page reloads

    arrived = ask(app, web_school.alice.id, "Father in hospital; the ward may call")
    new_card = card(tablet, arrived)
    expect(new_card).to_be_visible()
    expect(tablet).to_have_title(f"(2) {TITLE}")
    expect(new_card).to_contain_text("New")
    expect(new_card).to_contain_text("Father in hospital; the ward may call")
    expect(tablet.locator("#poll-status")).to_have_text("New request: Alice Adams.")
    expect(tablet.locator(".slt-tabs [data-pending-count]")).to_have_text("2")
    assert tablet.evaluate("window.sameDocument") is True
    # Oldest first: the new one goes below the one already waiting.
    expect(tablet.locator("#pending-list > [data-request-id]")).to_have_count(2)
    assert tablet.locator("#pending-list > [data-request-id]").first.get_attribute(
        "data-request-id") == str(waiting)

    new_card.get_by_label("Conditions").tap()
    tablet.keyboard.type("Silent, used only in the staff room")
    new_card.get_by_role("button", name="Approve").tap()
    flash = tablet.locator(".flash")
    expect(flash).to_contain_text("Approved Alice Adams: ")
    expect(flash).to_contain_text("Conditions: Silent, used only in the staff room.")
    expect(tablet).to_have_title(f"(1) {TITLE}")
    expect(card(tablet, arrived)).to_have_count(0)
    agreed = tablet.locator(f'#approved [data-request-id="{arrived}"]')
    expect(agreed).to_contain_text("In effect now")
    expect(agreed).to_contain_text("Silent, used only in the staff room")
    assert status_of(app, arrived) == "approved"


def test_decline_needs_a_reason_said_on_the_card(tablet: Page, app: Flask, web_school, leaders):
    request_id = ask(app, web_school.bob.id, "Parcel delivery at home")
    sign_in(tablet, "deputy")
    bob = card(tablet, request_id)
    bob.get_by_role("button", name="Decline").tap()
    expect(bob.get_by_role("alert")).to_have_text(
        "Not done: Give a reason for declining: the person will be told.")
    expect(bob.get_by_label("Reason for declining")).to_be_focused()
    assert status_of(app, request_id) == "pending"

    tablet.keyboard.type("Not an emergency: the office can take a message")
    bob.get_by_role("button", name="Decline").tap()
    expect(tablet.locator(".flash")).to_contain_text("Declined Bob Brown's request.")
    expect(tablet).to_have_title(TITLE)
    expect(tablet.locator("#pending-empty")).to_be_visible()
    assert status_of(app, request_id) == "declined"


def test_a_request_decided_on_another_tablet_says_so(tablet: Page, app: Flask, web_school,
                                                     leaders):
    request_id = ask(app, web_school.alice.id, "School trip coach contact")
    sign_in(tablet, "slt")
    with app.app_context(), Session(db.engine) as session:
        deputy = session.scalars(select(User).where(User.username == "deputy")).one()
        exception_requests.approve(session, session.get_one(ExceptionRequest, request_id),
                                   deputy, "")
        session.commit()
    expect(tablet.locator("#pending-list .gone")).to_have_text(
        "Alice Adams: no longer waiting (decided by another SLT member, or expired).")
    expect(tablet).to_have_title(TITLE)


def test_the_tablet_in_portrait_and_landscape(tablet: Page, app: Flask, web_school, leaders,
                                              camera):
    morning(app, web_school)
    sign_in(tablet, "slt")  # Carol: her own request is for someone else to decide
    expect(tablet).to_have_title(f"(2) {TITLE}")
    late = ask(app, web_school.alice.id, "Father in hospital; the ward may call him back")
    expect(card(tablet, late)).to_be_visible()
    expect(tablet).to_have_title(f"(3) {TITLE}")
    expect(tablet.locator('[data-request-id]').filter(has_text="Carol Clark")).to_contain_text(
        "Another SLT member must decide this")
    expect(tablet.get_by_text("1 of 2 approvals")).to_be_visible()
    for name, size in (("portrait", PORTRAIT), ("landscape", LANDSCAPE)):
        tablet.set_viewport_size(size)
        tablet.evaluate("window.scrollTo(0, 0)")
        assert_touch_targets(tablet)
        assert_no_sideways_scrolling(tablet)
        shot = f"slt-tablet-{name}-{size['width']}x{size['height']}"
        tablet.screenshot(path=camera.folder / f"{shot}.png")
        tablet.screenshot(path=camera.folder / f"{shot}-full.png", full_page=True)
    tablet.locator("#now").scroll_into_view_if_needed()
    tablet.screenshot(path=camera.folder / "slt-tablet-landscape-now.png")


def test_recording_a_request_on_the_tablet(tablet: Page, app: Flask, web_school, camera):
    sign_in(tablet, "slt")
    tablet.get_by_role("link", name="Record a request").first.tap()
    tablet.get_by_label("Name").fill("bob")
    tablet.get_by_role("button", name="Search").tap()
    tablet.get_by_role("link", name="Bob Brown").tap()
    tablet.get_by_label("On-call or site duty").tap()
    tablet.get_by_label("Reason, briefly").fill("Site on call while the caretaker is away")
    expect(tablet.locator('[data-when="weekly"]')).to_be_hidden()
    tablet.get_by_label("Certain days each week").tap()
    expect(tablet.locator('[data-when="weekly"]')).to_be_visible()
    expect(tablet.locator('[data-when="today"]')).to_be_hidden()
    for day in ("Tue", "Thu"):
        tablet.get_by_label(day, exact=True).tap()
    last = (utc_now().astimezone(LONDON).date() + timedelta(days=50)).isoformat()
    tablet.locator("input[name=weekly_to]").fill(last)
    tablet.locator("input[name=weekly_start]").fill("07:30")
    tablet.locator("input[name=weekly_end]").fill("17:00")
    assert_touch_targets(tablet, ".request-form button, .request-form input[type=radio], "
                                 ".request-form input[type=checkbox]", parent_label=True)
    camera.office(tablet, "slt-tablet-record-request")
    tablet.get_by_role("button", name="Send to SLT").tap()
    expect(tablet.locator(".flash")).to_contain_text("Request for Bob Brown sent to SLT")
    bob = tablet.locator("#pending-list [data-request-id]").filter(has_text="Bob Brown")
    expect(bob).to_contain_text("Tuesdays and Thursdays")
    expect(bob).to_contain_text("07:30 to 17:00")
    expect(bob).to_contain_text("through SLT, recorded by slt")


# --- helpers -------------------------------------------------------------------------------

def morning(app: Flask, school) -> None:
    """A believable 08:30: three requests waiting, agreed exceptions, people on duty."""
    today = utc_now().astimezone(LONDON).date()
    now = utc_now()
    with app.app_context(), Session(db.engine) as session:
        settings.put(session, settings.SECOND_APPROVER_CATEGORIES, "caring", "admin")
        deputy = session.scalars(select(User).where(User.username == "deputy")).one()

        def person(name: str) -> Person:
            return people.add_person(session, people.PersonDetails(name=name, category="staff"),
                                     "test")

        dan, erin, farah = person("Dan Dale"), person("Erin Ellis"), person("Farah Khan")
        session.flush()

        def request(who: Person, category: str, reason: str, window: Window, minutes_ago: int,
                    by: str = "kiosk:Staff kiosk", via: str = "kiosk") -> ExceptionRequest:
            return exception_requests.request_exception(
                session, who, category, reason, window, by, via, LONDON,
                now - timedelta(minutes=minutes_ago))

        term = Window(today, today + timedelta(days=60), weekdays="1")
        bob = request(session.get_one(Person, school.bob.id), "caring",
                      "Carer for my mother; her care agency calls if a visit is missed", term, 45)
        exception_requests.approve(session, bob, deputy, "", now - timedelta(minutes=30))
        request(session.get_one(Person, school.carol.id), "offsite",
                "Leading the Year 6 trip to the Science Museum; coach company contact",
                Window(today + timedelta(days=2), today + timedelta(days=2)), 25,
                by="office", via="office")
        on_call = request(dan, "on_call", "Site on call while the caretaker is on leave",
                          Window(today, today + timedelta(days=4)), 24 * 60)
        exception_requests.approve(session, on_call, deputy,
                                   "Silent; answer only in the corridor or staff room",
                                   now - timedelta(hours=23))
        revoked = request(farah, "emergency", "Partner's car broke down on the motorway",
                          Window(today, today), 120)
        exception_requests.approve(session, revoked, deputy, "", now - timedelta(minutes=110))
        for who, minutes in ((dan, 70), (erin, 50), (farah, 100)):
            duty.start(session, who.id, "exception" if who is not erin else "deposit", None,
                       now - timedelta(minutes=minutes))
        exception_requests.revoke(session, revoked, deputy, "Sorted: partner is home",
                                  now - timedelta(minutes=10))
        session.commit()
        gone = {"rfid": kiosk_link.ReaderReport(False, "unplugged")}
        with unit_of_work(session):
            kiosk_link.heartbeat(session, school.staff_kiosk.id, gone, {2: "closed"}, now)
        scan_code(session, school.staff_kiosk.id, school.alice.badge_id,
                  now - timedelta(minutes=40), LONDON)
        assert session.scalars(select(DutyPeriod)).all()


def assert_touch_targets(page: Page, selector: str = ".slt button, .slt input:not([type=hidden]), "
                         ".slt-tabs a, .topbar a, .topbar button", parent_label: bool = False,
                         ) -> None:
    """Every control a thumb uses is at least 48 px tall (a radio or a tick box: its label)."""
    small = page.evaluate(
        """([selector, minimum, parentLabel]) => [...document.querySelectorAll(selector)]
            .filter((el) => el.offsetParent !== null)
            .map((el) => [el, parentLabel ? (el.closest('label') || el) : el])
            .filter(([, target]) => target.getBoundingClientRect().height < minimum)
            .map(([el, target]) =>
                 `${el.outerHTML.slice(0, 80)}: ${target.getBoundingClientRect().height}px`)""",
        [selector, MIN_TARGET_PX, parent_label])
    assert not small, f"touch targets under {MIN_TARGET_PX} px: {small}"


def assert_no_sideways_scrolling(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), \
        "the page scrolls sideways"
