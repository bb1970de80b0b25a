"""The kiosk agent: one process that owns a kiosk's readers and locks and talks to the web app.

A serial port cannot be shared between gunicorn workers, so this runs on its own
(``flask --app kiosk reader ...``). Three kinds of thread do the work:

- a :class:`ReaderLoop` per reader opens the device, reads codes into the durable
  :class:`~hardware.outbox.Outbox`, and reopens the device with backoff when it goes away;
- the :class:`Sender` sends queued scans to ``POST /api/v1/scan`` in order, each with its
  idempotency key and original time, retrying while the web app is unreachable;
- the :class:`Heartbeat` reports reader and door states every second, and carries out the lock
  commands the answer brings.

No Flask and no database here: HTTP through ``urllib.request`` with the kiosk's bearer token.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from hardware.errors import HardwareError
from hardware.fire import FireAlarmInput, open_fire_input
from hardware.locks import LockBank, open_lock_bank
from hardware.outbox import Entry, Outbox
from hardware.readers import open_reader

log = logging.getLogger("kiosk.agent")

# Answers that say "not now" rather than "never": the scan stays queued and is sent again.
# 401 too: a wrong token is a set-up mistake to fix, not a reason to drop people's scans.
RETRY_STATUSES = {401, 408, 425, 429}
CLOCK_TOLERANCE_SECONDS = 30
STEADY_SECONDS = 5  # a reader up this long was working: after it goes, retry from the start


# --- settings and small helpers --------------------------------------------------------------

@dataclass
class AgentSettings:
    """Everything the agent needs; the CLI fills it from options and the environment."""

    token: str
    queue: Path
    readers: dict[str, str] = field(default_factory=dict)  # kind ("scanner"/"rfid") -> URL
    locks: str = "none"
    lockers: int = 16
    server: str = "http://127.0.0.1:8000"
    heartbeat_seconds: float = 1.0
    retry_first_seconds: float = 0.5
    retry_max_seconds: float = 10.0
    http_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 0.2  # how long a reader blocks: bounds how quickly we stop
    reader_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # kind -> options
    lock_options: dict[str, Any] = field(default_factory=dict)
    fire: str | None = None  # the fire panel's contact: sim://NAME or gpio:CHIP:LINE[:nc]
    fire_poll_seconds: float = 0.1
    fire_hold_seconds: float = 2.0  # how long the contact must hold its new state to count


class Backoff:
    """Delays that double from ``first`` up to ``limit``, back to ``first`` on ``reset``."""

    def __init__(self, first: float, limit: float) -> None:
        self.first = first
        self.limit = limit
        self._next = first

    def next(self) -> float:
        delay = self._next
        self._next = min(delay * 2, self.limit)
        return delay

    def reset(self) -> None:
        self._next = self.first


def seconds(delay: float) -> str:
    return f"{delay:g} s"


class ServerUnreachable(Exception):
    """No HTTP answer at all: connection refused, timed out, or cut mid-answer."""


class WebClient:
    """JSON over HTTP to the web app with the kiosk's bearer token."""

    def __init__(self, base_url: str, token: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout

    def post(self, path: str, payload: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """The status and JSON body of the answer, whatever the status."""
        request = urllib.request.Request(
            self.base_url + path, data=json.dumps(payload).encode(), method="POST",
            headers={"Authorization": f"Bearer {self._token}",
                     "Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, _json(response.read())
        except urllib.error.HTTPError as error:  # an answer, just not a 2xx one
            with error:
                return error.code, _json(error.read())
        except urllib.error.URLError as error:
            raise ServerUnreachable(str(error.reason)) from error
        except (OSError, http.client.HTTPException) as error:
            raise ServerUnreachable(str(error) or type(error).__name__) from error

    def __repr__(self) -> str:
        return f"<WebClient {self.base_url}>"


def _json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def shown(code: str) -> str:
    """A code as the log shows it: labels and badges in full (a technician matches them with
    the screen), an IMEI only by its last four digits (it identifies a phone for good)."""
    if code.isdigit() and 14 <= len(code) <= 16:
        return f"IMEI …{code[-4:]}"
    return code


def describe_answer(body: Mapping[str, Any]) -> str:
    """What the web app did with a scan, for the log: ``deposited locker 3``."""
    outcome = str(body.get("outcome", "no outcome"))
    if outcome == "refused":
        return f"refused ({body.get('reason', '?')}): {body.get('message', '')}".rstrip(": ")
    if outcome == "choose":
        return f"asked which phone ({len(body.get('choices') or [])} choices)"
    locker = body.get("locker")
    return f"{outcome} locker {locker}" if locker is not None else outcome


# --- readers ---------------------------------------------------------------------------------

class Reader(Protocol):
    def read(self, timeout: float) -> str | None: ...
    def close(self) -> None: ...


@dataclass
class ReaderState:
    connected: bool = False
    detail: str = "not opened yet"

    def as_json(self) -> dict[str, Any]:
        return {"connected": self.connected, "detail": self.detail}


class ReaderLoop:
    """Keeps one reader open, hands each code it reads to ``on_code``, reopens it if it goes."""

    def __init__(self, kind: str, url: str, on_code: Callable[[str, str], None],
                 stop: threading.Event, *, backoff: Backoff, read_timeout: float = 0.2,
                 options: Mapping[str, Any] | None = None,
                 on_change: Callable[[], None] = lambda: None,
                 opener: Callable[..., Reader] = open_reader) -> None:
        self.kind = kind
        self.url = url
        self.state = ReaderState()
        self._on_code = on_code
        self._on_change = on_change
        self._stop = stop
        self._backoff = backoff
        self._read_timeout = read_timeout
        self._options = dict(options or {})
        self._opener = opener
        self._connected_at = 0.0
        self.thread = threading.Thread(target=self.run, name=f"reader-{kind}", daemon=True)

    @property
    def label(self) -> str:
        return f"{self.kind} {self.url}"

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                reader = self._opener(self.kind, self.url, **self._options)
            except (ValueError, TypeError) as error:  # a bad URL or option: retrying is no use
                self.state = ReaderState(False, str(error))
                log.error("%s: %s", self.label, error)
                return
            except (HardwareError, OSError) as error:
                self._lost("cannot open", error)
                continue
            try:
                self._connected()
                self._read_until_stopped_or_gone(reader)
            except (HardwareError, OSError) as error:
                self._lost("disconnected", error)
            except Exception as error:  # a driver bug must not silence this reader for good
                log.exception("%s: unexpected error", self.label)
                self._lost("failed", error)
            finally:
                reader.close()
        if self.state.connected:
            self.state = ReaderState(False, "agent stopped")

    def _read_until_stopped_or_gone(self, reader: Reader) -> None:
        while not self._stop.is_set():
            code = reader.read(timeout=self._read_timeout)
            if code:
                self._on_code(self.kind, code)

    def _connected(self) -> None:
        self._connected_at = time.monotonic()
        self.state = ReaderState(True, "")
        log.info("%s: connected", self.label)
        self._on_change()

    def _lost(self, what: str, error: Exception) -> None:
        was_connected = self.state.connected
        if was_connected and time.monotonic() - self._connected_at > STEADY_SECONDS:
            self._backoff.reset()  # it had been working: try again soon; a flapping one waits
        delay = self._backoff.next()
        reason = str(error).rstrip(".") or type(error).__name__
        self.state = ReaderState(False, f"{reason}.")
        log.warning("%s: %s (%s); retrying in %s", self.label, what, reason, seconds(delay))
        if was_connected:
            self._on_change()
        self._stop.wait(delay)

    def __repr__(self) -> str:
        state = "connected" if self.state.connected else f"down: {self.state.detail}"
        return f"<ReaderLoop {self.label} {state}>"


# --- sending scans ---------------------------------------------------------------------------

class Sender:
    """Sends queued scans in order; each leaves the queue only on a final answer."""

    def __init__(self, outbox: Outbox, client: WebClient, stop: threading.Event,
                 wake: threading.Event, *, backoff: Backoff,
                 on_answer: Callable[[Entry, dict[str, Any]], None] = lambda e, b: None) -> None:
        self._outbox = outbox
        self._client = client
        self._stop = stop
        self._wake = wake
        self._backoff = backoff
        self._on_answer = on_answer
        self._unreachable = False
        self.thread = threading.Thread(target=self.run, name="sender", daemon=True)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                waiting = self._outbox.peek()
                delay = self.send(waiting[0]) if waiting else None
            except Exception:  # e.g. the queue's disk failing: keep trying, loudly
                log.exception("sender: unexpected error")
                delay = self._backoff.next()
            if delay is None:
                self._wake.wait(1.0)
                self._wake.clear()  # peek again whether woken or not: no put is missed
            elif delay:
                self._stop.wait(delay)

    def send(self, entry: Entry) -> float:
        """Send one entry; 0 when it is done with, else how long to wait before trying again."""
        payload = {"code": entry.code, "key": entry.key, "scanned_at": entry.scanned_at,
                   "source": entry.source}
        try:
            status, body = self._client.post("/api/v1/scan", payload)
        except ServerUnreachable as error:
            delay = self._backoff.next()
            log.warning("server %s unreachable (%s); %d scan(s) queued; retrying in %s",
                        self._client.base_url, error, len(self._outbox), seconds(delay))
            self._unreachable = True
            return delay
        if self._unreachable:
            log.info("server %s: reachable again", self._client.base_url)
            self._unreachable = False
        if status >= 500 or status in RETRY_STATUSES:
            delay = self._backoff.next()
            log.warning("sending %s: server answered %d (%s); kept in the queue; retrying in %s",
                        shown(entry.code), status, body.get("message", ""), seconds(delay))
            return delay
        self._backoff.reset()
        self._outbox.ack(entry.id)
        if status >= 400:
            log.warning("sent %s → %s (final: not retried)", shown(entry.code),
                        describe_answer(body))
        else:
            log.info("sent %s → %s", shown(entry.code), describe_answer(body))
        self._on_answer(entry, body)
        return 0


# --- heartbeat and locks ---------------------------------------------------------------------

class Heartbeat:
    """Every beat: report readers and doors, then carry out and acknowledge lock commands."""

    def __init__(self, client: WebClient, readers: Mapping[str, ReaderLoop],
                 stop: threading.Event, wake: threading.Event, *, interval: float = 1.0,
                 locks: str = "none", open_bank: Callable[[], LockBank] | None = None,
                 backoff: Backoff | None = None) -> None:
        self._client = client
        self._readers = readers
        self.locks = locks
        self.bank: LockBank | None = None
        self._open_bank = open_bank
        self._bank_backoff = backoff or Backoff(0.5, 10.0)
        self._bank_retry_at = 0.0
        self._bank_trouble = ""
        self._stop = stop
        self._wake = wake
        self._interval = interval
        self.doors: dict[str, str] = {}
        self._done: dict[int, dict[str, Any]] = {}  # command id -> result not yet acknowledged
        self._acknowledged: set[int] = set()
        self._trouble = ""  # the last problem logged, so a dead server is not logged every beat
        self._clock_wrong = False
        self.thread = threading.Thread(target=self.run, name="heartbeat", daemon=True)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.beat()
            except Exception:  # a bug in one beat must not stop the next
                log.exception("heartbeat: unexpected error")
            self._wake.wait(self._interval)
            self._wake.clear()

    def beat(self) -> None:
        self._read_doors()
        readers = {kind: loop.state.as_json() for kind, loop in self._readers.items()}
        try:
            status, body = self._client.post("/api/v1/agent/heartbeat",
                                             {"readers": readers, "doors": self.doors})
        except ServerUnreachable as error:
            self._problem(f"heartbeat: server {self._client.base_url} unreachable ({error})")
            return
        if status != 200:
            self._problem(f"heartbeat: server answered {status} ({body.get('message', '')})")
            return
        self._problem("")
        self._check_clock(body.get("server_time"))
        commands = body.get("commands") or []
        for command in commands:
            self.execute(command)
        self._acknowledge()
        if commands:
            self._read_doors()  # a locker just opened: say so now, not in a second

    def _check_clock(self, server_time: object) -> None:
        """Scans carry this machine's time, so say when it disagrees with the server's (a Pi
        has no battery clock: before NTP answers, its time can be days out)."""
        try:
            server = datetime.fromisoformat(str(server_time))
        except ValueError:
            return
        if server.tzinfo is None:
            return
        skew = (datetime.now(UTC) - server).total_seconds()
        wrong = abs(skew) > CLOCK_TOLERANCE_SECONDS
        if wrong and not self._clock_wrong:
            log.warning("this machine's clock is %+.0f s from the server's: scans are stamped "
                        "with the wrong time (check NTP: timedatectl)", skew)
        elif self._clock_wrong and not wrong:
            log.info("this machine's clock agrees with the server's again")
        self._clock_wrong = wrong

    def execute(self, command: Mapping[str, Any]) -> None:
        number = int(command["id"])
        if number in self._done or number in self._acknowledged:
            return  # handed out again because our acknowledgement was lost: never open twice
        action, locker = command.get("action"), command.get("locker")
        if action != "open" or not isinstance(locker, int):
            self._done[number] = {"ok": False, "error": f"unknown command {action!r}"}
            log.warning("command %d: unknown action %r", number, action)
            return
        bank = self.ensure_bank()
        if bank is None:
            error = self._bank_trouble or "This kiosk's agent has no lock bank configured."
            self._done[number] = {"ok": False, "error": error}
            log.error("locker %d: failed to open (%s)", locker, error.rstrip("."))
            return
        try:
            bank.open(locker)
        except (HardwareError, OSError) as error:
            self._done[number] = {"ok": False, "error": str(error)}
            log.error("locker %d: failed to open (%s)", locker, error)
        else:
            self._done[number] = {"ok": True}
            log.info("locker %d: opened", locker)

    def _acknowledge(self) -> None:
        for number, result in list(self._done.items()):
            try:
                status, _body = self._client.post(f"/api/v1/agent/commands/{number}", result)
            except ServerUnreachable:
                return  # sent again after the next beat
            if status < 500:
                del self._done[number]
                self._acknowledged.add(number)

    def ensure_bank(self) -> LockBank | None:
        """The lock bank, opened now if it is not yet (at most as often as the backoff allows).

        A bank that cannot be opened (its adapter unplugged) is retried; a spec that can never
        work raises ``ValueError``.
        """
        if self.bank is not None or self._open_bank is None:
            return self.bank
        now = time.monotonic()
        if now < self._bank_retry_at:
            return None
        try:
            self.bank = self._open_bank()
        except (HardwareError, OSError) as error:
            delay = self._bank_backoff.next()
            self._bank_retry_at = now + delay
            reason = str(error).rstrip(".") or type(error).__name__
            self._bank_trouble = f"{reason}."
            log.warning("locks %s: cannot open (%s); retrying in %s", self.locks, reason,
                        seconds(delay))
            return None
        self._bank_backoff.reset()
        self._bank_trouble = ""
        log.info("locks %s: connected (%r)", self.locks, self.bank)
        return self.bank

    def _read_doors(self) -> None:
        bank = self.ensure_bank()
        if bank is None:
            self.doors = {}
            return
        try:
            states = bank.status()
        except (HardwareError, OSError) as error:
            self._problem(f"locks {self.locks}: cannot read door states ({error})")
            states = {}
        doors = {str(number): state.value
                 for number, state in sorted(states.items())}
        for number, state in doors.items():
            if self.doors.get(number, state) != state:
                log.info("locker %s: door %s", number, state)
        self.doors = doors

    def _problem(self, message: str) -> None:
        if message and message != self._trouble:
            log.warning("%s", message)
        elif not message and self._trouble:
            log.info("heartbeat: server %s answering again", self._client.base_url)
        self._trouble = message


# --- the fire alarm -------------------------------------------------------------------------

class FireWatch:
    """Watches the fire panel's contact and tells the web app, once per alarm, until it has
    answered. What the school does then (open the lockers or not) is the server's setting."""

    def __init__(self, spec: str, client: WebClient, stop: threading.Event, *,
                 backoff: Backoff, poll_seconds: float = 0.1,
                 opener: Callable[[str], FireAlarmInput] = open_fire_input) -> None:
        self.spec = spec
        self.fire_input: FireAlarmInput | None = None
        self._client = client
        self._stop = stop
        self._backoff = backoff
        self._poll = poll_seconds
        self._opener = opener
        self.unsent: list[dict[str, str]] = []  # alarms the web app has not yet answered
        self._send_at = 0.0
        self.thread = threading.Thread(target=self.run, name="fire", daemon=True)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self._watch()
            except ValueError as error:  # a spec that can never work
                log.error("fire %s: %s", self.spec, error)
                return
            except (HardwareError, OSError) as error:
                delay = self._backoff.next()
                log.warning("fire %s: cannot read (%s); retrying in %s", self.spec,
                            str(error).rstrip("."), seconds(delay))
                self._stop.wait(delay)
            finally:
                if self.fire_input is not None:
                    self.fire_input.close()
                    self.fire_input = None

    def _watch(self) -> None:
        self.fire_input = self._opener(self.spec)
        log.info("fire %s: connected (%s)", self.spec,
                 "alarm" if self.fire_input.in_alarm else "normal")
        self._backoff.reset()
        while not self._stop.wait(self._poll):
            if self.fire_input.poll():
                self.unsent.append({"key": os.urandom(16).hex(),
                                    "at": datetime.now(UTC).isoformat()})
            if self.unsent and time.monotonic() >= self._send_at:
                self._send()

    def _send(self) -> None:
        alarm = self.unsent[0]
        try:
            status, body = self._client.post("/api/v1/agent/fire-alarm", alarm)
        except ServerUnreachable as error:
            status, body = 0, {"message": str(error)}
        if status == 200 or (400 <= status < 500 and status not in RETRY_STATUSES):
            self.unsent.pop(0)
            log.warning("fire alarm reported: %s", body.get("message", f"answer {status}"))
            return
        delay = min(self._backoff.next(), 5.0)  # a fire: keep trying often
        self._send_at = time.monotonic() + delay
        log.error("fire alarm NOT yet reported (%s); retrying in %s",
                  body.get("message") or status, seconds(delay))


# --- the agent -------------------------------------------------------------------------------

class KioskAgent:
    """All the threads of one kiosk's agent; ``start``/``stop``, or ``with KioskAgent(...)``."""

    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings
        self.stopping = threading.Event()
        self._sender_wake = threading.Event()
        self._heartbeat_wake = threading.Event()
        self.outbox = Outbox(settings.queue)
        self.client = WebClient(settings.server, settings.token, settings.http_timeout_seconds)
        self.readers = {
            kind: ReaderLoop(
                kind, url, self._scanned, self.stopping,
                backoff=Backoff(settings.retry_first_seconds, settings.retry_max_seconds),
                read_timeout=settings.read_timeout_seconds,
                options=settings.reader_options.get(kind), on_change=self._heartbeat_wake.set)
            for kind, url in settings.readers.items()
        }
        self.sender = Sender(
            self.outbox, self.client, self.stopping, self._sender_wake,
            backoff=Backoff(settings.retry_first_seconds, settings.retry_max_seconds),
            on_answer=lambda _entry, _body: self._heartbeat_wake.set())
        self.heartbeat = Heartbeat(
            self.client, self.readers, self.stopping, self._heartbeat_wake,
            interval=settings.heartbeat_seconds, locks=settings.locks,
            open_bank=lambda: open_lock_bank(settings.locks, settings.lockers,
                                             **settings.lock_options),
            backoff=Backoff(settings.retry_first_seconds, settings.retry_max_seconds))
        try:
            self.heartbeat.ensure_bank()  # now, so a spec that can never work stops the start
        except Exception:
            self.outbox.close()
            raise
        self.fire = (FireWatch(settings.fire, self.client, self.stopping,
                               backoff=Backoff(settings.retry_first_seconds,
                                               settings.retry_max_seconds),
                               poll_seconds=settings.fire_poll_seconds,
                               opener=lambda spec: open_fire_input(
                                   spec, hold_seconds=settings.fire_hold_seconds))
                     if settings.fire else None)
        self._threads = [*(r.thread for r in self.readers.values()), self.sender.thread,
                         self.heartbeat.thread, *([self.fire.thread] if self.fire else [])]

    @property
    def lock_bank(self) -> LockBank | None:
        return self.heartbeat.bank

    def _scanned(self, kind: str, code: str) -> None:
        try:
            entry = self.outbox.put(code, kind)
        except sqlite3.Error as error:
            log.error("%s: read %s but could not queue it (%s); ask the person to scan again",
                      self.readers[kind].label, shown(code), error)
            return
        log.info("%s: read %s (queued #%d)", self.readers[kind].label, shown(code), entry.id)
        self._sender_wake.set()

    def start(self) -> KioskAgent:
        log.info("kiosk agent: server %s, readers %s, locks %s, fire %s, queue %s (%d waiting)",
                 self.settings.server,
                 ", ".join(f"{k}={u}" for k, u in self.settings.readers.items()) or "none",
                 self.settings.locks, self.settings.fire or "none", self.settings.queue,
                 len(self.outbox))
        for thread in self._threads:
            thread.start()
        return self

    def wait(self) -> None:
        """Block until ``stop`` (a short timeout keeps Ctrl-C working in the main thread)."""
        while not self.stopping.wait(0.5):
            pass

    def stop(self) -> None:
        self.stopping.set()
        self._sender_wake.set()
        self._heartbeat_wake.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=10)
        if self.lock_bank is not None:
            self.lock_bank.close()
        self.outbox.close()
        log.info("kiosk agent stopped")

    def __enter__(self) -> KioskAgent:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        readers = ", ".join(repr(r) for r in self.readers.values())
        return f"<KioskAgent {self.settings.server} [{readers}] {self.outbox!r}>"
