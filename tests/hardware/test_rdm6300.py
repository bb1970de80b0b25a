"""RDM6300 framing and the reader, through a real pseudo-terminal."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from hardware import open_reader
from hardware.base import RepeatFilter
from hardware.errors import ReaderClosed, ReaderDisconnected
from hardware.rdm6300 import Rdm6300Parser, Rdm6300Reader, rdm6300_frame
from tests.hardware.devices import FakeClock, PtyDevice

EXAMPLE = bytes.fromhex("02 36 37 30 30 33 42 35 31 43 36 43 42 03")  # card 67003B51C6
OTHER = rdm6300_frame("67003BA86C")  # keyboard id 0003909740


def ascii_frame(data_and_checksum: str) -> bytes:
    return b"\x02" + data_and_checksum.encode("ascii") + b"\x03"


# The parser --------------------------------------------------------------------------------


def test_frame_builder_matches_the_protocol_example():
    assert rdm6300_frame("67003B51C6") == EXAMPLE
    assert rdm6300_frame("67003ba86c") == ascii_frame("67003BA86C98")


def test_parser_reads_the_protocol_vectors():
    parser = Rdm6300Parser()
    assert parser.feed(EXAMPLE) == ["67003B51C6"]
    assert parser.feed(ascii_frame("67003BA86C98")) == ["67003BA86C"]
    assert parser.feed(ascii_frame("67003BA86793")) == ["67003BA867"]
    assert parser.feed(ascii_frame("67003b51c6cb")) == ["67003B51C6"]  # lowercase hex too


def test_parser_rejects_a_bad_checksum_and_carries_on():
    parser = Rdm6300Parser()
    assert parser.feed(ascii_frame("68003B51C6CB") + EXAMPLE) == ["67003B51C6"]
    assert parser.rejected == 1


def test_parser_assembles_a_frame_delivered_byte_by_byte():
    parser = Rdm6300Parser()
    cards = [card for byte in EXAMPLE for card in parser.feed(bytes([byte]))]
    assert cards == ["67003B51C6"]


@pytest.mark.parametrize("junk", [
    EXAMPLE[:6],                      # truncated frame, then a whole one
    EXAMPLE[:13],                     # everything but the ETX
    EXAMPLE[:13] + b"\x00",           # wrong end byte
    b"\xff\x00garbage\r\n\x03",       # line noise between frames
    b"\x02\x02\x02",                  # a burst of STX
])
def test_parser_resynchronises_on_the_next_stx(junk):
    parser = Rdm6300Parser()
    assert parser.feed(EXAMPLE + junk + OTHER + junk + EXAMPLE) == [
        "67003B51C6", "67003BA86C", "67003B51C6"]


def test_parser_buffer_never_grows_past_one_frame():
    parser = Rdm6300Parser()
    for _ in range(1000):
        parser.feed(b"\x0212345")
    assert len(parser._buffer) <= 14


def test_repeat_filter_reports_a_held_card_once_and_again_after_a_gap():
    clock = FakeClock()
    seen = RepeatFilter(gap=0.5, clock=clock)
    results = []
    for _ in range(5):  # held: a frame every 100 ms
        results.append(seen.is_new("A"))
        clock.advance(0.1)
    assert results == [True, False, False, False, False]
    assert seen.is_new("B")  # another card at the same time is its own event
    clock.advance(0.6)
    assert seen.is_new("A")


# The reader on a pseudo-terminal -----------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def reader(device: PtyDevice, clock: FakeClock):
    with Rdm6300Reader(device.path, repeat_gap=0.5, clock=clock) as rdm:
        yield rdm


def test_a_tapped_card_comes_out_as_its_keyboard_id_and_is_logged(device, reader, caplog):
    caplog.set_level(logging.INFO, logger="hardware")
    device.send(EXAMPLE)
    assert reader.read(1) == "0003887558"
    assert f"RDM6300 on {device.path}: card 0003887558" in caplog.text


def test_a_held_card_is_reported_once_until_it_has_been_away(device, reader, clock):
    device.send(EXAMPLE * 5)
    assert reader.read(1) == "0003887558"
    assert reader.read(0.05) is None
    clock.advance(0.2)
    device.send(EXAMPLE)  # still held
    assert reader.read(0.05) is None
    clock.advance(0.6)  # taken away, then tapped again
    device.send(EXAMPLE)
    assert reader.read(1) == "0003887558"


def test_a_second_card_is_reported_while_the_first_is_held(device, reader):
    device.send(EXAMPLE + OTHER + EXAMPLE + OTHER)
    assert [reader.read(1), reader.read(1), reader.read(0.05)] == [
        "0003887558", "0003909740", None]


def test_bad_truncated_and_noisy_frames_never_reach_the_caller(device, reader):
    device.send(ascii_frame("68003B51C6CB"))
    device.send(EXAMPLE[:7])
    device.send(b"\x00\xffnoise\x03")
    assert reader.read(0.1) is None
    device.send(EXAMPLE)
    assert reader.read(1) == "0003887558"


def test_read_times_out_promptly(reader):
    started = time.monotonic()
    assert reader.read(0.1) is None
    assert 0.09 <= time.monotonic() - started < 0.3
    assert reader.read(0) is None


def test_an_unplugged_reader_raises_reader_disconnected_every_time(device, reader):
    device.unplug()
    with pytest.raises(ReaderDisconnected, match=f"badge reader {device.path} disconnected"):
        reader.read(1)
    with pytest.raises(ReaderDisconnected):
        reader.read(0)
    assert not reader.connected and "disconnected" in repr(reader)
    reader.close()
    reader.close()
    assert "closed" in repr(reader)
    with pytest.raises(ReaderClosed):
        reader.read(0)


def test_a_reader_plugged_back_in_under_the_same_name_opens_again(short_dir: Path):
    link = short_dir / "ttyRFID"
    first = PtyDevice(link)
    reader = open_reader("rfid", str(link))
    first.unplug()
    with pytest.raises(ReaderDisconnected):
        reader.read(1)
    reader.close()
    with pytest.raises(ReaderDisconnected, match=f"badge reader {link} not found"):
        open_reader("rfid", str(link))
    second = PtyDevice(link)  # the caller's retry finds the device back
    try:
        with open_reader("rfid", str(link)) as again:
            second.send(EXAMPLE)
            assert again.read(1) == "0003887558"
    finally:
        first.close()
        second.close()


def test_opening_a_missing_reader_says_which_device():
    with pytest.raises(ReaderDisconnected, match=r"^badge reader /dev/ttyUSB-none not found\.$"):
        open_reader("rfid", "/dev/ttyUSB-none")


def test_a_port_already_in_use_is_refused(device, reader):
    with pytest.raises(ReaderDisconnected, match="in use by another program"):
        Rdm6300Reader(device.path)


def test_repr_shows_the_device_and_its_state(device, reader):
    assert repr(reader) == f"<Rdm6300Reader 'RDM6300 on {device.path}' open>"
    assert reader.name == f"RDM6300 on {device.path}"
