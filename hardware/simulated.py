"""Simulated twins of the kiosk's readers, so the product runs and is tested without hardware.

Two kinds of twin:

- ``sim://NAME`` readers (``open_reader("rfid", "sim://door")``) listen on a Unix datagram
  socket; every datagram is bytes the real device would have sent and goes through the same
  parser. ``send(name, data)`` delivers one, and ``badge_frame_for`` / ``rdm6300_frame`` build
  the bytes, so a CLI can "tap a badge": ``send("door", badge_frame_for("0003887558"))``.
- ``SimulatedScanner``: an in-process reader that reads whatever ``scan()`` is given, for tests
  that need no socket at all.
"""

from __future__ import annotations

import queue
from types import TracebackType

from hardware.badges import card_hex_for
from hardware.errors import ReaderClosed
from hardware.rdm6300 import rdm6300_frame
from hardware.transport import send_datagram, sim_socket_path

__all__ = [
    "ReaderClosed",
    "SimulatedScanner",
    "badge_frame_for",
    "rdm6300_frame",
    "send",
    "sim_socket_path",
]


def send(name: str, data: bytes) -> None:
    """Deliver ``data`` to the ``sim://NAME`` reader as if it came off the device's wire.

    Raises ``HardwareError`` if no reader is listening there (the agent is not running).
    """
    send_datagram(name, data)


def badge_frame_for(badge: str, version: int = 0) -> bytes:
    """A valid RDM6300 frame for the card whose keyboard id is ``badge`` (ten digits)."""
    return rdm6300_frame(card_hex_for(badge, version))


class SimulatedScanner:
    """A barcode scanner or badge reader that reads whatever ``scan()`` is given."""

    def __init__(self, name: str = "simulated scanner") -> None:
        self.name = name
        self._codes: queue.Queue[str | None] = queue.Queue()
        self._closed = False

    @property
    def connected(self) -> bool:
        return not self._closed

    def scan(self, code: str) -> None:
        """Play a person presenting a badge or label to the reader."""
        if self._closed:
            raise ReaderClosed(f"{self.name} is closed.")
        self._codes.put(code.strip())

    def read(self, timeout: float | None = None) -> str | None:
        """The next code, or None if nothing was scanned within ``timeout`` seconds."""
        if self._closed and self._codes.empty():
            raise ReaderClosed(f"{self.name} is closed.")
        try:
            code = self._codes.get(timeout=timeout)
        except queue.Empty:
            return None
        if code is None:
            raise ReaderClosed(f"{self.name} is closed.")
        return code

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._codes.put(None)  # wake a reader blocked in read()

    def __enter__(self) -> SimulatedScanner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self._codes.qsize()} waiting"
        return f"<SimulatedScanner {self.name!r} {state}>"
