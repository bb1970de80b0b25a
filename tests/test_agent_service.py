"""The kiosk agent end to end: devices on real pseudo-terminals, the agent's threads, the web app
on a loopback port, and what lands in the database. Nothing of ours is mocked.

Intervals are short (heartbeat 0.1 s, retries from 0.05 s) so every test takes about a second.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.serving import BaseWSGIServer, make_server

from hardware.locks import DoorState
from hardware.service import AgentSettings, KioskAgent
from hardware.simulated import badge_frame_for
from kiosk.answers import status_for
from kiosk.extensions import db
from register.models import AgentHeartbeat as AgentRecord
from register.models import (
    Deposit,
    DepositDoor,
    KioskEvent,
    LockCommand,
    LockerDoor,
    ScanReceipt,
    utc_now,
)
from tests.hardware.devices import PtyDevice

T = TypeVar("T")
FAST = {"heartbeat_seconds": 0.1, "retry_first_seconds": 0.05, "retry_max_seconds": 0.2,
        "read_timeout_seconds": 0.05, "http_timeout_seconds": 2.0}


# --- helpers, shared with the CLI and browser tests -------------------------------------------

def eventually(check: Callable[[], T], timeout: float = 10.0, what: str = "") -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout} s: {what or check}")
        time.sleep(0.02)


class WebServer:
    """A WSGI app on 127.0.0.1 in a thread; ``stop`` then ``start`` again keeps the port."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.port = 0
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WebServer:
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._server.server_close()
            self._server = None


class Gateway:
    """In front of the app, as a proxy or a flaky network would be. While ``failing`` is set it
    answers 503 itself (a web app whose database is down); while ``lose_answers`` is above
    zero it lets a scan through to the app, then loses the app's answer and says 502."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.failing = False
        self.lose_answers = 0
        self.refused = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if self.lose_answers and environ["PATH_INFO"] == "/api/v1/scan":
            self.lose_answers -= 1
            answer = self.app(environ, lambda *args: None)
            try:
                b"".join(answer)  # the scan is done and answered...
            finally:
                answer.close()
            return self._fail("502 Bad Gateway", start_response)  # ...and the answer is lost
        if self.failing:
            self.refused += 1
            return self._fail("503 Service Unavailable", start_response)
        return self.app(environ, start_response)

    @staticmethod
    def _fail(status: str, start_response: Callable[..., Any]) -> list[bytes]:
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps({"message": status}).encode()]


@contextmanager
def serving(app: Any) -> Iterator[WebServer]:
    server = WebServer(app).start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def short_directory() -> Iterator[Path]:
    """Short: a Unix socket path must fit in 107 bytes, and pytest's tmp_path may not."""
    path = Path(tempfile.mkdtemp(prefix="agent", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def unplug(device: PtyDevice) -> None:
    """Pull the USB lead: the port dies and udev removes its name."""
    device.unplug()
    Path(device.path).unlink(missing_ok=True)


def rows(app: Any, model: type[T], *where: Any) -> list[T]:
    with app.app_context(), Session(db.engine) as session:
        found = session.scalars(select(model).where(*where).order_by(*model.__mapper__.primary_key))
        result = list(found)
        session.expunge_all()
        return result


def deposits(app: Any) -> list[tuple[int, int]]:
    """(phone id, locker number) of every deposit, oldest first."""
    with app.app_context(), Session(db.engine) as session:
        return [(d.device_id, d.locker.number)
                for d in session.scalars(select(Deposit).order_by(Deposit.id))]


def door_states(app: Any) -> dict[int, str]:
    """Locker number -> door state, as the web app holds them from the agent's heartbeats."""
    with app.app_context(), Session(db.engine) as session:
        return {door.locker.number: door.state for door in session.scalars(select(LockerDoor))}


def reported_readers(app: Any) -> dict[str, Any]:
    """The reader states the web app holds from the agent's last heartbeat."""
    records = rows(app, AgentRecord)
    return dict(records[0].readers) if records else {}


# --- fixtures ----------------------------------------------------------------------------------

@pytest.fixture
def short_dir() -> Iterator[Path]:
    with short_directory() as path:
        yield path


@pytest.fixture
def web(app: Any) -> Iterator[WebServer]:
    with serving(app) as server:
        yield server


@pytest.fixture
def ptys(short_dir: Path) -> Iterator[Callable[[str], PtyDevice]]:
    """``ptys("scanner")``: a device on a new pseudo-terminal, reachable at a stable path."""
    made: list[PtyDevice] = []

    def plug_in(name: str) -> PtyDevice:
        device = PtyDevice(link=short_dir / name)
        made.append(device)
        return device

    yield plug_in
    for device in made:
        device.close()


@pytest.fixture
def start_agent(web: WebServer, web_school: Any, tmp_path: Path) -> Iterator[
        Callable[..., KioskAgent]]:
    """Start the Staff room kiosk's agent (four lockers) against ``web``, stopped afterwards."""
    agents: list[KioskAgent] = []

    def start(readers: dict[str, str], locks: str = "sim", **settings: Any) -> KioskAgent:
        options: dict[str, Any] = {
            "token": web_school.staff_kiosk_token, "server": web.url, "readers": readers,
            "locks": locks, "lockers": 4, "queue": tmp_path / "queue.sqlite3", **FAST,
            **settings}
        agent = KioskAgent(AgentSettings(**options)).start()
        agents.append(agent)
        eventually(lambda: all(r.state.connected for r in agent.readers.values()),
                   what="readers connected")
        return agent

    yield start
    for agent in agents:
        agent.stop()


def label(device: Any) -> bytes:
    """A phone label as a serial scanner sends it: the code and a CR LF suffix."""
    return device.label_code.encode() + b"\r\n"


# --- tests -------------------------------------------------------------------------------------

def test_a_badge_and_a_label_on_serial_readers_deposit_phones(app, web_school, ptys,
                                                              start_agent):
    rfid, scanner = ptys("rfid"), ptys("scanner")
    agent = start_agent({"rfid": rfid.path, "scanner": scanner.path})

    rfid.send(badge_frame_for(web_school.alice.badge_id) * 3)  # held: the frame repeats
    eventually(lambda: deposits(app) == [(web_school.alice_phone.id, 1)], what="alice in 1")
    scanner.send(label(web_school.carol_phone))
    eventually(lambda: len(deposits(app)) == 2, what="carol's deposit")

    assert deposits(app) == [(web_school.alice_phone.id, 1), (web_school.carol_phone.id, 3)]
    eventually(lambda: len(agent.outbox) == 0, what="both acknowledged")
    events = rows(app, KioskEvent, KioskEvent.kind == "scan")
    assert [(e.data["source"], e.data["outcome"], e.data["locker"]) for e in events] == [
        ("rfid", "deposited", 1), ("scanner", "deposited", 3)]
    assert eventually(lambda: reported_readers(app)) and all(
        state["connected"] for state in reported_readers(app).values())


def test_scans_wait_on_disk_while_the_web_app_is_down_then_arrive_once_in_order(
        app, web, web_school, ptys, start_agent):
    scanner = ptys("scanner")
    agent = start_agent({"scanner": scanner.path})
    eventually(lambda: reported_readers(app), what="a first heartbeat")
    web.stop()

    phones = [web_school.alice_phone, web_school.bob_phone, web_school.carol_phone]
    windows: list[tuple[datetime, datetime]] = []
    for number, phone in enumerate(phones, start=1):
        before = utc_now()
        scanner.send(label(phone))
        eventually(lambda n=number: len(agent.outbox) == n, what=f"{number} queued")
        windows.append((before, utc_now()))
        time.sleep(0.05)
    time.sleep(0.3)  # several failed sends meanwhile
    assert len(agent.outbox) == 3
    assert deposits(app) == []

    back = utc_now()
    web.start()
    eventually(lambda: len(agent.outbox) == 0, what="queue drained")

    assert deposits(app) == [(phones[0].id, 1), (phones[1].id, 2), (phones[2].id, 3)]
    for (before, after), deposit in zip(windows, rows(app, Deposit), strict=True):
        # Recorded at the scan's own time (to the millisecond), not when it reached the server.
        assert before - timedelta(milliseconds=1) <= deposit.deposited_at <= after < back
    assert len(rows(app, ScanReceipt)) == 3


def test_a_refusal_is_final_and_a_server_error_is_retried(app, web_school, ptys, tmp_path):
    gate = Gateway(app)
    server = WebServer(gate).start()
    scanner = ptys("scanner")
    settings = AgentSettings(token=web_school.staff_kiosk_token, server=server.url,
                             readers={"scanner": scanner.path}, queue=tmp_path / "q.sqlite3",
                             **FAST)
    try:
        with KioskAgent(settings) as agent:
            eventually(lambda: agent.readers["scanner"].state.connected)
            scanner.send(b"NO-SUCH-LABEL\r\n")  # 404 from the web app: never sent again
            eventually(lambda: len(rows(app, ScanReceipt)) == 1, what="the refusal")
            eventually(lambda: len(agent.outbox) == 0)

            gate.failing = True
            scanner.send(label(web_school.alice_phone))
            eventually(lambda: gate.refused >= 3, what="retries after 503")
            assert len(agent.outbox) == 1 and deposits(app) == []
            gate.failing = False
            eventually(lambda: deposits(app) == [(web_school.alice_phone.id, 1)])
            eventually(lambda: len(agent.outbox) == 0)
    finally:
        server.stop()
    receipts = rows(app, ScanReceipt)
    assert [status_for(r.body.get("reason")) for r in receipts] == [404, 200]


def test_an_unplugged_reader_is_reported_and_picked_up_again_when_it_returns(
        app, web_school, ptys, start_agent):
    scanner = ptys("scanner")
    agent = start_agent({"scanner": scanner.path}, locks="none")
    eventually(lambda: reported_readers(app).get("scanner", {}).get("connected"))

    unplug(scanner)
    eventually(lambda: not agent.readers["scanner"].state.connected)
    reported = eventually(lambda: (r := reported_readers(app).get("scanner")) and
                          not r["connected"] and r, what="disconnected reported")
    assert "disconnected" in reported["detail"] or "not found" in reported["detail"]
    time.sleep(0.3)  # the agent keeps trying to open the missing device, and keeps running

    replacement = ptys("scanner")  # plugged in again: same name, a new tty behind it
    assert replacement.tty_path != scanner.tty_path
    eventually(lambda: agent.readers["scanner"].state.connected, what="reconnected")
    eventually(lambda: reported_readers(app)["scanner"]["connected"])
    replacement.send(label(web_school.alice_phone))
    eventually(lambda: deposits(app) == [(web_school.alice_phone.id, 1)])


def test_a_deposit_opens_its_locker_in_the_sim_bank_and_the_doors_are_reported(
        app, web_school, ptys, start_agent):
    scanner = ptys("scanner")
    agent = start_agent({"scanner": scanner.path}, locks="sim")
    bank = agent.lock_bank
    assert bank is not None and bank.status()[1] == DoorState.CLOSED

    scanner.send(label(web_school.alice_phone))
    eventually(lambda: bank.status()[1] == DoorState.OPEN, what="locker 1 open")
    command = eventually(lambda: rows(app, LockCommand, LockCommand.done_at.is_not(None)))[0]
    assert (command.locker_number, command.ok, command.error) == (1, True, "")
    eventually(lambda: door_states(app) == {1: "open", 2: "closed", 3: "closed", 4: "closed"},
               what="door 1 reported open")

    bank.shut(1)  # the person closes the door on their phone
    eventually(lambda: door_states(app)[1] == "closed", what="door 1 reported closed")
    eventually(lambda: rows(app, DepositDoor), what="the deposit completed by the door")


def test_a_lock_board_that_does_not_answer_is_reported_as_a_failed_open(
        app, web_school, ptys, start_agent):
    scanner, board = ptys("scanner"), ptys("kerong")  # a Kerong board that never answers
    start_agent({"scanner": scanner.path}, locks=f"kerong:{board.path}",
                lock_options={"reply_timeout": 0.05})

    scanner.send(label(web_school.alice_phone))
    command = eventually(lambda: rows(app, LockCommand, LockCommand.done_at.is_not(None)))[0]
    assert (command.locker_number, command.ok) == (1, False)
    assert "did not answer" in command.error
    failures = rows(app, KioskEvent, KioskEvent.kind == "lock_failed")
    assert [e.data["locker"] for e in failures] == [1]
    with app.app_context(), Session(db.engine) as session:
        assert session.scalar(select(func.count()).select_from(Deposit)) == 1


def test_an_answer_lost_on_the_way_back_is_asked_for_again_and_acts_once(
        app, web_school, ptys, tmp_path):
    gate = Gateway(app)
    gate.lose_answers = 2
    scanner = ptys("scanner")
    settings = AgentSettings(token=web_school.staff_kiosk_token, server="",
                             readers={"scanner": scanner.path}, queue=tmp_path / "q.sqlite3",
                             **FAST)
    with serving(gate) as server:
        settings.server = server.url
        with KioskAgent(settings) as agent:
            eventually(lambda: agent.readers["scanner"].state.connected)
            scanner.send(label(web_school.alice_phone))
            eventually(lambda: len(agent.outbox) == 0 and gate.lose_answers == 0)

    # Three requests with one key: the first deposited, the other two got its stored answer.
    assert deposits(app) == [(web_school.alice_phone.id, 1)]
    assert [status_for(r.body.get("reason")) for r in rows(app, ScanReceipt)] == [200]
