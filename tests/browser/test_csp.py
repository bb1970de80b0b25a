"""The Content-Security-Policy as Chromium enforces it: the kiosk screen, the office, SLT and
report pages, and the printable ones run their scripts and styles with no violation reported.
A page that broke the policy would lose its script or its styles without a JavaScript error,
so the browser's own reports are what is checked."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from kiosk import pdf
from register.labels import STOCKS
from tests.browser.conftest import KioskScreen
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

# Before any script of the page: every violation the document reports, and print() counted
# instead of opening a dialog.
LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI} ` +
                           `${event.sourceFile}:${event.lineNumber}`);
});
window.__prints = 0;
window.print = () => { window.__prints += 1; };
"""
PX_PER_MM = 96 / 25.4


@pytest.fixture
def watched(page: Page) -> list[str]:
    """The browser's console messages about the policy, over every page the test opens."""
    page.add_init_script(LISTEN)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text)
            if "Content Security Policy" in message.text else None)
    return console


def assert_no_violations(page: Page, console: list[str]) -> None:
    page.wait_for_load_state("load")
    assert page.evaluate("window.__violations") == [], page.url
    assert console == [], page.url


def sign_in_as_admin(page: Page) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto("/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/office/")


def test_pages_run_under_the_policy_without_a_violation(watched: list[str], kiosk: KioskScreen,
                                                         web_school):
    page = kiosk.page
    # The kiosk: its script keeps the scanner input focused and shows a deposit.
    kiosk.scan(web_school.alice.badge_id)
    kiosk.expect_result("Phone locked away", "Locker 1")
    assert_no_violations(page, watched)

    sign_in_as_admin(page)
    expect(page.get_by_role("link", name="Alice Adams")).to_be_visible()
    assert_no_violations(page, watched)
    page.get_by_role("link", name="Alice Adams").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Alice Adams")
    assert_no_violations(page, watched)

    page.goto("/slt/")
    assert_no_violations(page, watched)
    page.goto("/slt/report?print=1")
    page.wait_for_function("() => window.__prints === 1")
    # The report's own styles applied: the print-only header is hidden on screen.
    expect(page.locator(".report-print-head")).to_be_hidden()
    assert_no_violations(page, watched)

    # The roll call, opened to print: printed once, ?print=1 forgotten, boxes counted.
    page.goto("/reports/roll-call?print=1")
    page.wait_for_function("() => window.__prints === 1")
    assert page.url.endswith("/reports/roll-call")
    page.get_by_label("Alice Adams is accounted for").check()
    expect(page.get_by_text("1 of 1 ticked off")).to_be_visible()
    assert_no_violations(page, watched)

    for path in ("/reports/daily-log?print=1", "/reports/summaries?print=1"):
        page.goto(path)
        page.wait_for_function("() => window.__prints === 1")
        assert "print=1" not in page.url
        assert_no_violations(page, watched)

    # Alt+R from any page: the top bar's script.
    with page.expect_navigation():
        page.keyboard.press("Alt+r")
    page.wait_for_function("() => window.__prints === 1")
    assert page.url.endswith("/reports/roll-call")
    assert_no_violations(page, watched)


def test_printable_pages_keep_their_layout_under_the_policy(watched: list[str], page: Page,
                                                            web_school):
    sign_in_as_admin(page)
    page.goto("/print/register")
    # The register's column widths, in mm as in the PDF: from the page's nonce'd styles.
    widths = page.locator(".print-register tr.columns th").evaluate_all(
        "cells => cells.map((cell) => cell.getBoundingClientRect().width)")
    assert widths == pytest.approx([c.width * PX_PER_MM for c in pdf.COLUMNS], abs=1)
    assert_no_violations(page, watched)

    stock = STOCKS["l7160"]
    page.goto("/print/labels?stock=l7160&start=5")  # the second row's second label first
    first = page.locator(".label").first
    box = first.evaluate("label => { const r = label.getBoundingClientRect(), "
                         "s = label.closest('.sheet').getBoundingClientRect(); "
                         "return [r.left - s.left, r.top - s.top, r.width, r.height]; }")
    left, top = stock.position(4)
    assert box == pytest.approx([left * PX_PER_MM, top * PX_PER_MM,
                                 stock.width * PX_PER_MM, stock.height * PX_PER_MM], abs=1)
    assert_no_violations(page, watched)

    for path in (f"/print/people/{web_school.alice.id}/imei-slip",
                 f"/print/devices/{web_school.alice_phone.id}/lost-report"):
        page.goto(path)
        assert_no_violations(page, watched)


def test_the_policy_is_enforced_and_reported(watched: list[str], page: Page, web_school):
    """The check above can fail: a script or style added without the nonce is refused, and
    reported."""
    sign_in_as_admin(page)
    page.evaluate("""() => {
      const script = document.createElement("script");
      script.textContent = "window.__ran = true";
      document.body.append(script);
      const div = document.createElement("div");
      div.setAttribute("style", "color: red");
      document.body.append(div);
    }""")
    page.wait_for_function("() => window.__violations.length >= 2")
    assert page.evaluate("window.__ran") is None
    assert {v.split()[0] for v in page.evaluate("window.__violations")} == {
        "script-src-elem", "style-src-attr"}
    assert any("Content Security Policy" in message for message in watched)
