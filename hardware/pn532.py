"""PN532 13.56 MHz readers (MIFARE and other ISO 14443 type A cards) over UART (HSU).

Frames (NXP UM0701 section 6.2): ``00`` preamble, ``00 FF`` start code, LEN, LCS with
(LEN + LCS) & 0xFF == 0, TFI (``D4`` host to PN532, ``D5`` back), data, DCS with
(TFI + data + DCS) & 0xFF == 0, ``00`` postamble. Every command is acknowledged with
``00 00 FF 00 FF 00`` before its response.

The PN532 speaks only when asked, so the reader polls with InListPassiveTarget. UIDs are
returned as uppercase hex (4, 7 or 10 bytes): they are not EM4100 ids, so ``keyboard_id``
does not apply to them.
"""

from __future__ import annotations

import logging
import math
import time

from hardware.base import POLL_SECONDS, Clock, RepeatFilter, StreamReader
from hardware.errors import ReaderDisconnected
from hardware.transport import SIM_SCHEME, open_transport

log = logging.getLogger(__name__)

HOST_TO_PN532 = 0xD4
PN532_TO_HOST = 0xD5
ERROR_TFI = 0x7F
ACK_FRAME = bytes.fromhex("0000FF00FF00")
# An ACK frame comes out of the parser as this empty payload (real payloads start with a TFI).
ACK = b""
START_CODE = b"\x00\xff"
# HSU wake-up: the PN532 sleeps after power-up until it sees a long preamble.
WAKE_UP = b"\x55\x55" + bytes(14)

GET_FIRMWARE_VERSION = 0x02
SAM_CONFIGURATION = 0x14
RF_CONFIGURATION = 0x32
IN_LIST_PASSIVE_TARGET = 0x4A


def pn532_frame(data: bytes) -> bytes:
    """A normal information frame around ``data`` (TFI included)."""
    if not 1 <= len(data) <= 254:
        raise ValueError(f"A PN532 frame carries 1 to 254 bytes, not {len(data)}.")
    length_checksum = -len(data) & 0xFF
    data_checksum = -sum(data) & 0xFF
    return b"\x00" + START_CODE + bytes([len(data), length_checksum]) + data + bytes(
        [data_checksum, 0x00])


def command_frame(command: int, *params: int) -> bytes:
    """The frame a host sends for ``command`` with its parameter bytes."""
    return pn532_frame(bytes([HOST_TO_PN532, command, *params]))


class Pn532Parser:
    """Incremental parser: bytes in, payloads (TFI + data) out; an ACK yields ``ACK``.

    Frames with a bad length or data checksum are dropped and parsing resynchronises on the
    next start code. NACKs and extended frames are dropped (the reader never provokes them).
    """

    def __init__(self, name: str = "PN532") -> None:
        self.name = name
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        payloads: list[bytes] = []
        while self._skip_to_start_code():
            if len(self._buffer) < 4:
                break
            length, length_checksum = self._buffer[2], self._buffer[3]
            if (length, length_checksum) == (0x00, 0xFF):
                payloads.append(ACK)
                del self._buffer[:4]
            elif (length + length_checksum) & 0xFF:
                self._drop("frame with a bad length checksum")
            elif len(self._buffer) < 5 + length:
                break
            elif (sum(self._buffer[4 : 5 + length])) & 0xFF:
                self._drop("frame with a bad data checksum")
            else:
                payloads.append(bytes(self._buffer[4 : 4 + length]))
                del self._buffer[: 5 + length]
        return payloads

    def _skip_to_start_code(self) -> bool:
        start = self._buffer.find(START_CODE)
        if start < 0:
            # A trailing 00 may be the first half of a start code still on the wire.
            keep = 1 if self._buffer.endswith(b"\x00") else 0
            del self._buffer[: len(self._buffer) - keep]
            return False
        del self._buffer[:start]
        return True

    def _drop(self, why: str) -> None:
        log.debug("%s: dropped a %s.", self.name, why)
        del self._buffer[:1]


def target_uid(response: bytes) -> str | None:
    """The UID in an InListPassiveTarget (106 kbps type A) response payload, or None.

    Payload: ``D5 4B NbTg Tg SENS_RES(2) SEL_RES NFCIDLength NFCID...``.
    """
    if len(response) < 3 or response[:2] != bytes([PN532_TO_HOST, IN_LIST_PASSIVE_TARGET + 1]):
        raise ValueError(f"{response.hex(' ')} is not an InListPassiveTarget response.")
    if response[2] == 0:
        return None
    uid_length = response[7] if len(response) > 7 else 0
    uid = response[8 : 8 + uid_length]
    if not uid_length or len(uid) != uid_length:
        raise ValueError(f"{response.hex(' ')} is a truncated InListPassiveTarget response.")
    return uid.hex().upper()


class Pn532Reader(StreamReader):
    """A PN532 on a UART or pyserial URL; ``read()`` returns card UIDs as uppercase hex.

    The constructor wakes the chip and configures it (SAM normal mode, one activation attempt
    per poll so a poll without a card returns at once); a PN532 that does not answer raises
    ``ReaderDisconnected``. A held card is reported once, as for the RDM6300.
    """

    def __init__(
        self,
        url: str,
        *,
        baudrate: int = 115200,
        reply_timeout: float = 0.5,
        poll_interval: float = 0.1,
        repeat_gap: float = 0.7,
        clock: Clock = time.monotonic,
        name: str | None = None,
    ) -> None:
        if url.startswith(SIM_SCHEME):
            raise ValueError("A PN532 has no simulated twin: use kind 'rfid' with sim://NAME.")
        name = name or f"PN532 on {url}"
        transport = open_transport(
            url, baudrate=baudrate, what="badge reader", error=ReaderDisconnected)
        super().__init__(transport, name)
        self.reply_timeout = reply_timeout
        self.poll_interval = poll_interval
        self._parser = Pn532Parser(name)
        self._repeats = RepeatFilter(repeat_gap, clock)
        try:
            self._configure()
        except ReaderDisconnected:
            self.close()
            raise

    def _configure(self) -> None:
        self._send(WAKE_UP)
        self._command(SAM_CONFIGURATION, 0x01, 0x14, 0x01)
        # MxRtyATR, MxRtyPSL, MxRtyPassiveActivation: one attempt, then report "no card".
        self._command(RF_CONFIGURATION, 0x05, 0xFF, 0x01, 0x00)
        log.info("%s: ready.", self.name)

    def read(self, timeout: float | None = None) -> str | None:
        deadline = math.inf if timeout is None else time.monotonic() + timeout
        while True:
            uid = target_uid(self._command(IN_LIST_PASSIVE_TARGET, 0x01, 0x00))
            if uid is not None and self._repeats.is_new(uid):
                log.info("%s: card %s", self.name, uid)
                return uid
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(left, self.poll_interval))

    def _send(self, data: bytes) -> None:
        self._ensure_usable()
        try:
            self._transport.discard_input()
            self._transport.write(data)
        except ReaderDisconnected as exc:
            self._mark_disconnected(str(exc))
            raise

    def _command(self, command: int, *params: int) -> bytes:
        """Send a command and return its response payload (``D5``, command + 1, data)."""
        self._parser = Pn532Parser(self.name)  # leftovers of an earlier exchange mean nothing
        self._send(command_frame(command, *params))
        deadline = time.monotonic() + self.reply_timeout
        acknowledged = False
        while time.monotonic() < deadline:
            chunk = self._receive(min(max(deadline - time.monotonic(), 0.0), POLL_SECONDS))
            for payload in self._parser.feed(chunk):
                if payload == ACK:
                    acknowledged = True
                elif payload[:2] == bytes([PN532_TO_HOST, command + 1]):
                    return payload
                elif payload[:1] == bytes([ERROR_TFI]):
                    log.warning("%s reported an error for command 0x%02X.", self.name, command)
        stage = "its response" if acknowledged else "an acknowledgement"
        message = (f"{self.name} did not send {stage} to command 0x{command:02X} within "
                   f"{self.reply_timeout:g} s (check wiring and that it is in UART mode).")
        self._mark_disconnected(message)
        raise ReaderDisconnected(message)
