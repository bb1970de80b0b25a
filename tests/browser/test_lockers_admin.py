"""Emergency opening on the office lockers page, and SLT's view of doors and readers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from kiosk.extensions import db
from register import kiosk_link
from register.db import unit_of_work
from register.models import utc_now
from tests.browser.conftest import LAPTOP
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page: Page, username: str) -> None:
    page.set_viewport_size(LAPTOP)
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_admin_opens_every_locker_of_a_bank_with_a_reason(page: Page, web_school, camera):
    sign_in(page, "admin")
    page.goto("/office/lockers")
    form = page.locator("section.emergency")
    form.get_by_label("Staff room (4 lockers)").check()
    camera.office(page, "lockers-admin")
    form.get_by_role("button", name="Open every locker now").click()
    # The browser itself insists on a reason before anything is sent.
    reason = form.get_by_label("Reason")
    assert reason.evaluate("(input) => input.validity.valueMissing")
    assert page.locator(".flash").count() == 0
    reason.fill("Fire alarm, building evacuated")
    form.get_by_role("button", name="Open every locker now").click()
    expect(page.locator(".flash")).to_contain_text("Opening all 4 lockers at Staff room now.")


def test_slt_sees_doors_left_open_and_readers_gone(page: Page, app: Flask, web_school, camera):
    with app.app_context(), Session(db.engine) as session, unit_of_work(session):
        gone = {"rfid": kiosk_link.ReaderReport(False, "unplugged")}
        kiosk_link.heartbeat(session, web_school.staff_kiosk.id, gone, {2: "open"},
                             utc_now() - timedelta(seconds=40))
        kiosk_link.heartbeat(session, web_school.staff_kiosk.id, gone, {2: "open"}, utc_now())
    sign_in(page, "slt")
    attention = page.get_by_role("alert")
    expect(attention).to_contain_text("Needs attention")
    expect(attention.locator("li")).to_have_count(2)
    expect(attention).to_contain_text("Staff room: badge reader disconnected")
    expect(attention).to_contain_text("Staff room: locker 2 open")
    camera.office(page, "slt-attention")
