"""Browser fixtures: the real app on a loopback port, driven by Debian's headless Chromium.

One browser for the session, a fresh context (cookies, storage) per test. Chromium missing is
a failure, never a skip: these tests are how we know the kiosk works at 08:00.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Route,
    expect,
    sync_playwright,
)
from playwright.sync_api import Request as BrowserRequest
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

from kiosk.extensions import db
from register.models import Role, User
from tests.conftest import new_pairing_code

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    # Without these Chromium keeps calling home, which floods a closed network.
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PI_DISPLAY = {"width": 800, "height": 480}  # the Raspberry Pi 7-inch touch display
LAPTOP = {"width": 1280, "height": 800}
IDLE_SECONDS = 3  # short, so the refusal test sees the screen return to idle by itself


@pytest.fixture
def app_config(app_config: dict[str, object]) -> dict[str, object]:
    """As the school runs it: CSRF on (the kiosk page and office forms carry tokens)."""
    return {
        **app_config,
        "WTF_CSRF_ENABLED": True,
        "KIOSK_IDLE_SECONDS": IDLE_SECONDS,
        # No demo strip on the kiosk: the screenshots show what staff see. Production needs
        # a key of its own and the name staff use for the server: here, the live server's.
        "KIOSK_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "TRUSTED_HOSTS": "127.0.0.1",
    }


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served on 127.0.0.1 at a free port, in a background thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # A short poll keeps shutdown quick: serve_forever checks for it between polls.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: run scripts/install-system-deps"
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def confine_to_server(context: BrowserContext, live_server: str) -> list[str]:
    """Abort every request that leaves our server; the list they are noted in is returned, for
    the test to assert empty (no CDN, nothing fetched from the internet)."""
    outside: list[str] = []

    def only_our_server(route: Route, request: BrowserRequest) -> None:
        if request.url.startswith(live_server):
            route.continue_()
        else:
            outside.append(request.url)
            route.abort()

    context.route("**/*", only_our_server)
    return outside


@pytest.fixture
def context(browser: Browser, live_server: str) -> Iterator[BrowserContext]:
    """A clean browser profile that may talk to our server only, and fails on page errors."""
    context = browser.new_context(base_url=live_server, viewport=PI_DISPLAY, locale="en-GB",
                                  timezone_id="Europe/London")
    context.set_default_timeout(5_000)
    outside = confine_to_server(context, live_server)
    yield context
    context.close()
    assert not outside, f"pages asked for something outside the product: {outside}"


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert not errors, f"JavaScript errors on the page: {errors}"


# --- helpers behind fixtures ---------------------------------------------------------------

class Camera:
    """Keeps PNGs of screens in test-artifacts/ for people to look at."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def kiosk(self, page: Page, name: str) -> None:
        """The screen as it is now, on the Pi display and on a laptop; viewport restored."""
        original = page.viewport_size
        for size in (PI_DISPLAY, LAPTOP):
            page.set_viewport_size(size)
            page.screenshot(path=self.folder / f"kiosk-{name}-{size['width']}x{size['height']}.png")
        if original:
            page.set_viewport_size(original)

    def office(self, page: Page, name: str) -> None:
        page.screenshot(path=self.folder / f"office-{name}.png", full_page=True)


@pytest.fixture
def camera(artifacts: Path) -> Camera:
    return Camera(artifacts)


class KioskScreen:
    def __init__(self, page: Page) -> None:
        self.page = page

    def scan(self, code: str) -> None:
        """What a keyboard-mode USB scanner does: type fast into whatever has focus, Enter.

        A scanner's keys come a few ms apart, and the page tells it from a person by that
        (kiosk.js). Playwright's typing is one round trip per key, which on a loaded test
        machine is slower than a person; so the keys are played in the page, as the browser
        delivers them: keydown on the focused element, the character typed unless a handler
        prevented it, then Enter."""
        self.wait_for_scanner_focus()
        self.page.evaluate("""(code) => {
            const key = (name) => {
              const target = document.activeElement || document.body;
              const event = new KeyboardEvent("keydown", { key: name, bubbles: true,
                                                           cancelable: true });
              if (target.dispatchEvent(event) && name.length === 1 && "value" in target) {
                target.value += name;
                target.dispatchEvent(new Event("input", { bubbles: true }));
              }
            };
            [...code].forEach(key);
            key("Enter");
        }""", code)

    def type_by_hand(self, code: str, delay_ms: int = 150) -> None:
        """A person at a keyboard: real key presses, ``delay_ms`` apart, then Enter."""
        self.wait_for_scanner_focus()
        self.page.keyboard.type(code, delay=delay_ms)
        self.page.keyboard.press("Enter")

    def wait_for_scanner_focus(self) -> None:
        """Nothing is clicked first: the page itself keeps its hidden scanner input focused."""
        self.page.wait_for_function("() => document.activeElement?.id === 'scan'")

    def expect_result(self, title: str, locker: str = "") -> None:
        expect(self.page.locator("#result")).to_be_visible()
        expect(self.page.locator("#result-title")).to_have_text(title)
        expect(self.page.locator("#result-locker")).to_have_text(locker)


@pytest.fixture
def kiosk(page: Page, app: Flask, web_school: Any) -> KioskScreen:
    """The staff-room kiosk, paired as IT does once (a pairing code's link), showing its idle
    screen."""
    pair_page(page, app)
    expect(page.locator("#idle")).to_be_visible()
    return KioskScreen(page)


def pair_page(page: Page, app: Flask, kiosk_name: str = "Staff kiosk") -> None:
    """Open a pairing link, as the QR code on the admin's page holds it: the page submits the
    code from the fragment and lands on the kiosk screen."""
    page.goto(f"/kiosk/pair#code={new_pairing_code(app, kiosk_name)}")
    page.wait_for_url("**/kiosk")


OFFICE_USER = ("browser-office", "a long browser test password")


@pytest.fixture
def office(page: Page, app: Flask, web_school: Any) -> Page:
    """Signed in through the real form as an office user, on a laptop-sized window."""
    username, password = OFFICE_USER
    cheap_hash = generate_password_hash(password, "pbkdf2:sha256:1000")  # tests need no cost
    with app.app_context(), Session(db.engine) as session:
        session.add(User(username=username, password_hash=cheap_hash, role=Role.OFFICE))
        session.commit()
    page.set_viewport_size(LAPTOP)
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/office/")
    return page
