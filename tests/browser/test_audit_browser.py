"""The office's search by IMEI and the admin's audit trail, in a real browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser
OFFICE_SCREEN = {"width": 1366, "height": 768}


def sign_in(page: Page, username: str) -> None:
    page.set_viewport_size(OFFICE_SCREEN)
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_a_search_by_imei_finds_the_phone_and_keeps_the_imei_out_of_the_address(
        page: Page, web_school, camera):
    sign_in(page, "office")
    page.goto("/office/")
    visited: list[str] = []
    page.on("request", lambda request: visited.append(request.url))
    search = page.get_by_label("Search")
    search.fill("3541 7803 6859 789")
    search.press("Enter")
    expect(page.get_by_text("1 person found for your search.")).to_be_visible()
    expect(page.get_by_role("link", name="Bob Brown")).to_be_visible()
    expect(page.get_by_role("link", name="Alice Adams")).to_have_count(0)
    camera.office(page, "search-by-imei")
    assert page.url.endswith("/office/")
    assert visited and not [url for url in visited if "3541" in url or "354178" in url]
    page.get_by_role("link", name="Show everyone").click()
    expect(page.get_by_role("link", name="Alice Adams")).to_be_visible()


def test_an_admin_reads_and_filters_the_audit_trail(page: Page, web_school, camera):
    sign_in(page, "office")
    page.goto(f"/office/people/{web_school.bob.id}")
    page.goto(f"/office/devices/{web_school.bob_phone.id}/edit")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "admin")
    page.goto("/admin/audit")
    expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
    rows = page.locator("table.audit tbody tr")
    expect(rows.first).to_contain_text("admin")  # newest first: the admin signing in just now
    camera.office(page, "audit-trail")
    # Nothing on the page is wider than the office's 1366 px screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= OFFICE_SCREEN["width"]

    page.get_by_label("What").select_option("device.edit_form")
    page.get_by_label("Who").fill("office")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("status")).to_contain_text("1 entry matches")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"device:{web_school.bob_phone.id}")
    camera.office(page, "audit-trail-filtered")
    page.get_by_role("link", name="Clear filters").click()
    expect(page.get_by_label("Who")).to_have_value("")
