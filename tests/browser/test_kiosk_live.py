"""The kiosk screen live: scans and warnings from the kiosk agent, and a scanner's quirks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.extensions import db
from register import kiosk_link
from register.db import unit_of_work
from register.models import Deposit, utc_now

pytestmark = pytest.mark.browser

BADGE_READER_GONE = "Badge reader disconnected — please see the office"


class Agent:
    """The kiosk agent's side of the API, as the staff-room kiosk's agent calls it."""

    def __init__(self, app: Flask, token: str, kiosk_id: int) -> None:
        self.app, self.kiosk_id = app, kiosk_id
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def scan(self, code: str, source: str = "rfid") -> dict[str, Any]:
        return self.client.post("/api/v1/scan", headers=self.headers,
                                json={"code": code, "source": source}).json

    def heartbeat(self, rfid: bool = True, doors: dict[str, str] | None = None) -> list[dict]:
        response = self.client.post("/api/v1/agent/heartbeat", headers=self.headers, json={
            "readers": {"rfid": {"connected": rfid}, "scanner": {"connected": True}},
            "doors": doors or {}})
        assert response.status_code == 200, response.json
        return response.json["commands"]

    def report(self, command_id: int, ok: bool, error: str = "") -> None:
        self.client.post(f"/api/v1/agent/commands/{command_id}", headers=self.headers,
                         json={"ok": ok, "error": error})

    def heartbeat_in_the_past(self, seconds: int, doors: dict[int, str]) -> None:
        """A heartbeat as if sent ``seconds`` ago (a door opened then, or the agent fell quiet)."""
        with self.app.app_context(), Session(db.engine) as session, unit_of_work(session):
            readers = {"rfid": kiosk_link.ReaderReport(True),
                       "scanner": kiosk_link.ReaderReport(True)}
            kiosk_link.heartbeat(session, self.kiosk_id, readers, doors,
                                 utc_now() - timedelta(seconds=seconds))

    def open_deposits(self) -> int:
        with self.app.app_context(), Session(db.engine) as session:
            return session.scalar(select(func.count()).select_from(Deposit)
                                  .where(Deposit.collected_at.is_(None))) or 0


@pytest.fixture
def agent(app: Flask, web_school: Any) -> Agent:
    return Agent(app, web_school.staff_kiosk_token, web_school.staff_kiosk.id)


def test_a_badge_read_by_the_agent_shows_on_the_page_without_reload(kiosk, agent, web_school):
    answer = agent.scan(web_school.alice.badge_id, source="rfid")
    assert answer["outcome"] == "deposited"
    kiosk.expect_result("Phone locked away", "Locker 1")
    expect(kiosk.page.locator("#result-message")).to_have_text(
        "Alice, put your phone in locker 1 and close the door.")
    # Scans on the page itself still work, and show at once; the guard holds this one, and a
    # tap takes the phone out on purpose.
    kiosk.scan(web_school.alice.badge_id)
    kiosk.expect_result("Already in locker 1")
    kiosk.page.get_by_role("button", name="Take it out again").click()
    kiosk.expect_result("Phone collected", "Locker 1")


def test_a_disconnected_badge_reader_shows_a_banner_until_it_returns(kiosk, agent, camera):
    banner = kiosk.page.locator("#warnings")
    agent.heartbeat(rfid=True)
    expect(banner).to_be_hidden()
    agent.heartbeat(rfid=False)
    expect(banner).to_be_visible(timeout=4_000)
    expect(banner.locator(".warning-text")).to_have_text(BADGE_READER_GONE)
    expect(banner.locator(".warning-icon")).to_have_text("!")  # not by colour alone
    camera.kiosk(kiosk.page, "reader-disconnected")
    kiosk.wait_for_scanner_focus()  # the banner takes nothing from the scanner

    agent.heartbeat(rfid=True)
    expect(banner).to_be_hidden(timeout=4_000)


def test_an_agent_that_falls_silent_shows_the_banner(kiosk, agent):
    agent.heartbeat_in_the_past(10, {})
    banner = kiosk.page.locator("#warnings")
    expect(banner.locator(".warning-text")).to_have_text(
        "Badge reader and label scanner disconnected — please see the office", timeout=4_000)
    agent.heartbeat()
    expect(banner).to_be_hidden(timeout=4_000)


def test_a_door_left_open_is_a_warning_over_every_screen(kiosk, agent, web_school, camera):
    agent.heartbeat_in_the_past(40, {2: "open"})
    agent.heartbeat(doors={"2": "open"})
    banner = kiosk.page.locator("#warnings")
    expect(banner.locator(".warning-text")).to_have_text(
        "Locker 2 is open: please close the door", timeout=4_000)
    camera.kiosk(kiosk.page, "door-open")
    kiosk.scan(web_school.alice_phone.label_code)
    kiosk.expect_result("Phone locked away", "Locker 1")
    expect(banner).to_be_visible()
    camera.kiosk(kiosk.page, "door-open-with-result")


def test_a_locker_that_did_not_open_sends_the_person_to_the_office(kiosk, agent, web_school,
                                                                     camera):
    agent.scan(web_school.alice.badge_id)
    kiosk.expect_result("Phone locked away", "Locker 1")
    [command] = agent.heartbeat()
    agent.report(command["id"], ok=False, error="no reply from lock board")
    kiosk.expect_result("Locker did not open", "Locker 1")
    expect(kiosk.page.locator("#result-message")).to_have_text(
        "Locker 1 did not open. Please see the office.")
    camera.kiosk(kiosk.page, "lock-failed")


def test_the_same_code_twice_within_a_second_acts_once(kiosk, agent, web_school):
    page: Page = kiosk.page
    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.url) if r.url.endswith("/kiosk/scan") else None)
    code = web_school.alice_phone.label_code
    kiosk.wait_for_scanner_focus()
    page.keyboard.type(f"{code}\n{code}\n", delay=5)  # a scanner reading the label twice
    kiosk.expect_result("Phone locked away", "Locker 1")
    page.evaluate("() => new Promise((done) => setTimeout(done, 100))")  # let the keys settle
    assert len(posted) == 1
    assert agent.open_deposits() == 1
    # A second later it is a new scan again: the guard asks before collecting.
    page.wait_for_timeout(1_000)
    kiosk.scan(code)
    kiosk.expect_result("Already in locker 1")
    assert len(posted) == 2
    assert agent.open_deposits() == 1


@pytest.mark.parametrize("suffix", ["Tab", "Control+j", "Control+m"])
def test_a_code_ending_in_tab_or_a_line_feed_works(kiosk, web_school, suffix):
    kiosk.scan("0000000001")  # a refusal is showing when the next scan arrives
    kiosk.expect_result("Code not recognised")
    kiosk.wait_for_scanner_focus()
    kiosk.page.keyboard.type(web_school.carol_phone.label_code, delay=10)
    kiosk.page.keyboard.press(suffix)
    kiosk.expect_result("Phone locked away", "Locker 3")


def test_a_tab_typed_as_text_ends_the_code_too(kiosk, web_school):
    kiosk.wait_for_scanner_focus()
    kiosk.page.keyboard.insert_text(f"{web_school.carol_phone.label_code}\t")
    kiosk.expect_result("Phone locked away", "Locker 3")


def test_two_warnings_and_a_question_still_fit_the_pi_display(kiosk, agent, web_school, camera):
    from tests.browser.test_kiosk_screen import assert_fits_without_scrolling, assert_touch_targets

    agent.heartbeat_in_the_past(40, {2: "open", 4: "open"})
    agent.client.post("/api/v1/agent/heartbeat", headers=agent.headers, json={
        "readers": {"rfid": {"connected": False}, "scanner": {"connected": False}},
        "doors": {"2": "open", "4": "open"}})
    lines = kiosk.page.locator("#warnings .warning-text")
    expect(lines).to_have_text([
        "Badge reader and label scanner disconnected — please see the office",
        "Lockers 2 and 4 are open: please close the doors"], timeout=4_000)
    kiosk.scan(web_school.bob.badge_id)
    kiosk.expect_result("Choose a phone")
    camera.kiosk(kiosk.page, "two-warnings-choose")
    assert_fits_without_scrolling(kiosk.page)
    assert_touch_targets(kiosk.page, "#choices button, #done")
