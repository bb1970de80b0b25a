"""Search as you type, and undoing a mistake, in a real browser (issue 10)."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from kiosk.extensions import db
from register import people
from register.db import unit_of_work
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser
OFFICE_SCREEN = {"width": 1366, "height": 768}


@pytest.fixture
def names(app: Flask, web_school) -> None:
    with app.app_context(), unit_of_work(db.session()) as session:
        for name in ("Łukasz Żółć", "Zoë Ó Súilleabháin", "Siobhán Murphy"):
            people.add_person(session, people.PersonDetails(name, "staff"), "test")


def watch_requests(page: Page) -> list[tuple[str, str]]:
    """Every request the page makes from now on: (method, URL)."""
    seen: list[tuple[str, str]] = []
    page.on("request", lambda request: seen.append((request.method, request.url)))
    return seen


def test_the_office_list_narrows_as_you_type(office: Page, names, camera):
    office.set_viewport_size(OFFICE_SCREEN)
    office.evaluate("window.stillThisPage = true")  # gone if the page reloaded
    seen = watch_requests(office)
    search = office.get_by_label("Search")
    search.press_sequentially("zolc", delay=60)  # no Enter, no button
    expect(office.get_by_role("link", name="Łukasz Żółć")).to_be_visible()
    expect(office.get_by_role("link", name="Alice Adams")).to_have_count(0)
    expect(office.locator("#people-summary")).to_have_text("1 person found for your search.")
    assert office.evaluate("window.stillThisPage") is True
    camera.office(office, "search-as-you-type")

    search.fill("")
    search.press_sequentially("Zoe", delay=60)  # Zoe finds Zoë
    expect(office.get_by_role("link", name="Zoë Ó Súilleabháin")).to_be_visible()
    search.fill("")
    search.press_sequentially("3541 7803", delay=40)  # IMEI digits: Bob's phone
    expect(office.get_by_role("link", name="Bob Brown")).to_be_visible()
    expect(office.get_by_role("link", name="Zoë Ó Súilleabháin")).to_have_count(0)
    searches = [(method, url) for method, url in seen if url.endswith("/office/search.json")]
    assert searches and all(method == "POST" for method, _url in searches)
    assert not [url for _method, url in seen if "3541" in url or "zolc" in url.lower()]


def test_record_a_request_finds_the_person_as_you_type(page: Page, live_server, names, camera):
    page.set_viewport_size({"width": 1180, "height": 820})  # an SLT tablet, landscape
    page.goto("/login")
    page.get_by_label("Username").fill("slt")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.goto("/requests/new")
    seen = watch_requests(page)
    page.get_by_label("Name").press_sequentially("siobhan", delay=60)
    match = page.get_by_role("link", name="Siobhán Murphy")
    expect(match).to_be_visible()
    expect(page.locator("#person-summary")).to_have_text(
        "1 match: choose who the request is for.")
    camera.office(page, "record-request-search-as-you-type")
    assert not [url for _method, url in seen if "siobhan" in url.lower()]
    match.click()
    expect(page.get_by_text("For Siobhán Murphy")).to_be_visible()


def test_retire_and_leave_are_undone_from_the_persons_page(office: Page, web_school, camera):
    phone = web_school.alice_phone
    office.goto(f"/office/people/{web_school.alice.id}")
    office.get_by_role("link", name="Retire this phone…").click()
    office.get_by_role("button", name="Retire this phone").click()  # no reason yet
    expect(office.get_by_role("alert")).to_contain_text("Give a short reason")
    camera.office(office, "retire-confirm")
    office.get_by_label("Why is it retired?").fill("thought lost")
    office.get_by_role("button", name="Retire this phone").click()
    expect(office.locator(".flash")).to_contain_text("Test A1 retired.")
    office.get_by_role("button", name="Reinstate this phone").click()
    expect(office.locator(".flash")).to_contain_text(
        f"its label {phone.label_code} works at the kiosk again")

    office.get_by_role("link", name="Mark Alice as left…").click()
    office.get_by_label("Why?").fill("contract ended")
    camera.office(office, "left-confirm")
    office.get_by_role("button", name="Mark Alice as left").click()
    expect(office.locator(".flash")).to_contain_text("Alice Adams is marked as left")
    camera.office(office, "person-left")
    office.get_by_role("button", name="Rejoin: Alice is back").click()
    expect(office.locator(".flash")).to_contain_text("back on the register")
    expect(office.get_by_role("link", name="Mark Alice as left…")).to_be_visible()
