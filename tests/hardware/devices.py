"""Test doubles that play real devices on the far side of real file descriptors."""

from __future__ import annotations

import os
import select
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path
from typing import Protocol


class Framer(Protocol):
    def feed(self, data: bytes) -> list[bytes]: ...


class PtyDevice:
    """A serial device on the master side of a pseudo-terminal; drivers open ``path``.

    ``path`` can be a symlink (``link=``), as udev's ``/dev/serial/by-id`` names are, so a
    test can unplug the device and plug a new one in under the same name.
    """

    def __init__(self, link: Path | None = None) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self._slave)
        self.tty_path = os.ttyname(self._slave)
        self.path = self.tty_path
        if link is not None:
            link.unlink(missing_ok=True)
            link.symlink_to(self.tty_path)
            self.path = str(link)
        self._plugged = True

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def receive(self, size: int, timeout: float = 1.0) -> bytes:
        """Up to ``size`` bytes the driver wrote, waiting at most ``timeout`` seconds."""
        data = b""
        deadline = time.monotonic() + timeout
        while len(data) < size:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.master], [], [], left)[0]:
                break
            data += os.read(self.master, size - len(data))
        return data

    def unplug(self) -> None:
        """The USB lead comes out: the driver's next read fails."""
        if self._plugged:
            self._plugged = False
            os.close(self.master)

    def close(self) -> None:
        self.unplug()
        os.close(self._slave)


class FixedSize:
    """Splits a byte stream into requests of one size (Kerong commands are 5 bytes)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._buffer = b""

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        whole = len(self._buffer) - len(self._buffer) % self.size
        chunks = [self._buffer[i : i + self.size] for i in range(0, whole, self.size)]
        self._buffer = self._buffer[whole:]
        return chunks


class FakeBoard:
    """Plays a request/reply device in a thread: splits what the driver writes into requests
    with ``framer.feed`` and writes back whatever ``answer(request)`` returns (None: silence)."""

    def __init__(
        self,
        device: PtyDevice,
        answer: Callable[[bytes], bytes | None],
        framer: Framer,
    ) -> None:
        self.device = device
        self.answer = answer
        self.framer = framer
        self.requests: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            for request in self.framer.feed(self.device.receive(256, timeout=0.02)):
                self.requests.append(request)
                reply = self.answer(request)
                if reply:
                    self.device.send(reply)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


class FakeClock:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
