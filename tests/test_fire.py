"""The fire alarm (issue 13): the panel's contact through its simulated twin, the agent, the
server's choice (open the bank or keep it locked), the SLT banner and the printed roll call."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hardware.fire import FireAlarmInput, SimulatedFireAlarm, open_fire_input, send_simulated
from hardware.service import Backoff, FireWatch
from kiosk.extensions import db
from register import fire
from register.db import unit_of_work
from register.models import AuditEvent, LockCommand
from tests.conftest import School


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def actions(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def commands(session: Session) -> list[tuple[int, int]]:
    rows = session.execute(select(LockCommand.kiosk_id, LockCommand.locker_number)
                           .order_by(LockCommand.locker_number))
    return [(kiosk, locker) for kiosk, locker in rows]


# --- the input: debounced, never on power-up --------------------------------------------------

def test_an_alarm_counts_once_it_has_held_for_two_seconds_and_a_blip_is_ignored() -> None:
    panel, clock = SimulatedFireAlarm(), Clock()
    contact = FireAlarmInput(panel, clock=clock)
    panel.set()  # a blip of a second and a half
    assert not contact.poll()
    clock.now = 1.5
    assert not contact.poll()
    panel.clear()
    clock.now = 3.0
    assert not contact.poll() and not contact.in_alarm
    panel.set()  # now it holds
    assert not contact.poll()
    clock.now = 4.9
    assert not contact.poll()
    clock.now = 5.0
    assert contact.poll() and contact.in_alarm
    clock.now = 9.0
    assert not contact.poll()  # reported once, not on every read while it lasts


def test_a_contact_already_in_alarm_at_start_is_not_acted_on(
        caplog: pytest.LogCaptureFixture) -> None:
    panel, clock = SimulatedFireAlarm(alarm=True), Clock()
    contact = FireAlarmInput(panel, clock=clock)
    assert contact.active_at_start
    assert "fire alarm input active at start: not acted on" in caplog.text
    clock.now = 60.0
    assert not contact.poll() and not contact.poll()
    panel.clear()  # reset at the panel; only a new alarm after that counts
    contact.poll()
    clock.now = 63.0
    assert not contact.poll()
    panel.set()
    contact.poll()
    clock.now = 66.0
    assert contact.poll()


def test_the_simulated_twin_is_reached_through_its_socket(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIOSK_SIM_DIR", str(tmp_path))
    with open_fire_input("sim://fire", hold_seconds=0) as contact:
        assert not contact.in_alarm
        send_simulated("fire", True)
        assert contact.poll()
        send_simulated("fire", False)
        assert not contact.poll() and not contact.in_alarm


@pytest.mark.parametrize("spec", ["gpio:17", "gpio:gpiochip0:x", "gpio:gpiochip0:17:maybe",
                                  "serial:/dev/ttyS0"])
def test_a_spec_that_can_never_work_is_refused_with_a_sentence(spec: str) -> None:
    with pytest.raises(ValueError, match="gpio:CHIP:LINE"):
        open_fire_input(spec)


# --- the server: the school's choice ----------------------------------------------------------

def test_keep_locked_records_the_alarm_and_opens_nothing(session: Session, school: School) -> None:
    with unit_of_work(session):
        outcome = fire.report_alarm(session, school.staff_kiosk.id, "k1")
    assert "kept locked" in outcome.message and outcome.opened == 0
    assert commands(session) == []
    [entry] = actions(session, "fire.alarm")
    assert entry.subject == f"kiosk:{school.staff_kiosk.id}" and "kept locked" in entry.detail
    flag = fire.current_alarm(session)
    assert flag is not None and flag.kiosks == "Staff kiosk"


def test_open_queues_every_locker_of_that_kiosks_bank_once(session: Session,
                                                          school: School) -> None:
    with unit_of_work(session):
        fire.put_lockers_choice(session, fire.OPEN, "admin")
    with unit_of_work(session):
        outcome = fire.report_alarm(session, school.staff_kiosk.id, "k1")
    with unit_of_work(session):
        again = fire.report_alarm(session, school.staff_kiosk.id, "k1")  # a lost answer
    assert outcome.opened == 4 and again.repeat
    assert commands(session) == [(school.staff_kiosk.id, n) for n in (1, 2, 3, 4)]
    assert len(actions(session, "fire.alarm")) == 1
    [opening] = actions(session, "lockers.emergency_open")
    assert opening.actor == "fire alarm" and "Staff kiosk" in opening.detail


def test_an_alarm_reported_long_after_it_went_off_opens_nothing(session: Session,
                                                               school: School) -> None:
    from datetime import timedelta

    from register.models import utc_now
    with unit_of_work(session):
        fire.put_lockers_choice(session, fire.OPEN, "admin")
        outcome = fire.report_alarm(session, school.staff_kiosk.id, "k1",
                                    seen_at=utc_now() - timedelta(minutes=30))
    assert outcome.opened == 0 and "not opened" in outcome.message
    assert commands(session) == []


# --- through the agent and the web app ---------------------------------------------------------

class AgentViaTestClient:
    """The agent's WebClient over Flask's test client: the real endpoint, no network."""

    base_url = "test://"

    def __init__(self, client: Any, token: str) -> None:
        self._client, self._token = client, token

    def post(self, path: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        answer = self._client.post(path, json=payload,
                                   headers={"Authorization": f"Bearer {self._token}"})
        return answer.status_code, answer.get_json() or {}


@pytest.fixture
def fake_lp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real ``lp`` program on PATH that keeps its arguments and what it was sent."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "lp"
    script.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/lp-args\ncat > {tmp_path}/lp-input\n'
                      "echo 'request id is Office-1 (1 file(s))'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


def _start_watch(app: Any, web_school: School,
                 panel: SimulatedFireAlarm) -> tuple[FireWatch, threading.Event]:
    """The agent's fire watch on the twin, reporting to the test app with the kiosk's token."""
    stop = threading.Event()
    web = AgentViaTestClient(app.test_client(), web_school.staff_kiosk_token)
    watch = FireWatch("sim://fire", web, stop, backoff=Backoff(0.05, 0.2),  # type: ignore[arg-type]
                      poll_seconds=0.01,
                      opener=lambda _spec: FireAlarmInput(panel, hold_seconds=0.05))
    watch.thread.start()
    return watch, stop


def _watch_until_reported(app: Any, web_school: School, panel: SimulatedFireAlarm) -> FireWatch:
    watch, stop = _start_watch(app, web_school, panel)
    try:
        deadline = time.monotonic() + 10
        while watch.fire_input is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        panel.set()
        with app.app_context():
            while not actions(db.session(), "fire.alarm"):
                assert time.monotonic() < deadline, "the alarm never reached the server"
                db.session.remove()
                time.sleep(0.02)
            db.session.remove()
        while watch.unsent:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        stop.set()
        watch.thread.join(timeout=5)
    return watch


def test_the_agent_reports_the_alarm_and_the_roll_call_is_printed(
        app: Any, web_school: School, fake_lp: Path) -> None:
    app.config["FIRE_PRINTER"] = "Office"
    _watch_until_reported(app, web_school, SimulatedFireAlarm())
    assert (fake_lp / "lp-args").read_text().split() == ["-d", "Office", "-t", "Fire", "roll",
                                                         "call", "-"]
    assert (fake_lp / "lp-input").read_bytes().startswith(b"%PDF")
    with app.app_context():
        [printed] = actions(db.session(), "print.roll_call")
        assert printed.actor == "fire alarm" and "Office" in printed.detail
        assert db.session.scalar(select(func.count()).select_from(LockCommand)) == 0


def test_an_agent_started_during_an_alarm_reports_nothing(app: Any, web_school: School) -> None:
    watch, stop = _start_watch(app, web_school, SimulatedFireAlarm(alarm=True))
    try:
        deadline = time.monotonic() + 10
        while watch.fire_input is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        for _ in range(20):  # well past the hold time, still in alarm
            time.sleep(0.01)
    finally:
        stop.set()
        watch.thread.join(timeout=5)
    assert watch.unsent == []
    with app.app_context():
        assert actions(db.session(), "fire.alarm") == []


def test_without_lp_the_server_says_printing_is_not_configured(
        client: Any, web_school: School, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no lp here
    answer = client.post("/api/v1/agent/fire-alarm", json={"key": "k1"},
                         headers={"Authorization": f"Bearer {web_school.staff_kiosk_token}"})
    assert answer.status_code == 200
    assert "not printed: printing is not configured" in answer.get_json()["message"]


def test_a_bad_report_gets_a_sentence(client: Any, web_school: School) -> None:
    answer = client.post("/api/v1/agent/fire-alarm", json={"at": "now"},
                         headers={"Authorization": f"Bearer {web_school.staff_kiosk_token}"})
    assert answer.status_code == 400 and "Send JSON like" in answer.get_json()["message"]
    assert client.post("/api/v1/agent/fire-alarm", json={"key": "k"}).status_code == 401


# --- SLT's banner, and the admin's setting -------------------------------------------------------

def test_every_slt_screen_shows_the_alarm_until_it_is_cleared(
        app: Any, client: Any, auth: Any, web_school: School, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    auth.login("slt")
    assert client.get("/slt/pending.json").json["fire_alarm"] == ""  # a page left open...
    client.post("/api/v1/agent/fire-alarm", json={"key": "k1"},
                headers={"Authorization": f"Bearer {web_school.staff_kiosk_token}"})
    polled = client.get("/slt/pending.json").json["fire_alarm"]  # ...learns of it at its poll
    page = client.get("/slt/").get_data(as_text=True)
    assert polled and f'data-fire-alarm="{polled}"' in page  # and, reloaded, shows it
    assert "Fire alarm at" in page and "(Staff kiosk)" in page
    assert "/reports/roll-call?print=1" in page
    answer = client.post("/slt/fire-alarm/clear", follow_redirects=True)
    page = answer.get_data(as_text=True)
    assert "Fire alarm cleared." in page and "Fire alarm at" not in page
    assert client.get("/slt/pending.json").json["fire_alarm"] == ""
    with app.app_context():
        [cleared] = actions(db.session(), "fire.alarm_cleared")
        assert cleared.actor == "slt"


def test_the_admin_chooses_open_or_keep_locked(app: Any, client: Any, auth: Any,
                                                web_school: School) -> None:
    auth.login("admin")
    form = client.get("/admin/settings").get_data(as_text=True)
    assert 'value="keep_locked" checked' in form
    answer = client.post("/admin/settings", data={"fire_alarm_lockers": "open"})
    assert answer.status_code == 302
    assert 'value="open" checked' in client.get("/admin/settings").get_data(as_text=True)
    answer = client.post("/admin/settings", data={"fire_alarm_lockers": "sometimes"})
    assert answer.status_code == 400
    assert "Fire alarm: choose whether" in answer.get_data(as_text=True)
    with app.app_context():
        assert fire.lockers_choice(db.session()) == fire.OPEN


def test_flask_simulate_fire_sets_and_clears_the_running_agents_twin(
        runner: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIOSK_SIM_DIR", str(tmp_path))
    with open_fire_input("sim://fire", hold_seconds=0) as contact:
        result = runner.invoke(args=["simulate", "fire", "on"])
        assert result.exit_code == 0 and "Fire alarm raised on sim://fire." in result.output
        assert contact.poll()
        runner.invoke(args=["simulate", "fire", "off"])
        assert not contact.poll() and not contact.in_alarm
    result = runner.invoke(args=["simulate", "fire", "on"])
    assert result.exit_code == 1 and "is the kiosk agent running?" in result.output
