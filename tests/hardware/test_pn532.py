"""PN532 frame codec against the protocol vectors, and the reader against a played PN532."""

from __future__ import annotations

import pytest

from hardware import open_reader
from hardware.errors import ReaderDisconnected
from hardware.pn532 import (
    ACK,
    ACK_FRAME,
    Pn532Parser,
    Pn532Reader,
    command_frame,
    pn532_frame,
    target_uid,
)
from tests.hardware.devices import FakeBoard, FakeClock, PtyDevice

UID = bytes.fromhex("04A1B2C3")


def test_command_frames_match_the_protocol_vectors():
    assert command_frame(0x02) == bytes.fromhex("00 00 FF 02 FE D4 02 2A 00")
    assert command_frame(0x4A, 0x01, 0x00) == bytes.fromhex("00 00 FF 04 FC D4 4A 01 00 E1 00")
    assert command_frame(0x14, 0x01, 0x14, 0x01) == bytes.fromhex(
        "00 00 FF 05 FB D4 14 01 14 01 02 00")


def test_frames_carry_1_to_254_bytes():
    with pytest.raises(ValueError):
        pn532_frame(b"")
    assert len(pn532_frame(bytes(254))) == 254 + 7


def test_parser_splits_acks_and_frames_and_skips_wake_up_bytes():
    stream = b"\x55\x55" + bytes(14) + ACK_FRAME + command_frame(0x02) + pn532_frame(b"\xd5\x15")
    assert Pn532Parser().feed(stream) == [ACK, b"\xd4\x02", b"\xd5\x15"]


def test_parser_works_byte_by_byte():
    parser = Pn532Parser()
    frame = ACK_FRAME + pn532_frame(b"\xd5\x4b\x00")
    assert [p for byte in frame for p in parser.feed(bytes([byte]))] == [ACK, b"\xd5\x4b\x00"]


@pytest.mark.parametrize("damage", [
    lambda f: f[:3] + b"\x03" + f[4:],    # length checksum wrong
    lambda f: f[:-2] + b"\x00" + f[-1:],  # data checksum wrong
    lambda f: f[:6],                      # truncated
])
def test_parser_drops_damaged_frames_and_resynchronises(damage):
    good = pn532_frame(b"\xd5\x15")
    assert Pn532Parser().feed(damage(command_frame(0x4A, 1, 0)) + good) == [b"\xd5\x15"]


def test_target_uid_reads_an_inlistpassivetarget_response():
    card = b"\xd5\x4b\x01\x01\x00\x04\x08\x04" + UID
    assert target_uid(card) == "04A1B2C3"
    assert target_uid(b"\xd5\x4b\x00") is None
    with pytest.raises(ValueError):
        target_uid(b"\xd5\x4b\x01\x01\x00\x04\x08\x07" + UID)  # says 7 bytes, carries 4
    with pytest.raises(ValueError):
        target_uid(b"\xd5\x15")


class PlayedPn532:
    """Answers like a PN532: ACK, then the response; ``card`` is what is on the antenna."""

    def __init__(self) -> None:
        self.card: bytes | None = None
        self.silent = False

    def answer(self, request: bytes) -> bytes | None:
        if self.silent or request == ACK or request[0] != 0xD4:
            return None
        command = request[1]
        data = b""
        if command == 0x4A:
            data = b"\x00" if self.card is None else (
                b"\x01\x01\x00\x04\x08" + bytes([len(self.card)]) + self.card)
        return ACK_FRAME + pn532_frame(bytes([0xD5, command + 1]) + data)


@pytest.fixture
def pn532(device: PtyDevice):
    played = PlayedPn532()
    board = FakeBoard(device, played.answer, Pn532Parser())
    yield played, board
    board.stop()


def test_reader_configures_the_chip_then_reports_a_card_once(device, pn532):
    played, board = pn532
    clock = FakeClock()
    with Pn532Reader(device.path, reply_timeout=0.3, poll_interval=0.01, clock=clock) as reader:
        assert [r[:2] for r in board.requests] == [b"\xd4\x14", b"\xd4\x32"]
        assert reader.read(0.05) is None
        played.card = UID
        assert reader.read(1) == "04A1B2C3"
        assert reader.read(0.05) is None  # still on the antenna
        clock.advance(1)
        played.card = bytes.fromhex("04112233445566")
        assert reader.read(1) == "04112233445566"
    assert board.requests[2] == bytes.fromhex("D4 4A 01 00")


def test_a_silent_pn532_is_reported_as_disconnected(device, pn532):
    played, _ = pn532
    played.silent = True
    with pytest.raises(ReaderDisconnected, match="did not send an acknowledgement"):
        open_reader("pn532", device.path, reply_timeout=0.1)


def test_a_pn532_that_stops_answering_raises_reader_disconnected(device, pn532):
    played, _ = pn532
    with Pn532Reader(device.path, reply_timeout=0.1) as reader:
        played.silent = True
        with pytest.raises(ReaderDisconnected, match=f"PN532 on {device.path} did not"):
            reader.read(1)
        assert not reader.connected


def test_pn532_has_no_simulated_twin():
    with pytest.raises(ValueError, match="use kind 'rfid'"):
        open_reader("pn532", "sim://door")
