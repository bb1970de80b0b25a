"""USB serial (CDC) barcode scanners: one line per scan.

Scanners in serial mode appear as ``/dev/ttyACM*`` and send the code followed by a suffix
chosen on the scanner (CR, LF, CRLF or Tab). Baud rate is a setting too (9600 and 115200 are
common): a wrong baud rate shows up as bytes that are not text, which the log says.
"""

from __future__ import annotations

import logging

from hardware.base import StreamReader
from hardware.errors import ReaderDisconnected
from hardware.transport import open_transport

log = logging.getLogger(__name__)

DEFAULT_TERMINATORS = "\r\n\t"
MAX_LINE_BYTES = 256


class LineParser:
    """Splits a byte stream into stripped text lines.

    Any byte of ``terminators`` ends a line; empty lines are skipped, which makes CRLF one end.
    A line longer than ``max_length`` bytes is discarded whole, and reading picks up again after
    the next terminator, so a scanner stuck in a wrong mode cannot grow memory or emit half a
    code. Bytes that are not UTF-8 (line noise on plug-in, a wrong baud rate) are dropped.
    """

    def __init__(
        self,
        terminators: str = DEFAULT_TERMINATORS,
        max_length: int = MAX_LINE_BYTES,
        name: str = "scanner",
    ) -> None:
        if not terminators or not terminators.isascii():
            raise ValueError(f"{terminators!r} is not a usable line terminator.")
        self.max_length = max_length
        self.name = name
        self._ends = frozenset(terminators.encode("ascii"))
        self._line = bytearray()
        self._overlong = False

    def feed(self, data: bytes) -> list[str]:
        """The lines completed by ``data``, in order."""
        lines: list[str] = []
        start = 0
        for i, byte in enumerate(data):
            if byte in self._ends:
                self._take(data[start:i])
                line = self._finish()
                if line:
                    lines.append(line)
                start = i + 1
        self._take(data[start:])
        return lines

    def _take(self, part: bytes) -> None:
        if self._overlong:
            return
        self._line += part
        if len(self._line) > self.max_length:
            log.warning("%s sent a line longer than %d bytes; it was discarded.",
                        self.name, self.max_length)
            self._overlong = True
            self._line.clear()

    def _finish(self) -> str:
        raw = bytes(self._line)
        self._line.clear()
        if self._overlong:
            self._overlong = False
            return ""
        text = raw.decode("utf-8", errors="ignore").replace("\x00", "")
        dropped = len(raw) - len(text.encode("utf-8"))
        if dropped:
            log.warning("%s sent %d bytes that are not text; they were dropped "
                        "(check the scanner's baud rate).", self.name, dropped)
        return text.strip()


class SerialScanner(StreamReader):
    """A barcode scanner on a serial port, a pyserial URL or ``sim://NAME``.

    ``terminators`` lists the characters that end a scan (default any of CR, LF, Tab);
    ``max_length`` is the longest line accepted, in bytes.
    """

    def __init__(
        self,
        url: str,
        *,
        baudrate: int = 9600,
        terminators: str = DEFAULT_TERMINATORS,
        max_length: int = MAX_LINE_BYTES,
        name: str | None = None,
    ) -> None:
        name = name or f"scanner {url}"
        self._parser = LineParser(terminators, max_length, name)
        transport = open_transport(
            url, baudrate=baudrate, what="scanner", error=ReaderDisconnected)
        super().__init__(transport, name)

    def _decode(self, chunk: bytes) -> list[str]:
        codes = self._parser.feed(chunk) if chunk else []
        for code in codes:
            # The length, not the code: IMEIs and badge ids do not belong in a technician's log.
            log.info("%s: read a %d-character code.", self.name, len(code))
        return codes
