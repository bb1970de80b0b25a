"""Nothing lost offline: scans the kiosk page cannot send are kept in the browser (IndexedDB)
with their idempotency keys and the time they were made, and sent in order when the server
answers again, or when the page is opened again. The server here really stops: its port
refuses connections, as when the school's server restarts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from kiosk.extensions import db
from register.models import Deposit, ScanReceipt
from tests.browser.conftest import KioskScreen, pair_page

pytestmark = pytest.mark.browser

SAVED = "No connection: it will be recorded when the connection is back."
WHAT_TO_DO = "Put your phone in your usual locker and tell the office its number."
OFFLINE_BANNER = ("No connection to the school server: scans are saved and sent when it is "
                  "back")


class OneRequestPerConnection(WSGIRequestHandler):
    """HTTP/1.0: no connection outlives its request, so a stopped server answers nothing
    (a kept-alive connection would go on being served by its thread)."""

    protocol_version = "HTTP/1.0"


class StoppableServer:
    """The app on one loopback port that can be stopped and started again on the same port."""

    def __init__(self, app: Flask) -> None:
        self.app, self.port = app, 0
        self.server: BaseWSGIServer | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True,
                                  request_handler=OneRequestPerConnection)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        assert self.server is not None and self.thread is not None
        self.server.shutdown()
        self.thread.join(timeout=5)
        self.server.server_close()
        self.server = None


@pytest.fixture
def server(app: Flask) -> Iterator[StoppableServer]:
    running = StoppableServer(app)
    running.start()
    yield running
    if running.server is not None:
        running.stop()


@pytest.fixture
def live_server(server: StoppableServer) -> str:
    return server.url


def deposits(app: Flask) -> list[Deposit]:
    with app.app_context(), Session(db.engine, expire_on_commit=False) as session:
        return list(session.scalars(select(Deposit).order_by(Deposit.id)))


def receipts(app: Flask) -> int:
    with app.app_context(), Session(db.engine) as session:
        return len(session.scalars(select(ScanReceipt.id)).all())


def utc(moment: datetime) -> datetime:
    """SQLite gives times back without their zone; they are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_three_scans_while_the_server_is_down_are_recorded_once_in_order_at_their_times(
        kiosk: KioskScreen, server: StoppableServer, app: Flask, web_school: Any, camera):
    page = kiosk.page
    phones = [web_school.alice_phone, web_school.carol_phone, web_school.bob_phone]
    server.stop()

    made: list[tuple[datetime, datetime]] = []  # each scan happened between these
    for count, phone in enumerate(phones, start=1):
        before = datetime.now(UTC)
        kiosk.scan(phone.label_code)
        made.append((before, datetime.now(UTC)))
        kiosk.expect_result("Saved")
        # One thing said: saved, and what to do with the phone meanwhile.
        expect(page.locator("#result-message")).to_have_text(SAVED)
        expect(page.locator("#result-detail")).to_have_text(WHAT_TO_DO)
        expect(page.locator("#waiting")).to_have_text(
            f"{count} {'scan' if count == 1 else 'scans'} waiting to send")
        if count == 1:
            camera.kiosk(page, "offline-saved")
        page.wait_for_timeout(1_100)  # people, not a scanner repeating itself
    expect(page.locator("#warnings .warning-text")).to_have_text(OFFLINE_BANNER, timeout=8_000)
    camera.kiosk(page, "offline-banner")
    assert deposits(app) == []

    back_at = datetime.now(UTC)
    server.start()
    expect(page.locator("#waiting")).to_be_hidden(timeout=15_000)
    expect(page.locator("#warnings")).to_be_hidden(timeout=5_000)

    recorded = deposits(app)
    assert [d.device_id for d in recorded] == [phone.id for phone in phones]  # once, in order
    for deposit, (before, after) in zip(recorded, made, strict=True):
        at = utc(deposit.deposited_at)
        assert before - timedelta(seconds=1) <= at <= after + timedelta(seconds=1), (at, before)
        assert at < back_at  # when it was scanned, not when it was sent
    assert [d.locker.number for d in _with_lockers(app, recorded)] == [1, 3, 2]
    assert receipts(app) == 3  # one key each: a replay would have found its first answer


def _with_lockers(app: Flask, recorded: list[Deposit]) -> list[Deposit]:
    with app.app_context(), Session(db.engine, expire_on_commit=False) as session:
        found = [session.get_one(Deposit, d.id) for d in recorded]
        for deposit in found:
            deposit.locker  # noqa: B018 - loaded while the session is open
        return found


def test_a_server_error_keeps_the_scan_and_a_new_page_sends_it(
        context: BrowserContext, page: Page, app: Flask, web_school: Any):
    pair_page(page, app)
    kiosk = KioskScreen(page)
    sent: list[dict[str, Any]] = []

    def broken(route: Any, request: Any) -> None:
        sent.append(request.post_data_json)
        route.fulfill(status=503, body="Service Unavailable", content_type="text/plain")

    page.route("**/kiosk/scan", broken)
    before = datetime.now(UTC)
    kiosk.scan(web_school.carol_phone.label_code)
    kiosk.expect_result("Saved")
    expect(page.locator("#waiting")).to_have_text("1 scan waiting to send")
    first = sent[0]
    assert (first["code"], first["source"]) == (web_school.carol_phone.label_code, "page")
    page.close()  # the kiosk's browser restarts before the server is fixed
    assert deposits(app) == []

    again = context.new_page()  # the same browser profile: the same IndexedDB
    again.goto("/kiosk")
    expect(again.locator("#idle")).to_be_visible()
    expect(again.locator("#waiting")).to_be_hidden(timeout=10_000)
    [deposit] = deposits(app)
    assert deposit.device_id == web_school.carol_phone.id
    assert before - timedelta(seconds=1) <= utc(deposit.deposited_at) <= before + timedelta(
        seconds=5)
    # The same key as the first try: had the 503 come after the deposit, it would not repeat.
    with app.app_context(), Session(db.engine) as session:
        assert session.scalars(select(ScanReceipt.key)).all() == [first["key"]]
