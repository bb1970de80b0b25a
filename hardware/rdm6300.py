"""RDM6300 125 kHz EM4100 badge readers on a UART (9600 8N1).

Each read is a 14-byte frame, repeated several times a second while the card is held:
``02``, ten ASCII hex digits (version byte + 4-byte id), two ASCII hex digits of checksum
(XOR of the five data bytes), ``03``. Card ``67003B51C6`` arrives as
``02 36 37 30 30 33 42 35 31 43 36 43 42 03``.
"""

from __future__ import annotations

import logging
import string
import time

from hardware.badges import keyboard_id
from hardware.base import Clock, RepeatFilter, StreamReader
from hardware.errors import ReaderDisconnected
from hardware.transport import open_transport

log = logging.getLogger(__name__)

STX = 0x02
ETX = 0x03
FRAME_LENGTH = 14
_HEX_BYTES = frozenset(string.hexdigits.encode("ascii"))
DEFAULT_REPEAT_GAP = 0.7


def rdm6300_frame(card_hex: str) -> bytes:
    """The 14 bytes an RDM6300 sends for the 5-byte card id ``card_hex`` (10 hex digits)."""
    data = bytes.fromhex(card_hex)
    if len(data) != 5:
        raise ValueError(f"{card_hex!r} is not a 5-byte EM4100 card id (10 hex digits).")
    checksum = data[0] ^ data[1] ^ data[2] ^ data[3] ^ data[4]
    body = f"{data.hex().upper()}{checksum:02X}".encode("ascii")
    return bytes([STX]) + body + bytes([ETX])


class Rdm6300Parser:
    """Incremental frame parser: bytes in, card ids (10 uppercase hex digits) out.

    Anything that is not a whole, well-formed frame with the right checksum is dropped, and
    parsing resynchronises on the next STX, so noise, a truncated frame or a bit error costs
    at most the frame it touches. The buffer never holds more than one frame.
    """

    def __init__(self, name: str = "RDM6300") -> None:
        self.name = name
        self.rejected = 0  # frames dropped for bad checksum or framing, for diagnostics
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[str]:
        self._buffer += data
        cards: list[str] = []
        while True:
            self._skip_to_stx()
            if not self._buffer:
                return cards
            verdict = self._check_candidate()
            if verdict == "wait":
                return cards
            if verdict == "bad":
                del self._buffer[0]  # drop this STX; the next one may start a good frame
                continue
            cards.append(self._buffer[1:11].decode("ascii").upper())
            del self._buffer[:FRAME_LENGTH]

    def _skip_to_stx(self) -> None:
        start = self._buffer.find(STX)
        noise = len(self._buffer) if start < 0 else start
        if noise:
            log.debug("%s: skipped %d bytes of noise between frames.", self.name, noise)
            del self._buffer[:noise]

    def _check_candidate(self) -> str:
        """'good', 'bad' or 'wait' (a frame that may still be completed) for the buffer head."""
        digits = self._buffer[1:13]
        if not _HEX_BYTES.issuperset(digits):
            self._reject("malformed frame")
            return "bad"
        if len(self._buffer) < FRAME_LENGTH:
            return "wait"
        if self._buffer[13] != ETX:
            self._reject("frame without its end byte")
            return "bad"
        data = bytes.fromhex(digits[:10].decode("ascii"))
        expected = data[0] ^ data[1] ^ data[2] ^ data[3] ^ data[4]
        if int(digits[10:12], 16) != expected:
            self._reject("bad checksum")
            return "bad"
        return "good"

    def _reject(self, why: str) -> None:
        self.rejected += 1
        log.debug("%s: dropped a %s.", self.name, why)


class Rdm6300Reader(StreamReader):
    """An RDM6300 on a UART, a pyserial URL or ``sim://NAME``; returns keyboard-form badge ids.

    A held card is reported once; it is reported again after ``repeat_gap`` seconds without
    a frame for it. ``clock`` is injectable so tests can step time.
    """

    def __init__(
        self,
        url: str,
        *,
        baudrate: int = 9600,
        repeat_gap: float = DEFAULT_REPEAT_GAP,
        clock: Clock = time.monotonic,
        name: str | None = None,
    ) -> None:
        name = name or f"RDM6300 on {url}"
        self._parser = Rdm6300Parser(name)
        self._repeats = RepeatFilter(repeat_gap, clock)
        transport = open_transport(
            url, baudrate=baudrate, what="badge reader", error=ReaderDisconnected)
        super().__init__(transport, name)

    def _decode(self, chunk: bytes) -> list[str]:
        badges = []
        for card in self._parser.feed(chunk) if chunk else []:
            if self._repeats.is_new(card):
                badge = keyboard_id(card)
                log.info("%s: card %s", self.name, badge)
                badges.append(badge)
        return badges
