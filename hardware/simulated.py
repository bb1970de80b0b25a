"""Simulated twins of the kiosk's readers, so the product runs and is tested without hardware.

A real reader delivers one code per scan; so does its twin, from codes a person or a test
"scans" into it. Issue 3 adds the serial and RFID drivers behind the same interface.
"""

from __future__ import annotations

import queue
from types import TracebackType


class ReaderClosed(Exception):
    """Reading from a reader that has been closed."""


class SimulatedScanner:
    """A barcode scanner or badge reader that reads whatever ``scan()`` is given."""

    def __init__(self, name: str = "simulated scanner") -> None:
        self.name = name
        self._codes: queue.Queue[str | None] = queue.Queue()
        self._closed = False

    def scan(self, code: str) -> None:
        """Play a person presenting a badge or label to the reader."""
        if self._closed:
            raise ReaderClosed(f"{self.name} is closed")
        self._codes.put(code.strip())

    def read(self, timeout: float | None = None) -> str | None:
        """The next code, or None if nothing was scanned within ``timeout`` seconds."""
        if self._closed and self._codes.empty():
            raise ReaderClosed(f"{self.name} is closed")
        try:
            code = self._codes.get(timeout=timeout)
        except queue.Empty:
            return None
        if code is None:
            raise ReaderClosed(f"{self.name} is closed")
        return code

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._codes.put(None)  # wake a reader blocked in read()

    def __enter__(self) -> SimulatedScanner:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self._codes.qsize()} waiting"
        return f"<SimulatedScanner {self.name!r} {state}>"
