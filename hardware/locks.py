"""Locker locks: Kerong-style RS-485 boards, GPIO relays, keyed lockers, and a simulated bank.

Every bank has the same interface: ``open(locker)`` releases one lock (lockers are numbered
from 1), ``status()`` maps lockers to ``DoorState``, ``close()`` releases the hardware. No
bank ever opens a lock on construction: a kiosk that reboots must not pop doors.

``open_lock_bank(spec, lockers, **options)`` picks one from configuration:

- ``none``: keyed or manual lockers; ``open()`` does nothing and ``status()`` is empty.
- ``sim``: an in-memory bank for demos and tests (``shut(locker)`` closes a door).
- ``kerong:URL``: Kerong CU16-style boards on an RS-485 adapter (any pyserial URL).
- ``gpio:PIN,PIN,...``: one active-low relay per locker, driven through gpiozero.
"""

from __future__ import annotations

import enum
import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from hardware.base import POLL_SECONDS, Clock, HardwareDevice
from hardware.errors import LockError, LockTimeout
from hardware.transport import Transport, open_transport

log = logging.getLogger(__name__)



class DoorState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    UNKNOWN = "unknown"


class LockBank(Protocol):
    name: str
    lockers: int

    def open(self, locker: int) -> None: ...

    def status(self) -> dict[int, DoorState]: ...

    def close(self) -> None: ...


class _Bank(HardwareDevice):
    """Locker numbering, context management and repr shared by every bank."""

    def __init__(self, lockers: int, name: str) -> None:
        if lockers < 0:
            raise ValueError(f"A lock bank cannot have {lockers} lockers.")
        self.lockers = lockers
        self.name = name
        self._closed = False

    def _check(self, locker: int) -> None:
        if self._closed:
            raise LockError(f"{self.name} is closed.")
        if not 1 <= locker <= self.lockers:
            raise LockError(f"Locker {locker} does not exist: {self.name} has lockers "
                            f"1 to {self.lockers}.")

    def close(self) -> None:
        self._closed = True

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self.lockers} lockers"
        return f"<{type(self).__name__} {self.name!r} {state}>"


class NoLockBank(_Bank):
    """Keyed or manual lockers: the kiosk records deposits, a person turns the key."""

    def __init__(self, lockers: int = 0, *, name: str = "keyed lockers") -> None:
        super().__init__(lockers, name)

    def open(self, locker: int) -> None:
        log.debug("%s: locker %d has no electric lock; nothing to open.", self.name, locker)

    def status(self) -> dict[int, DoorState]:
        return {}


class SimulatedLockBank(_Bank):
    """An in-memory bank: ``open()`` opens a door, ``shut()`` closes it; all shut at power-up.

    ``auto_close_after`` (seconds) shuts doors by themselves, so a demo completes without
    anyone calling ``shut()``. ``jam(locker)`` makes that locker's ``open()`` time out, to
    rehearse a failing lock.
    """

    def __init__(
        self,
        lockers: int,
        *,
        auto_close_after: float | None = None,
        clock: Clock = time.monotonic,
        name: str = "simulated locks",
    ) -> None:
        super().__init__(lockers, name)
        self.auto_close_after = auto_close_after
        self._clock = clock
        self._opened_at: dict[int, float] = {}
        self._jammed: set[int] = set()
        self._lock = threading.Lock()

    def open(self, locker: int) -> None:
        self._check(locker)
        with self._lock:
            if locker in self._jammed:
                raise LockTimeout(f"{self.name}: locker {locker} did not answer (jammed in "
                                  "the simulation).")
            self._opened_at[locker] = self._clock()
        log.info("%s: opened locker %d.", self.name, locker)

    def shut(self, locker: int) -> None:
        """Play a person pushing the door of ``locker`` shut."""
        self._check(locker)
        with self._lock:
            self._opened_at.pop(locker, None)

    def jam(self, locker: int, jammed: bool = True) -> None:
        self._check(locker)
        with self._lock:
            (self._jammed.add if jammed else self._jammed.discard)(locker)

    def status(self) -> dict[int, DoorState]:
        if self._closed:
            raise LockError(f"{self.name} is closed.")
        with self._lock:
            self._expire()
            return {n: DoorState.OPEN if n in self._opened_at else DoorState.CLOSED
                    for n in range(1, self.lockers + 1)}

    def _expire(self) -> None:
        if self.auto_close_after is None:
            return
        now = self._clock()
        for locker, opened in list(self._opened_at.items()):
            if now - opened >= self.auto_close_after:
                del self._opened_at[locker]


# Kerong CU16-style boards ------------------------------------------------------------------

STX = 0x02
ETX = 0x03
CMD_STATUS = 0x30
CMD_UNLOCK = 0x31
CMD_STATUS_ALL = 0x32
REPLY_STATUS = 0x35
STATUS_REPLY_LENGTH = 9
LOCKS_PER_BOARD = 16


def kerong_frame(address: int, command: int) -> bytes:
    """``02 ADDR CMD 03 SUM``; SUM is the low byte of the sum of the four bytes before it."""
    body = bytes([STX, address, command, ETX])
    return body + bytes([sum(body) & 0xFF])


def kerong_address(locker: int) -> tuple[int, int]:
    """(board, lock index) of locker N counted from 1: 16 locks per board."""
    return divmod(locker - 1, LOCKS_PER_BOARD)


def find_status_reply(data: bytes | bytearray, board: int) -> bytes | None:
    """The first valid 9-byte status reply from ``board`` in ``data``, or None.

    Reply: ``02 ADDR 35 L1-8 L9-16 IR1-8 IR9-16 03 SUM``. Anything else is skipped: the echo
    some RS-485 adapters give of our own command, a reply to another host, line noise.
    """
    start = data.find(STX)
    while 0 <= start <= len(data) - STATUS_REPLY_LENGTH:
        frame = data[start : start + STATUS_REPLY_LENGTH]
        if (frame[2] == REPLY_STATUS and frame[7] == ETX and frame[1] >> 4 == board
                and sum(frame[:8]) & 0xFF == frame[8]):
            return bytes(frame)
        start = data.find(STX, start + 1)
    return None


class KerongLockBank(_Bank):
    """Kerong CU16-style lock boards on one RS-485 bus (19200 8N1 by default).

    Locker N is lock (N-1) % 16 of the board whose address switches read (N-1) // 16.

    Public descriptions of these boards disagree on two points, so both are options:

    - ``closed_bit_set=True``: a set lock-state bit in a status reply means the lock is
      closed (hooked). This is what the open-source drivers we read assume ("1 = locked");
      set it to False if doors read inverted on your boards.
    - ``unlock_answered=False``: the board does not answer an unlock. We then ask for the
      board's status straight after, so an unpowered or unplugged board raises
      ``LockTimeout`` instead of failing silently. Boards that do answer an unlock send a
      status reply; with ``unlock_answered=True`` that reply is the confirmation.

    ``reply_timeout`` is how long to wait for a reply; a board answers in a few
    milliseconds, so the default 0.3 s only matters when a board is missing. After a serial
    error the port is reopened on the next call.
    """

    def __init__(
        self,
        url: str,
        lockers: int,
        *,
        baudrate: int = 19200,
        closed_bit_set: bool = True,
        unlock_answered: bool = False,
        reply_timeout: float = 0.3,
        name: str | None = None,
    ) -> None:
        super().__init__(lockers, name or f"lock board {url}")
        self.url = url
        self.baudrate = baudrate
        self.closed_bit_set = closed_bit_set
        self.unlock_answered = unlock_answered
        self.reply_timeout = reply_timeout
        self._bus = threading.Lock()  # one exchange at a time on the half-duplex bus
        self._transport: Transport | None = self._connect()

    def _connect(self) -> Transport:
        return open_transport(self.url, baudrate=self.baudrate, what="lock board",
                              error=LockError)

    @property
    def boards(self) -> int:
        return -(-self.lockers // LOCKS_PER_BOARD)

    def open(self, locker: int) -> None:
        """Release ``locker``; raises ``LockTimeout`` if its board does not answer."""
        self._check(locker)
        board, index = kerong_address(locker)
        reply = self._exchange(
            lambda wire: self._unlock(wire, board, index),
            f"locker {locker} may not have opened")
        state = self._door_states(board, reply).get(locker, DoorState.UNKNOWN)
        log.info("%s: unlocked locker %d (board %d, lock %d); door now reads %s.",
                 self.name, locker, board, index + 1, state)

    def status(self) -> dict[int, DoorState]:
        if self._closed:
            raise LockError(f"{self.name} is closed.")
        states: dict[int, DoorState] = {}
        for board in range(self.boards):
            reply = self._exchange(
                functools.partial(self._ask_status, board=board),
                "door states are unknown")
            states.update(self._door_states(board, reply))
        return states

    def _unlock(self, wire: Transport, board: int, index: int) -> bytes:
        wire.discard_input()
        wire.write(kerong_frame(board << 4 | index, CMD_UNLOCK))
        if not self.unlock_answered:
            wire.write(kerong_frame(board << 4, CMD_STATUS))
        return self._await_status(wire, board)

    def _ask_status(self, wire: Transport, board: int) -> bytes:
        wire.discard_input()
        wire.write(kerong_frame(board << 4, CMD_STATUS))
        return self._await_status(wire, board)

    def _await_status(self, wire: Transport, board: int) -> bytes:
        deadline = time.monotonic() + self.reply_timeout
        received = bytearray()
        while (reply := find_status_reply(received, board)) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _NoReply(board)
            received += wire.read_some(min(left, POLL_SECONDS))
        return reply

    def _exchange(self, talk: Callable[[Transport], bytes], consequence: str) -> bytes:
        """Run one request/reply on the bus, reopening the port after an earlier failure."""
        with self._bus:
            if self._closed:
                raise LockError(f"{self.name} is closed.")
            if self._transport is None:
                self._transport = self._connect()
            try:
                return talk(self._transport)
            except _NoReply as silent:
                message = (f"Lock board {silent.board} on {self.url} did not answer within "
                           f"{self.reply_timeout:g} s, so {consequence} (check its power, "
                           "RS-485 wiring and address switches).")
                log.warning("%s", message)
                raise LockTimeout(message) from None
            except LockError as exc:
                log.warning("%s", exc)
                self._transport.close()
                self._transport = None
                raise

    def _door_states(self, board: int, reply: bytes) -> dict[int, DoorState]:
        bits = reply[3] | reply[4] << 8
        states = {}
        for index in range(LOCKS_PER_BOARD):
            locker = board * LOCKS_PER_BOARD + index + 1
            if locker <= self.lockers:
                closed = bool(bits >> index & 1) == self.closed_bit_set
                states[locker] = DoorState.CLOSED if closed else DoorState.OPEN
        return states

    def close(self) -> None:
        with self._bus:
            if not self._closed:
                super().close()
                if self._transport is not None:
                    self._transport.close()
                    self._transport = None


class _NoReply(Exception):
    def __init__(self, board: int) -> None:
        super().__init__(board)
        self.board = board


# GPIO relays -------------------------------------------------------------------------------


def parse_pins(text: str) -> list[int | str]:
    """``"17,27,GPIO22"`` → ``[17, 27, "GPIO22"]`` (gpiozero accepts both forms)."""
    pins: list[int | str] = []
    for part in text.split(","):
        pin = part.strip()
        if not pin:
            raise ValueError(f"{text!r} is not a list of GPIO pins such as 17,27,22.")
        pins.append(int(pin) if pin.isdigit() else pin)
    return pins


class GpioLockBank(_Bank):
    """One relay per locker on Raspberry Pi GPIO, through gpiozero; locker N is ``pins[N-1]``.

    Relay boards sold for the Pi are active-low, so a relay is an
    ``OutputDevice(pin, active_high=False)`` (the ``DigitalOutputDevice`` flavour, for its
    background pulse) that starts off. ``open()`` energises it for ``pulse`` seconds.
    Door states are unknown unless ``door_pins`` name one reed switch per locker, wired to
    ground and closed when the door is shut (internal pull-ups are used).
    ``pin_factory`` passes through to gpiozero (``GPIOZERO_PIN_FACTORY=mock`` works too).
    """

    def __init__(
        self,
        pins: Sequence[int | str],
        *,
        door_pins: Sequence[int | str] | str | None = None,
        pulse: float = 0.5,
        pin_factory: Any = None,
        name: str | None = None,
    ) -> None:
        super().__init__(len(pins), name or f"GPIO relays {','.join(map(str, pins))}")
        if isinstance(door_pins, str):
            door_pins = parse_pins(door_pins)
        if door_pins is not None and len(door_pins) != len(pins):
            raise ValueError(f"{len(door_pins)} door sensor pins given for {len(pins)} lockers.")
        self.pulse = pulse
        self._relays: list[Any] = []
        self._doors: list[Any] = []
        try:
            self._build(pins, door_pins or [], pin_factory)
        except LockError:
            self.close()
            raise

    def _build(self, pins: Sequence[int | str], door_pins: Sequence[int | str],
               pin_factory: Any) -> None:
        try:
            # Imported here: only a Pi with relays needs gpiozero installed.
            from gpiozero import DigitalInputDevice, DigitalOutputDevice, GPIOZeroError
        except ImportError as exc:
            raise LockError("GPIO locks need gpiozero: install phone-locker-kiosk[gpio].") from exc
        try:
            for pin in pins:
                self._relays.append(DigitalOutputDevice(
                    pin, active_high=False, initial_value=False, pin_factory=pin_factory))
            for pin in door_pins:
                self._doors.append(DigitalInputDevice(pin, pull_up=True, pin_factory=pin_factory))
        except GPIOZeroError as exc:
            raise LockError(f"{self.name} cannot be set up: {exc}.") from exc

    def open(self, locker: int) -> None:
        self._check(locker)
        # In the background: the caller goes on while the strike is energised.
        self._relays[locker - 1].blink(on_time=self.pulse, off_time=0, n=1, background=True)
        log.info("%s: pulsed the relay of locker %d for %g s.", self.name, locker, self.pulse)

    def status(self) -> dict[int, DoorState]:
        if self._closed:
            raise LockError(f"{self.name} is closed.")
        if not self._doors:
            return {n: DoorState.UNKNOWN for n in range(1, self.lockers + 1)}
        return {n: DoorState.CLOSED if door.is_active else DoorState.OPEN
                for n, door in enumerate(self._doors, start=1)}

    def close(self) -> None:
        super().close()
        for device in (*self._relays, *self._doors):
            device.close()  # gpiozero's close() is idempotent


# Choosing a bank from configuration --------------------------------------------------------


def open_lock_bank(spec: str, lockers: int, **options: Any) -> LockBank:
    """The bank described by ``spec`` (``none``, ``sim``, ``kerong:URL``, ``gpio:PINS``).

    ``options`` go to the bank's constructor. Raises ``LockError`` when the hardware is
    absent and ``ValueError`` for a spec that can never work.
    """
    kind, _, target = spec.partition(":")
    if kind == "none" and not target:
        return NoLockBank(lockers, **options)
    if kind == "sim" and not target:
        return SimulatedLockBank(lockers, **options)
    if kind == "kerong" and target:
        return KerongLockBank(target, lockers, **options)
    if kind == "gpio" and target:
        pins = parse_pins(target)
        if len(pins) != lockers:
            raise ValueError(f"{spec} names {len(pins)} relay pins for {lockers} lockers.")
        return GpioLockBank(pins, **options)
    raise ValueError(f"{spec!r} is not a lock bank; use none, sim, kerong:URL or gpio:PINS.")
