"""The agent's commands: ``reader`` as a real process, ``simulate``, ``seed-demo --token-file``,
and the demo-only simulator page."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hardware.readers import open_reader
from hardware.service import AgentSettings, KioskAgent
from hardware.simulated import send, sim_socket_path
from kiosk.extensions import db
from register.kiosks import kiosk_for_token
from register.models import ScanReceipt
from tests.conftest import pair_browser
from tests.test_agent_service import (
    FAST,
    WebServer,
    deposits,
    eventually,
    rows,
    serving,
    short_directory,
)


@pytest.fixture
def sim_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with short_directory() as path:
        monkeypatch.setenv("KIOSK_SIM_DIR", str(path))
        yield path


@pytest.fixture
def web(app: Any) -> Iterator[WebServer]:
    with serving(app) as server:
        yield server


@pytest.fixture
def sim_agent(web, web_school, sim_dir, tmp_path):
    """The Staff room kiosk's agent on simulated readers, as ``make run`` starts it."""
    settings = AgentSettings(
        token=web_school.staff_kiosk_token, server=web.url, locks="sim", lockers=4,
        readers={"scanner": "sim://scanner", "rfid": "sim://rfid"},
        queue=tmp_path / "queue.sqlite3", **FAST)
    with KioskAgent(settings) as agent:
        eventually(lambda: all(r.state.connected for r in agent.readers.values()))
        yield agent


def test_simulate_taps_a_badge_and_scans_a_label_at_the_running_agent(
        app, runner, web_school, sim_agent):
    result = runner.invoke(args=["simulate", "badge", web_school.alice.badge_id])
    assert result.exit_code == 0, result.output
    assert "Tapped badge 0003887558 on sim://rfid." in result.output
    eventually(lambda: deposits(app) == [(web_school.alice_phone.id, 1)])

    result = runner.invoke(args=["simulate", "scan", web_school.carol_phone.label_code])
    assert result.exit_code == 0, result.output
    eventually(lambda: len(deposits(app)) == 2)
    assert deposits(app)[1] == (web_school.carol_phone.id, 3)


def test_simulate_says_when_no_agent_is_listening_or_the_badge_is_not_one(runner, sim_dir):
    result = runner.invoke(args=["simulate", "badge", "0003887558"])
    assert result.exit_code == 1
    assert "is the kiosk agent running?" in result.output
    result = runner.invoke(args=["simulate", "badge", "12345"])
    assert result.exit_code == 2
    assert "not a badge id" in result.output


def test_the_reader_command_runs_the_agent_until_it_is_told_to_stop(
        app, web, web_school, sim_dir, tmp_path):
    token_file = tmp_path / "kiosk.token"
    token_file.write_text(web_school.staff_kiosk_token + "\n")
    env = {**os.environ, "KIOSK_SIM_DIR": str(sim_dir), "PYTHONPATH": os.getcwd(),
           # Configuration from the environment works as well as options do.
           "KIOSK_SCANNER": "sim://scanner", "KIOSK_SERVER": web.url}
    agent = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "kiosk", "reader", "--token-file",
         str(token_file), "--queue", str(tmp_path / "queue.sqlite3"), "--heartbeat", "0.2"],
        env=env, stderr=subprocess.PIPE, text=True)
    try:
        eventually(lambda: sim_socket_path("scanner").exists() or agent.poll() is not None)
        send("scanner", web_school.bob_phone.label_code.encode() + b"\r")
        eventually(lambda: deposits(app) == [(web_school.bob_phone.id, 1)])
        eventually(lambda: rows(app, ScanReceipt))
    finally:
        agent.send_signal(signal.SIGTERM)
        _, log = agent.communicate(timeout=10)
    assert agent.returncode == 0, log
    assert "scanner sim://scanner: connected" in log
    assert f"sent {web_school.bob_phone.label_code} → deposited locker 1" in log
    assert "kiosk agent stopped" in log
    assert not sim_socket_path("scanner").exists(), "the socket is cleaned up"


def test_the_reader_command_needs_a_token_and_something_to_do(runner, tmp_path):
    result = runner.invoke(args=["reader", "--scanner", "sim://scanner"], env={})
    assert result.exit_code == 2 and "kiosk's token" in result.output
    result = runner.invoke(args=["reader", "--token", "x"])
    assert result.exit_code == 2 and "Nothing to do" in result.output
    result = runner.invoke(args=["reader", "--token", "x", "--locks", "magnets",
                                 "--queue", str(tmp_path / "q.sqlite3")])
    assert result.exit_code == 2 and "is not a lock bank" in result.output
    result = runner.invoke(args=["reader", "--token", "x", "--locks", "sim",
                                 "--lock-option", "colour=red",
                                 "--queue", str(tmp_path / "q.sqlite3")])
    assert result.exit_code == 2 and "colour" in result.output


def test_seed_demo_hands_the_staff_room_kiosk_token_to_the_agent(app, runner, tmp_path):
    token_file = tmp_path / "instance" / "staff-room-kiosk.token"
    for _ in range(2):  # a second make run re-issues the token and rewrites the file
        result = runner.invoke(args=["seed-demo", "--token-file", str(token_file)])
        assert result.exit_code == 0, result.output
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        with app.app_context():
            kiosk = kiosk_for_token(db.session, token_file.read_text().strip())
            assert kiosk is not None and kiosk.name == "Staff room kiosk"


# --- the simulator page ------------------------------------------------------------------------

def test_the_simulator_page_needs_a_kiosk_or_an_office_sign_in(client, auth, web_school):
    assert client.get("/kiosk/simulate").status_code == 302
    pair_browser(client)
    page = client.get("/kiosk/simulate")
    assert page.status_code == 200
    assert web_school.alice.badge_id in page.text
    assert web_school.alice_phone.label_code in page.text


def test_the_simulator_page_presents_badges_and_labels_to_the_sim_readers(
        client, auth, web_school, sim_dir):
    auth.login("office")
    with open_reader("rfid", "sim://rfid") as rfid, open_reader("scanner", "sim://scanner") as sc:
        answer = client.post("/kiosk/simulate", data={
            "reader": "rfid", "code": web_school.alice.badge_id}, follow_redirects=True)
        assert "Presented 0003887558 to the simulated badge reader" in answer.text
        assert rfid.read(timeout=2) == web_school.alice.badge_id
        client.post("/kiosk/simulate", data={"reader": "scanner", "code": "PH7K3M9Q"})
        assert sc.read(timeout=2) == "PH7K3M9Q"
    answer = client.post("/kiosk/simulate", data={"reader": "rfid", "code": "0003887558"},
                         follow_redirects=True)
    assert "is the kiosk agent running?" in answer.text


def test_the_simulator_is_absent_in_production(app, client, auth, web_school):
    app.config["PRODUCTION"] = True
    auth.login("office")
    assert client.get("/kiosk/simulate").status_code == 404
    assert client.post("/kiosk/simulate", data={"reader": "rfid"}).status_code == 404
