"""The fire panel's dry contact on a GPIO pin of the kiosk's Pi, and its simulated twin.

A volt-free relay contact of the fire panel joins a GPIO pin to ground; the pin's pull-up holds
it high while the contact is open. A normally-open contact closes (pin low) in alarm; a
normally-closed one opens (pin high) in alarm, and a cut wire then reads as an alarm too.

:class:`FireAlarmInput` turns the pin into one event: "the alarm went off". It never acts on
power-up: the state read when it starts is only a baseline, and only a change from normal to
alarm while it runs counts. A contact must hold its new state for ``hold_seconds`` (2 s) to
count, so a blip on a long cable is ignored.

Specs (``open_fire_input``): ``sim://NAME`` (the twin: a datagram ``alarm`` or ``normal`` on
``instance/sim/NAME.sock``, sent by ``SimulatedFireAlarm(NAME).set()`` / ``clear()``) and
``gpio:CHIP:LINE[:nc]`` (Linux's GPIO character device, ``gpio:gpiochip0:17``), read through
the kernel's v2 ioctls with the standard library: no extra package.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import time
from collections.abc import Callable
from typing import Protocol

from hardware.base import HardwareDevice
from hardware.errors import HardwareError
from hardware.transport import DatagramTransport, send_datagram

log = logging.getLogger(__name__)

HOLD_SECONDS = 2.0
ALARM, NORMAL = b"alarm", b"normal"
ACTIVE_AT_START = "fire alarm input active at start: not acted on"


class FireInputError(HardwareError):
    """The fire input cannot be opened or read."""


class ContactSource(Protocol):
    """Where the contact's state comes from: True while the panel says alarm."""

    def alarm(self) -> bool: ...
    def close(self) -> None: ...


class FireAlarmInput(HardwareDevice):
    """A contact source, debounced, reporting only a normal → alarm change while running."""

    def __init__(self, source: ContactSource, *, name: str = "fire alarm",
                 hold_seconds: float = HOLD_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._source = source
        self._hold = hold_seconds
        self._clock = clock
        self.in_alarm = source.alarm()  # the baseline: never acted on
        self.active_at_start = self.in_alarm
        self._changing_since: float | None = None
        if self.active_at_start:
            log.warning("%s: %s", self.name, ACTIVE_AT_START)

    def poll(self) -> bool:
        """Read the contact once; True exactly when an alarm has just been confirmed."""
        raw, now = self._source.alarm(), self._clock()
        if raw == self.in_alarm:
            self._changing_since = None  # a blip that went back: forgotten
            return False
        if self._changing_since is None:
            self._changing_since = now
        if now - self._changing_since < self._hold:
            return False
        self.in_alarm, self._changing_since = raw, None
        log.warning("%s: %s", self.name, "ALARM" if raw else "back to normal")
        return raw

    def close(self) -> None:
        self._source.close()

    def __repr__(self) -> str:
        return f"<FireAlarmInput {self.name} {'alarm' if self.in_alarm else 'normal'}>"


# --- the simulated twin ----------------------------------------------------------------------

class SimulatedFireAlarm:
    """The panel's contact without a panel: ``set()`` raises the alarm, ``clear()`` ends it.

    With a ``name`` it is also ``sim://NAME``: another process (``flask simulate fire``) sends
    ``alarm`` or ``normal`` to its socket. Without one it lives only in this process (tests).
    """

    def __init__(self, name: str | None = None, *, alarm: bool = False) -> None:
        self.name = name
        self._alarm = alarm
        self._socket = (DatagramTransport(name, what="fire alarm", error=FireInputError)
                        if name else None)

    def set(self) -> None:
        self._alarm = True

    def clear(self) -> None:
        self._alarm = False

    def alarm(self) -> bool:
        while self._socket is not None and (data := self._socket.read_some(0)):
            if data.strip() in (ALARM, NORMAL):
                self._alarm = data.strip() == ALARM
        return self._alarm

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()


def send_simulated(name: str, alarm: bool) -> None:
    """Raise (or end) the alarm on the running agent's ``sim://NAME`` fire input."""
    send_datagram(name, ALARM if alarm else NORMAL)


# --- Linux GPIO character device (uAPI v2, kernel 5.10+) --------------------------------------

def _iowr(number: int, size: int) -> int:
    return (3 << 30) | (size << 16) | (0xB4 << 8) | number


# struct gpio_v2_line_request: offsets[64], consumer[32], config (flags, num_attrs, padding[5],
# attrs[10] of 24 bytes), num_lines, event_buffer_size, padding[5], fd: 592 bytes.
_REQUEST = struct.Struct("=64I32sQI5I240xII5Ii")
_VALUES = struct.Struct("=QQ")  # struct gpio_v2_line_values: bits, mask
GET_LINE = _iowr(0x07, _REQUEST.size)
GET_VALUES = _iowr(0x0E, _VALUES.size)
FLAG_INPUT, FLAG_BIAS_PULL_UP = 1 << 2, 1 << 8


class GpioContact:
    """One input line with the pull-up on, read through ``/dev/gpiochipN``."""

    def __init__(self, chip: str, line: int, *, normally_closed: bool = False) -> None:
        self.path = chip if chip.startswith("/") else (
            f"/dev/gpiochip{chip}" if chip.isdigit() else f"/dev/{chip}")
        self.line = line
        self.normally_closed = normally_closed
        try:
            chip_fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as error:
            raise FireInputError(f"Cannot open {self.path}: {error.strerror} (is the kiosk "
                                 "user in the gpio group?).") from error
        try:
            request = bytearray(_REQUEST.pack(
                line, *[0] * 63, b"kiosk-fire-alarm", FLAG_INPUT | FLAG_BIAS_PULL_UP, 0,
                *[0] * 5, 1, 0, *[0] * 5, 0))
            fcntl.ioctl(chip_fd, GET_LINE, request)
        except OSError as error:
            raise FireInputError(f"Cannot use line {line} of {self.path}: "
                                 f"{error.strerror}.") from error
        finally:
            os.close(chip_fd)
        self._fd: int | None = _REQUEST.unpack(request)[-1]

    def alarm(self) -> bool:
        if self._fd is None:
            raise FireInputError(f"{self.path} line {self.line} is closed.")
        values = bytearray(_VALUES.pack(0, 1))
        try:
            fcntl.ioctl(self._fd, GET_VALUES, values)
        except OSError as error:
            raise FireInputError(f"Cannot read line {self.line} of {self.path}: "
                                 f"{error.strerror}.") from error
        high = bool(_VALUES.unpack(values)[0] & 1)
        # Pulled up: an open contact reads high. Normally open closes (low) in alarm.
        return high if self.normally_closed else not high

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def open_fire_input(spec: str, *, hold_seconds: float = HOLD_SECONDS) -> FireAlarmInput:
    """``sim://NAME`` or ``gpio:CHIP:LINE[:nc]`` as a :class:`FireAlarmInput`.

    Raises ``ValueError`` for a spec that can never work, ``FireInputError`` for a device that
    cannot be opened now.
    """
    if spec.startswith("sim://"):
        return FireAlarmInput(SimulatedFireAlarm(spec.removeprefix("sim://")), name=spec,
                              hold_seconds=hold_seconds)
    kind, _, rest = spec.partition(":")
    parts = rest.split(":")
    if kind == "gpio" and len(parts) in (2, 3) and parts[0] and parts[1].isdigit() \
            and parts[2:] in ([], ["nc"], ["no"]):
        contact = GpioContact(parts[0], int(parts[1]), normally_closed=parts[2:] == ["nc"])
        return FireAlarmInput(contact, name=spec, hold_seconds=hold_seconds)
    raise ValueError(f"{spec!r} is not a fire input; use sim://NAME or gpio:CHIP:LINE[:nc] "
                     "(e.g. gpio:gpiochip0:17).")
