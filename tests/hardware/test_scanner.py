"""Serial barcode scanners: line framing, and the driver through a real pseudo-terminal."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from hardware import open_reader
from hardware.errors import ReaderClosed, ReaderDisconnected
from hardware.scanner import LineParser, SerialScanner
from tests.hardware.devices import PtyDevice

# The line parser ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [b"\r", b"\n", b"\r\n", b"\t", b"\n\r"])
def test_every_common_suffix_ends_a_scan_once(suffix):
    assert LineParser().feed(b"PH7K3M9Q" + suffix + b"354178036859789" + suffix) == [
        "PH7K3M9Q", "354178036859789"]


def test_a_line_split_across_chunks_comes_out_whole():
    parser = LineParser()
    assert parser.feed(b"35417") == []
    assert parser.feed(b"8036859789\r") == ["354178036859789"]
    assert parser.feed(b"\n") == []


def test_blank_lines_and_surrounding_spaces_are_ignored():
    assert LineParser().feed(b"\r\n\r\n  0003887558 \r\n\t\t") == ["0003887558"]


def test_a_configured_terminator_is_the_only_end():
    parser = LineParser(terminators="\t")
    assert parser.feed(b"AB\nCD\t") == ["AB\nCD"]


def test_an_overlong_line_is_discarded_and_reading_resumes_after_it(caplog):
    parser = LineParser(max_length=16, name="scanner /dev/ttyACM0")
    assert parser.feed(b"X" * 10) == []
    assert parser.feed(b"X" * 10) == []  # now over the limit, mid-line
    assert parser.feed(b"Y" * 1000 + b"\rGOOD\r") == ["GOOD"]
    assert parser.feed(b"Z" * 17 + b"\nOK\n") == ["OK"]
    assert "scanner /dev/ttyACM0 sent a line longer than 16 bytes" in caplog.text


def test_bytes_that_are_not_text_are_dropped_without_losing_the_scan(caplog):
    parser = LineParser(name="scanner /dev/ttyACM0")
    assert parser.feed(b"\xff\xfe\x00\x80PH7K3M9Q\r\n") == ["PH7K3M9Q"]
    assert parser.feed(b"\xc3\x28\xa0\xa1\r") == ["("]
    assert parser.feed("Ångström\r".encode()) == ["Ångström"]
    assert "check the scanner's baud rate" in caplog.text


def test_random_bytes_never_crash_the_parser():
    parser = LineParser(max_length=64)
    for seed in range(50):
        parser.feed(bytes((seed * 7919 + i * 104729) % 256 for i in range(500)))


def test_a_terminator_must_be_plain_ascii():
    with pytest.raises(ValueError):
        LineParser(terminators="")


# The driver on a pseudo-terminal -----------------------------------------------------------


@pytest.mark.parametrize("baudrate", [9600, 115200])
def test_scans_arrive_in_order(device: PtyDevice, baudrate):
    with SerialScanner(device.path, baudrate=baudrate) as scanner:
        device.send(b"354178036859789\r\nPH7K3M9Q\r\n")
        assert [scanner.read(1), scanner.read(1), scanner.read(0.05)] == [
            "354178036859789", "PH7K3M9Q", None]


def test_a_scan_is_logged_by_length_not_content(device, caplog):
    caplog.set_level(logging.INFO, logger="hardware")
    with open_reader("scanner", device.path) as scanner:
        device.send(b"354178036859789\t")
        assert scanner.read(1) == "354178036859789"
    assert f"scanner {device.path}: read a 15-character code" in caplog.text
    assert "354178036859789" not in caplog.text


def test_a_very_long_line_over_the_wire_is_dropped(device):
    with SerialScanner(device.path, max_length=256) as scanner:
        device.send(b"9" * 5000 + b"\r\n" + b"PH7K3M9Q\r\n")
        assert scanner.read(1) == "PH7K3M9Q"
        assert scanner.read(0.05) is None


def test_garbage_on_the_wire_is_survived(device):
    with SerialScanner(device.path) as scanner:
        device.send(bytes(range(256)) + b"\rPH7K3M9Q\r")
        codes = [scanner.read(0.2), scanner.read(0.2), scanner.read(0.05)]
        assert "PH7K3M9Q" in codes


def test_an_unplugged_scanner_raises_reader_disconnected(device, caplog):
    scanner = SerialScanner(device.path)
    device.send(b"PH7K3M9Q\r")
    assert scanner.read(1) == "PH7K3M9Q"
    device.unplug()
    with pytest.raises(ReaderDisconnected, match=f"^scanner {device.path} disconnected: "):
        scanner.read(1)
    assert f"scanner {device.path} disconnected" in caplog.text
    scanner.close()


def test_a_scanner_plugged_back_in_works_with_a_new_reader(short_dir: Path):
    link = short_dir / "ttyACM-scanner"
    first = PtyDevice(link)
    scanner = SerialScanner(str(link))
    first.unplug()
    with pytest.raises(ReaderDisconnected):
        scanner.read(1)
    scanner.close()
    second = PtyDevice(link)
    try:
        with SerialScanner(str(link)) as again:
            second.send(b"PH7K3M9Q\r")
            assert again.read(1) == "PH7K3M9Q"
    finally:
        first.close()
        second.close()


def test_closing_from_another_thread_ends_a_blocked_read(device):
    scanner = SerialScanner(device.path)
    outcome: list[BaseException] = []

    def wait_for_a_scan() -> None:
        try:
            scanner.read(5)
        except ReaderClosed as exc:
            outcome.append(exc)

    thread = threading.Thread(target=wait_for_a_scan)
    thread.start()
    time.sleep(0.05)  # let it block in the port
    scanner.close()
    thread.join(1)
    assert not thread.is_alive()
    assert [str(e) for e in outcome] == [f"scanner {device.path} is closed."]


def test_a_missing_scanner_is_named_in_the_error():
    with pytest.raises(ReaderDisconnected, match=r"^scanner /dev/ttyACM-none not found\.$"):
        open_reader("scanner", "/dev/ttyACM-none")


def test_pyserial_urls_work_as_well_as_paths():
    with open_reader("scanner", "loop://", baudrate=115200) as scanner:
        assert scanner.read(0.05) is None
        assert repr(scanner) == "<SerialScanner 'scanner loop://' open>"


def test_an_unknown_kind_or_url_is_a_configuration_error():
    with pytest.raises(ValueError, match="not a reader kind"):
        open_reader("keyboard", "/dev/ttyACM0")
    with pytest.raises(ValueError):
        open_reader("scanner", "nosuch://x")
