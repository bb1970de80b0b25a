"""The kiosk screen and the kiosk agent together: what the agent's readers read shows on the
screen, an unplugged reader is announced, and the demo simulator page drives it all."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, expect

from hardware.service import AgentSettings, KioskAgent
from hardware.simulated import badge_frame_for
from tests.hardware.devices import PtyDevice
from tests.test_agent_service import FAST, eventually, short_directory, unplug

pytestmark = pytest.mark.browser


@pytest.fixture
def folder() -> Iterator[Path]:
    with short_directory() as path:
        yield path


@pytest.fixture
def start_agent(live_server: str, web_school: Any, folder: Path) -> Iterator[
        Callable[[dict[str, str]], KioskAgent]]:
    agents: list[KioskAgent] = []

    def start(readers: dict[str, str]) -> KioskAgent:
        settings = AgentSettings(token=web_school.staff_kiosk_token, server=live_server,
                                 readers=readers, locks="sim", lockers=4,
                                 queue=folder / "queue.sqlite3", **FAST)
        agent = KioskAgent(settings).start()
        agents.append(agent)
        eventually(lambda: all(r.state.connected for r in agent.readers.values()))
        return agent

    yield start
    for agent in agents:
        agent.stop()


def test_a_badge_on_the_agents_reader_shows_on_the_screen_and_unplugging_it_warns(
        kiosk, web_school, start_agent, folder, camera):
    rfid = PtyDevice(link=folder / "rfid")
    try:
        start_agent({"rfid": rfid.path})
        rfid.send(badge_frame_for(web_school.alice.badge_id))
        kiosk.expect_result("Phone locked away", "Locker 1")
        expect(kiosk.page.locator("#result-message")).to_contain_text("locker 1")
        camera.kiosk(kiosk.page, "agent-badge-deposited")

        unplug(rfid)
        warnings = kiosk.page.locator("#warnings")
        expect(warnings).to_be_visible()
        expect(warnings).to_contain_text("Badge reader disconnected")
        camera.kiosk(kiosk.page, "agent-reader-unplugged")
    finally:
        rfid.close()


class TestDemoSimulator:
    """``make run``'s demo: the simulator page taps a badge; the kiosk screen answers."""

    @pytest.fixture
    def app_config(self, app_config: dict[str, object]) -> dict[str, object]:
        return {**app_config, "PRODUCTION": False}  # the simulator exists only in the demo

    @pytest.fixture
    def sim_dir(self, folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        monkeypatch.setenv("KIOSK_SIM_DIR", str(folder / "sim"))
        return folder / "sim"

    def test_tapping_a_badge_on_the_simulator_page_shows_on_the_kiosk_screen(
            self, kiosk, context: BrowserContext, web_school, sim_dir, start_agent, camera):
        start_agent({"rfid": "sim://rfid", "scanner": "sim://scanner"})
        simulator = context.new_page()  # beside the kiosk screen, paired by the same cookie
        simulator.goto("/kiosk/simulate")
        simulator.get_by_role("button", name="Alice's badge").click()
        expect(simulator.locator(".flash")).to_contain_text("Presented 0003887558")
        camera.office(simulator, "simulator")

        kiosk.expect_result("Phone locked away", "Locker 1")
        # The label read within the second-scan guard (60 s): the agent's repeat changes nothing.
        simulator.get_by_role("button", name=web_school.alice_phone.label_code).click()
        kiosk.expect_result("Already in locker 1")
