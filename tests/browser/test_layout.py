"""Layout as people meet it (issue 10): on a 375 px phone nothing scrolls sideways; every
control in the top bar, the Roll call button, the roll call's tick boxes and "Take out of
service" are at least 44 px tall (a finger); and the top bar stays on one line at 820, 1180
and 1366 px for every role, admins' grouped menus included. Screenshots: test-artifacts/layout-*.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from kiosk.extensions import db
from tests.conftest import PASSWORD, scan_code

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}
TOUCH = 44  # px: the smallest target a finger hits reliably (WCAG 2.5.5, Apple and Google)


def sign_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def sideways_scroll(page: Page) -> int:
    """How far the page scrolls sideways, in px (0: it does not)."""
    return page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")


def short_targets(page: Page, selector: str) -> list[str]:
    """The visible elements matching ``selector`` that are less than 44 px tall."""
    return page.evaluate("""([selector, least]) => [...document.querySelectorAll(selector)]
        .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== "hidden")
        .filter(e => e.getBoundingClientRect().height < least)
        .map(e => `${(e.innerText || e.value || e.tagName).trim()}: ${
                   e.getBoundingClientRect().height.toFixed(1)} px`)""", [selector, TOUCH])


def top_bar_lines(page: Page) -> int:
    """How many lines the top bar's visible items take (items side by side overlap)."""
    return page.evaluate("""() => {
        const items = [...document.querySelectorAll(
            ".topbar > :not(nav), .topbar nav > *")].filter(e => e.getClientRects().length);
        const lines = [];
        for (const box of items.map(e => e.getBoundingClientRect())) {
            const line = lines.find(l => box.top < l.bottom && box.bottom > l.top);
            if (line) { line.top = Math.min(line.top, box.top);
                        line.bottom = Math.max(line.bottom, box.bottom); }
            else lines.push({top: box.top, bottom: box.bottom});
        }
        return lines.length;
    }""")


@pytest.fixture
def on_site(app: Flask, web_school: Any) -> Any:
    """Alice and Carol scanned in this morning: the roll call has tick boxes."""
    with app.app_context():
        session = Session(db.engine)
        now = datetime.now(UTC)
        for person in (web_school.alice, web_school.carol):
            scan_code(session, web_school.staff_kiosk.id, person.badge_id, now,
                      app.extensions["school_zone"])
        session.close()
    return web_school


PHONE_PAGES = [
    ("office-people", "/office/"),
    ("office-person", "/office/people/{alice}"),
    ("office-lockers", "/office/lockers"),
    ("print", "/print/"),
    ("print-register", "/print/register"),
    ("print-labels", "/print/labels"),
    ("print-slip", "/print/people/{alice}/imei-slip"),
    ("print-lost", "/print/devices/{alice_phone}/lost-report"),
    ("slt-now", "/slt/"),
    ("slt-report", "/slt/report"),
    ("reports", "/reports/"),
    ("roll-call", "/reports/roll-call"),
    ("daily-log", "/reports/daily-log"),
    ("summaries", "/reports/summaries"),
]


def test_phone_pages_do_not_scroll_sideways_and_targets_fit_a_finger(
        page: Page, on_site: Any, artifacts: Path):
    page.set_viewport_size(PHONE)
    sign_in(page, "admin")
    ids = {"alice": on_site.alice.id, "alice_phone": on_site.alice_phone.id}
    problems = []
    for name, path in PHONE_PAGES:
        page.goto(path.format(**ids))
        expect(page.locator("main")).to_be_visible()
        page.screenshot(path=artifacts / f"layout-375-{name}.png", full_page=True)
        if (extra := sideways_scroll(page)) > 0:
            problems.append(f"{path} scrolls sideways by {extra} px")
        short = short_targets(page, ".topbar a, .topbar summary, .topbar button, "
                                    ".slt-tabs a, .report-nav a")
        if short:
            problems.append(f"{path}: short top bar targets {short}")
    assert not problems, "\n".join(problems)


def test_roll_call_ticks_and_lockers_buttons_fit_a_finger(page: Page, on_site: Any):
    page.set_viewport_size({"width": 820, "height": 1180})  # a tablet, upright
    sign_in(page, "admin")
    page.goto("/reports/roll-call")
    expect(page.locator(".rc-tick").first).to_be_visible()
    assert short_targets(page, ".rc-tick, .rollcall-button") == []
    page.goto("/office/lockers")
    expect(page.get_by_role("button", name="Take out of service").first).to_be_visible()
    assert short_targets(page, ".locker button") == []


@pytest.mark.parametrize("width", [820, 1180, 1366])
@pytest.mark.parametrize("role", ["office", "slt", "admin"])
def test_top_bar_is_one_line(page: Page, web_school: Any, artifacts: Path, role: str,
                             width: int):
    page.set_viewport_size({"width": width, "height": 800})
    sign_in(page, role)
    for path in ("/reports/", "/slt/" if role != "office" else "/office/"):
        page.goto(path)
        expect(page.locator(".topbar")).to_be_visible()
        assert top_bar_lines(page) == 1, f"{role} at {width} px on {path}"
        assert sideways_scroll(page) <= 0
    page.screenshot(path=artifacts / f"layout-topbar-{role}-{width}.png",
                    clip={"x": 0, "y": 0, "width": width, "height": 120})


def test_the_admin_menu_opens_and_leads_to_its_pages(page: Page, web_school: Any,
                                                     artifacts: Path):
    page.set_viewport_size({"width": 820, "height": 800})
    sign_in(page, "admin")
    page.goto("/reports/")
    menu = page.locator(".topbar details", has_text="Admin")
    menu.locator("summary").click()
    expect(menu.get_by_role("link", name="Audit trail")).to_be_visible()
    page.screenshot(path=artifacts / "layout-topbar-admin-menu-820.png",
                    clip={"x": 0, "y": 0, "width": 820, "height": 360})
    assert short_targets(page, ".topbar details[open] a") == []
    page.keyboard.press("Escape")  # closes, as a menu does
    expect(menu.get_by_role("link", name="Audit trail")).to_be_hidden()
    menu.locator("summary").click()
    menu.get_by_role("link", name="Audit trail").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Audit")
