"""Simulated twins: a datagram on sim://NAME goes through the real parser."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from hardware import HardwareError, ReaderClosed, ReaderDisconnected, open_reader
from hardware.simulated import badge_frame_for, rdm6300_frame, send, sim_socket_path


def test_a_tapped_badge_comes_out_of_the_sim_reader(sim_dir: Path):
    with open_reader("rfid", "sim://door", repeat_gap=0.5) as reader:
        assert (sim_dir / "door.sock").is_socket()
        send("door", badge_frame_for("0003887558"))
        assert reader.read(1) == "0003887558"
        assert reader.read(0.05) is None
    assert not (sim_dir / "door.sock").exists()


def test_sim_frames_go_through_the_same_parser(sim_dir):
    with open_reader("rfid", "sim://door") as reader:
        frame = rdm6300_frame("67003B51C6")
        send("door", b"\x02" + frame[1:12] + b"00\x03")  # bad checksum
        send("door", frame[:5])  # truncated, then the rest of a good frame arrives
        send("door", frame)
        assert reader.read(1) == "0003887558"
        assert reader.read(0.05) is None


def test_a_frame_split_over_two_datagrams_is_read(sim_dir):
    with open_reader("rfid", "sim://door") as reader:
        frame = badge_frame_for("0000000042")
        send("door", frame[:7])
        send("door", frame[7:])
        assert reader.read(1) == "0000000042"


def test_a_scanned_line_comes_out_of_the_sim_scanner(sim_dir):
    with open_reader("scanner", "sim://desk") as scanner:
        send("desk", b"354178036859789\r\n")
        send("desk", b"PH7K")
        send("desk", b"3M9Q\t")
        assert [scanner.read(1), scanner.read(1)] == ["354178036859789", "PH7K3M9Q"]
        assert repr(scanner) == "<SerialScanner 'scanner sim://desk' open>"


def test_sending_to_a_reader_that_is_not_running_says_so(sim_dir):
    with pytest.raises(HardwareError, match="No simulated device is listening on sim://door"):
        send("door", badge_frame_for("0003887558"))


def test_a_socket_left_by_a_crashed_agent_is_replaced(sim_dir):
    sim_dir.mkdir(parents=True)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stale.bind(os.fspath(sim_dir / "door.sock"))
    stale.close()  # the file stays, as after a crash
    with open_reader("rfid", "sim://door") as reader:
        send("door", badge_frame_for("0003887558"))
        assert reader.read(1) == "0003887558"


def test_a_name_in_use_by_a_running_reader_is_refused(sim_dir):
    with open_reader("rfid", "sim://door"), pytest.raises(
            ReaderDisconnected, match="badge reader sim://door is in use"):
        open_reader("rfid", "sim://door")


def test_the_default_directory_is_instance_sim(short_dir, monkeypatch):
    monkeypatch.delenv("KIOSK_SIM_DIR", raising=False)
    monkeypatch.chdir(short_dir)
    with open_reader("rfid", "sim://door") as reader:
        assert (short_dir / "instance" / "sim" / "door.sock").is_socket()
        send("door", badge_frame_for("0003887558"))
        assert reader.read(1) == "0003887558"


def test_unusable_names_and_paths_are_configuration_errors(monkeypatch):
    with pytest.raises(ValueError, match="not a simulated device name"):
        sim_socket_path("a/b")
    monkeypatch.setenv("KIOSK_SIM_DIR", "/tmp/" + "x" * 120)
    with pytest.raises(ValueError, match="set KIOSK_SIM_DIR to a shorter directory"):
        open_reader("rfid", "sim://door")


def test_closing_from_another_thread_ends_a_blocked_read(sim_dir):
    reader = open_reader("rfid", "sim://door")
    outcome: list[BaseException] = []

    def wait_for_a_badge() -> None:
        try:
            reader.read(5)
        except ReaderClosed as exc:
            outcome.append(exc)

    thread = threading.Thread(target=wait_for_a_badge)
    thread.start()
    reader.close()
    thread.join(1)
    assert not thread.is_alive()
    assert len(outcome) == 1 and "is closed" in str(outcome[0])
