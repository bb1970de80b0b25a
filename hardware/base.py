"""What every reader shares: the read loop over a transport, state for logs, repeat filtering.

A reader is a transport (serial port or simulated socket) plus a parser that turns chunks of
bytes into codes. ``read(timeout)`` returns the next code or None; a device that vanishes
raises ``ReaderDisconnected`` once it is noticed, and again on every later read, so the
caller's reconnect loop sees one clear signal.
"""

from __future__ import annotations

import collections
import logging
import math
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

from hardware.errors import ReaderClosed, ReaderDisconnected
from hardware.transport import Transport

log = logging.getLogger(__name__)

# Longest single wait on the wire: bounds how late a close() from another thread is noticed.
POLL_SECONDS = 0.1

Clock = Callable[[], float]


class HardwareDevice:
    """What every reader and lock bank shares: ``with`` closes it (``close()`` is idempotent)."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class StreamReader(HardwareDevice):
    """Base of readers whose device talks unprompted; subclasses implement ``_decode``."""

    def __init__(self, transport: Transport, name: str) -> None:
        self.name = name
        self._transport = transport
        self._codes: collections.deque[str] = collections.deque()
        self._state = "open"
        self._failure = ""

    @property
    def connected(self) -> bool:
        """False once the device has gone away or the reader is closed."""
        return self._state == "open"

    def read(self, timeout: float | None = None) -> str | None:
        """The next complete code, or None if none arrives within ``timeout`` seconds.

        ``None`` as timeout waits for ever. Raises ``ReaderDisconnected`` when the device has
        gone and ``ReaderClosed`` after ``close()``.
        """
        deadline = math.inf if timeout is None else time.monotonic() + timeout
        while not self._codes:
            chunk = self._receive(min(max(deadline - time.monotonic(), 0.0), POLL_SECONDS))
            self._codes.extend(self._decode(chunk))
            if not self._codes and time.monotonic() >= deadline:
                return None
        return self._codes.popleft()

    def _ensure_usable(self) -> None:
        if self._state == "closed":
            raise ReaderClosed(f"{self.name} is closed.")
        if self._state == "disconnected":
            raise ReaderDisconnected(self._failure)

    def _receive(self, wait: float) -> bytes:
        self._ensure_usable()
        try:
            return self._transport.read_some(wait)
        except Exception as exc:
            if self._state == "closed":
                # Closed by another thread while we waited: whatever the port raised on the
                # way out (pyserial can fail oddly mid-close), the news is "closed".
                raise ReaderClosed(f"{self.name} is closed.") from exc
            if isinstance(exc, ReaderDisconnected):
                self._mark_disconnected(str(exc))
            raise

    def _mark_disconnected(self, message: str) -> None:
        """Remember why the device is gone: every later read raises with the same sentence."""
        self._state, self._failure = "disconnected", message
        log.warning("%s", message)

    def _decode(self, chunk: bytes) -> list[str]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device; safe to call more than once and from another thread."""
        if self._state != "closed":
            self._state = "closed"
            self._transport.close()
            log.info("%s closed.", self.name)

    def __repr__(self) -> str:
        waiting = f", {len(self._codes)} waiting" if self._codes else ""
        return f"<{type(self).__name__} {self.name!r} {self._state}{waiting}>"


class RepeatFilter:
    """Report a card once while it is held: readers repeat its frame several times a second.

    A card counts as new again after ``gap`` seconds without a frame for it, so a pupil who
    takes the badge away and taps again is heard, while a held badge is heard once.
    """

    def __init__(self, gap: float, clock: Clock = time.monotonic) -> None:
        self.gap = gap
        self._clock = clock
        self._last_seen: dict[str, float] = {}

    def is_new(self, card: str) -> bool:
        now = self._clock()
        # Forget cards not seen for a while, so the table stays as small as the cards in range.
        self._last_seen = {c: t for c, t in self._last_seen.items() if now - t < self.gap}
        new = card not in self._last_seen
        self._last_seen[card] = now
        return new
