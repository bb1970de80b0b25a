"""Pairing a kiosk's screen in a real browser: an admin makes a one-time code on the kiosks
page; the kiosk's browser types it on its on-screen keypad and shows the locker screen."""

from __future__ import annotations

import io
from typing import Any

import pytest
import zxingcpp
from flask import Flask
from PIL import Image
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from kiosk.extensions import db
from register.models import Role, User
from tests.browser.conftest import LAPTOP, PI_DISPLAY, confine_to_server
from tests.browser.test_kiosk_screen import assert_fits_without_scrolling, assert_touch_targets

pytestmark = pytest.mark.browser

ADMIN = ("browser-admin", "a long browser admin password")


@pytest.fixture
def admin(page: Page, app: Flask, web_school: Any) -> Page:
    username, password = ADMIN
    with app.app_context(), Session(db.engine) as session:
        session.add(User(username=username, role=Role.ADMIN,
                         password_hash=generate_password_hash(password, "pbkdf2:sha256:1000")))
        session.commit()
    page.set_viewport_size(LAPTOP)
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return page


def test_an_admin_pairs_a_kiosk_screen_with_a_one_time_code(
        admin: Page, browser: Browser, live_server: str, camera):
    admin.goto("/admin/kiosks")
    row = admin.get_by_role("row").filter(has_text="Staff kiosk")
    expect(row).to_contain_text("Not paired")
    camera.office(admin, "kiosks")
    row.get_by_role("button", name="Pair this kiosk").click()
    code = admin.locator(".pairing-code").inner_text()
    assert len(code) == 9 and code[4] == "-"
    link = f"/kiosk/pair#code={code.replace('-', '')}"  # the code in the fragment: never sent
    expect(admin.locator(".pairing-link")).to_contain_text(link)
    qr = Image.open(io.BytesIO(admin.locator("svg.pairing-qr").screenshot()))
    assert [found.text for found in zxingcpp.read_barcodes(qr)] == [live_server + link]
    camera.office(admin, "kiosks-pair")

    # The kiosk: a browser of its own, on the Pi's touch display.
    kiosk = browser.new_context(base_url=live_server, viewport=PI_DISPLAY, locale="en-GB")
    outside = confine_to_server(kiosk, live_server)
    screen = kiosk.new_page()
    screen.goto("/kiosk")
    expect(screen.get_by_role("heading", level=1)).to_have_text("This kiosk is not paired")
    screen.get_by_role("link", name="type it on this screen").click()
    keypad = screen.locator("#pair-keys")
    for key in "WRNGK234":  # a code nobody issued, then the right one
        keypad.get_by_role("button", name=key, exact=True).click()
    expect(screen.locator("#code")).to_have_value("WRNG-K234")
    screen.get_by_role("button", name="Pair this kiosk").click()
    expect(screen.locator(".pair-error")).to_contain_text(
        "That pairing code is not right, or it has already been used.")
    camera.kiosk(screen, "pair-refused")

    screen.locator("#code").fill("")
    for key in code.replace("-", ""):
        keypad.get_by_role("button", name=key, exact=True).click()
    expect(screen.locator("#code")).to_have_value(code)  # grouped as the admin's page shows it
    assert_fits_without_scrolling(screen)
    assert_touch_targets(screen, "#pair-keys button")
    camera.kiosk(screen, "pair")
    screen.get_by_role("button", name="Pair this kiosk").click()
    screen.wait_for_url("**/kiosk")
    expect(screen.locator("#idle")).to_be_visible()
    expect(screen.locator(".where")).to_contain_text("Staff room lockers")
    kiosk.close()
    assert not outside

    admin.goto("/admin/kiosks")
    expect(admin.get_by_role("row").filter(has_text="Staff kiosk")).to_contain_text("Paired")
