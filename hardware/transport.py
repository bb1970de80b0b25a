"""Byte pipes under the drivers: a serial port (any pyserial URL) or a simulated device socket.

Drivers never touch pyserial or sockets themselves; they read chunks of bytes from a
transport and hand them to a parser. That is what lets ``sim://NAME`` feed the very same
parsers as a real ``/dev/ttyACM0``.

A transport reports trouble with the error class its driver chose (``ReaderDisconnected`` for
readers, ``LockError`` for lock boards) and a sentence naming the device, for example
"badge reader /dev/ttyUSB0 not found." or "scanner /dev/ttyACM0 disconnected: …".
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys
from pathlib import Path
from typing import Protocol

import serial

from hardware.errors import HardwareError

log = logging.getLogger(__name__)

SIM_SCHEME = "sim://"
# Linux caps a Unix socket path (sun_path) at 108 bytes including the terminating NUL.
_MAX_SOCKET_PATH = 107
_DATAGRAM_MAX = 65536

if sys.platform != "win32":
    import termios

    # termios.error is not an OSError: a vanished port raises it from tcflush and friends.
    _PORT_ERRORS: tuple[type[BaseException], ...] = (
        serial.SerialException, OSError, termios.error)
else:  # pragma: no cover - the kiosk runs on Linux; this keeps imports working elsewhere
    _PORT_ERRORS = (serial.SerialException, OSError)


class Transport(Protocol):
    """What a driver needs from the wire."""

    label: str

    def read_some(self, wait: float) -> bytes:
        """Whatever bytes arrive within ``wait`` seconds (b"" if none)."""
        ...

    def write(self, data: bytes) -> None: ...

    def discard_input(self) -> None: ...

    def close(self) -> None: ...


def open_transport(
    url: str, *, baudrate: int, what: str, error: type[HardwareError]
) -> Transport:
    """Open ``url``: a device path, a pyserial URL (``loop://``, ``socket://``) or ``sim://NAME``.

    ``what`` names the device in messages ("badge reader", "lock board"); failures raise
    ``error``. A malformed URL raises ``ValueError``: that is a configuration mistake, not a
    device that may come back.
    """
    if url.startswith(SIM_SCHEME):
        return DatagramTransport(url.removeprefix(SIM_SCHEME), what=what, error=error)
    return SerialTransport(url, baudrate=baudrate, what=what, error=error)


class SerialTransport:
    """A serial port opened with ``serial.serial_for_url``, 8N1."""

    def __init__(
        self, url: str, *, baudrate: int, what: str, error: type[HardwareError]
    ) -> None:
        self.label = url
        self._what = what
        self._error = error
        self._timeout: float | None = None
        try:
            # exclusive: a second agent on the same port would steal half of every frame.
            self._port = serial.serial_for_url(url, baudrate=baudrate, timeout=0, exclusive=True)
        except serial.SerialException as exc:
            raise error(_open_failure(what, url, exc)) from exc
        log.info("%s %s opened at %d baud.", what, url, baudrate)

    def read_some(self, wait: float) -> bytes:
        try:
            if wait != self._timeout:
                self._port.timeout = self._timeout = wait
            data = self._port.read(1)
            waiting = self._port.in_waiting if data else 0
            return data + self._port.read(waiting) if waiting else data
        except _PORT_ERRORS as exc:
            raise self._lost(exc) from exc

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
            self._port.flush()
        except _PORT_ERRORS as exc:
            raise self._lost(exc) from exc

    def discard_input(self) -> None:
        try:
            self._port.reset_input_buffer()
        except _PORT_ERRORS as exc:
            raise self._lost(exc) from exc

    def close(self) -> None:
        if hasattr(self._port, "cancel_read"):
            self._port.cancel_read()  # wake a thread blocked in read_some()
        self._port.close()

    def _lost(self, exc: BaseException) -> HardwareError:
        return self._error(f"{self._what} {self.label} disconnected: {_reason(exc)}.")

    def __repr__(self) -> str:
        return f"<SerialTransport {self.label!r} {'open' if self._port.is_open else 'closed'}>"


def _open_failure(what: str, url: str, exc: serial.SerialException) -> str:
    code = getattr(exc, "errno", None)
    if code == errno.ENOENT:
        return f"{what} {url} not found."
    if code == errno.EACCES:
        return (f"{what} {url} cannot be opened: permission denied "
                "(is the kiosk user in the dialout group?).")
    if code in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or "exclusively lock" in str(exc):
        return f"{what} {url} is in use by another program."
    return f"{what} {url} cannot be opened: {_reason(exc)}."


def _reason(exc: BaseException) -> str:
    # termios.error and OSError-style (errno, text) pairs: keep the text, not the tuple.
    if len(exc.args) == 2 and isinstance(exc.args[0], int):
        return str(exc.args[1]).rstrip(".")
    return str(exc).rstrip(".") or type(exc).__name__


def sim_dir() -> Path:
    """Where simulated devices bind their sockets: ``$KIOSK_SIM_DIR`` or ``instance/sim``."""
    return Path(os.environ.get("KIOSK_SIM_DIR") or "instance/sim")


def sim_socket_path(name: str) -> Path:
    """The socket of simulated device ``name``, checked for a usable name and path length."""
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"{name!r} is not a simulated device name (use letters, digits, -, _).")
    path = sim_dir() / f"{name}.sock"
    if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
        raise ValueError(f"The simulated device socket path {path} is too long for a Unix "
                         "socket; set KIOSK_SIM_DIR to a shorter directory.")
    return path


class DatagramTransport:
    """The twin of a serial device: each datagram on ``sim://NAME`` is bytes off the wire.

    Writes go nowhere, as if the device ignored them: the simulated devices only talk.
    """

    def __init__(self, name: str, *, what: str, error: type[HardwareError]) -> None:
        self.label = f"{SIM_SCHEME}{name}"
        self._what = what
        self._error = error
        self.path = sim_socket_path(name)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_socket(self.path, self.label, what, error)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(os.fspath(self.path))
        log.info("%s %s listening on %s.", what, self.label, self.path)

    def read_some(self, wait: float) -> bytes:
        try:
            self._sock.settimeout(wait)
            return self._sock.recv(_DATAGRAM_MAX)
        except (TimeoutError, BlockingIOError):
            return b""
        except OSError as exc:
            raise self._error(f"{self._what} {self.label} disconnected: {_reason(exc)}.") from exc

    def write(self, data: bytes) -> None:
        log.debug("%s %s ignores %d bytes written to it.", self._what, self.label, len(data))

    def discard_input(self) -> None:
        self._sock.setblocking(False)
        try:
            while True:
                self._sock.recv(_DATAGRAM_MAX)
        except (BlockingIOError, OSError):
            pass

    def close(self) -> None:
        if self._sock.fileno() != -1:
            self._sock.close()
            self.path.unlink(missing_ok=True)

    def __repr__(self) -> str:
        state = "closed" if self._sock.fileno() == -1 else "open"
        return f"<DatagramTransport {self.label!r} {state}>"


def _remove_stale_socket(
    path: Path, label: str, what: str, error: type[HardwareError]
) -> None:
    """Delete a socket left by a crashed process, but never steal one that is still bound."""
    if not path.exists():
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        probe.connect(os.fspath(path))
    except OSError:
        path.unlink(missing_ok=True)  # nobody listens: left over from an earlier run
        return
    finally:
        probe.close()
    raise error(f"{what} {label} is in use by another program ({path}).")


def send_datagram(name: str, data: bytes) -> None:
    """Deliver ``data`` to simulated device ``name`` as if it had come off its wire."""
    path = sim_socket_path(name)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(data, os.fspath(path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise HardwareError(f"No simulated device is listening on {SIM_SCHEME}{name} "
                                f"({path}); is the kiosk agent running?") from exc
