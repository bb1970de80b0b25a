"""Lock banks: Kerong frames on a real pseudo-terminal, GPIO relays on gpiozero's mock pins,
the simulated bank and the keyed (no-lock) bank."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from hardware.errors import LockError, LockTimeout
from hardware.locks import (
    DoorState,
    GpioLockBank,
    KerongLockBank,
    NoLockBank,
    SimulatedLockBank,
    find_status_reply,
    kerong_address,
    kerong_frame,
    open_lock_bank,
)
from tests.hardware.devices import FakeBoard, FakeClock, FixedSize, PtyDevice

# Kerong frames -----------------------------------------------------------------------------


@pytest.mark.parametrize(("address", "command", "wire"), [
    (0x00, 0x31, "02 00 31 03 36"),  # board 0 lock 0 unlock
    (0x01, 0x31, "02 01 31 03 37"),  # board 0 lock 1 unlock
    (0x10, 0x31, "02 10 31 03 46"),  # board 1 lock 0 unlock
    (0x00, 0x30, "02 00 30 03 35"),  # status of board 0
    (0xF0, 0x32, "02 F0 32 03 27"),  # status of all boards
])
def test_kerong_frames_match_the_protocol_examples(address, command, wire):
    assert kerong_frame(address, command) == bytes.fromhex(wire)


def test_lockers_map_to_sixteen_locks_per_board():
    assert [kerong_address(n) for n in (1, 2, 16, 17, 32, 33)] == [
        (0, 0), (0, 1), (0, 15), (1, 0), (1, 15), (2, 0)]


def status_reply(board: int, locks: int, infrared: int = 0) -> bytes:
    body = bytes([0x02, board << 4, 0x35, locks & 0xFF, locks >> 8, infrared & 0xFF,
                  infrared >> 8, 0x03])
    return body + bytes([sum(body) & 0xFF])


def test_a_status_reply_is_found_among_echo_and_noise():
    reply = status_reply(1, 0b101)
    assert find_status_reply(b"\x02\x10\x30\x03\x45" + b"\xff\x02" + reply, 1) == reply
    assert find_status_reply(reply, 0) is None  # another board's reply
    assert find_status_reply(reply[:-1] + bytes([reply[-1] ^ 1]), 1) is None  # bad sum
    assert find_status_reply(reply[:8], 1) is None  # not all there yet


# Kerong boards on a pseudo-terminal --------------------------------------------------------


class PlayedBoards:
    """Kerong boards on one bus: each answers status requests for its address."""

    def __init__(self, boards: int = 1, answer_unlock: bool = False) -> None:
        self.locks = dict.fromkeys(range(boards), 0xFFFF)  # every bit set: all closed
        self.answer_unlock = answer_unlock
        self.silent = False

    def answer(self, request: bytes) -> bytes | None:
        board, index, command = request[1] >> 4, request[1] & 0x0F, request[2]
        if self.silent or board not in self.locks:
            return None
        if command == 0x31:
            self.locks[board] &= ~(1 << index)  # the hook releases: bit clear
            return status_reply(board, self.locks[board]) if self.answer_unlock else None
        if command == 0x30:
            return status_reply(board, self.locks[board])
        return None


@pytest.fixture
def boards(device: PtyDevice):
    played = PlayedBoards(boards=2)
    fake = FakeBoard(device, played.answer, FixedSize(5))
    yield played, fake
    fake.stop()


def test_open_sends_the_unlock_then_checks_the_board_answers(device, boards):
    _, fake = boards
    with KerongLockBank(device.path, 32, reply_timeout=0.3) as bank:
        bank.open(1)
        bank.open(2)
        bank.open(17)
    assert [r.hex(" ") for r in fake.requests] == [
        "02 00 31 03 36", "02 00 30 03 35",
        "02 01 31 03 37", "02 00 30 03 35",
        "02 10 31 03 46", "02 10 30 03 45"]


def test_status_asks_each_board_and_reads_the_lock_bits(device, boards):
    played, fake = boards
    played.locks = {0: 0xFFFF & ~0b1000_0000_0000_0101, 1: 0xFFFE}
    with KerongLockBank(device.path, 20, reply_timeout=0.3) as bank:
        states = bank.status()
    assert [r.hex(" ") for r in fake.requests] == ["02 00 30 03 35", "02 10 30 03 45"]
    assert sorted(states) == list(range(1, 21))  # only the lockers that exist
    opened = [n for n, state in states.items() if state is DoorState.OPEN]
    assert opened == [1, 3, 16, 17]
    assert states[2] is DoorState.CLOSED


@pytest.mark.parametrize(("closed_bit_set", "shut"), [(True, [1, 3]), (False, [2, 4])])
def test_the_bit_polarity_is_an_option(device, boards, closed_bit_set, shut):
    played, _ = boards
    played.locks = {0: 0b0000_0000_0000_0101, 1: 0}
    with KerongLockBank(device.path, 4, closed_bit_set=closed_bit_set,
                        reply_timeout=0.3) as bank:
        states = bank.status()
    assert [n for n, s in states.items() if s is DoorState.CLOSED] == shut


def test_with_unlock_answered_the_reply_is_the_confirmation(device):
    played = PlayedBoards(answer_unlock=True)
    fake = FakeBoard(device, played.answer, FixedSize(5))
    try:
        with KerongLockBank(device.path, 16, unlock_answered=True, reply_timeout=0.3) as bank:
            bank.open(5)
            assert bank.status()[5] is DoorState.OPEN
    finally:
        fake.stop()
    assert [r.hex(" ") for r in fake.requests] == ["02 04 31 03 3a", "02 00 30 03 35"]


def test_a_silent_board_times_out_with_a_sentence(device, boards):
    played, _ = boards
    played.silent = True
    with KerongLockBank(device.path, 16, reply_timeout=0.1) as bank:
        started = time.monotonic()
        with pytest.raises(LockTimeout, match=(
                rf"^Lock board 0 on {device.path} did not answer within 0\.1 s, so locker 7 "
                r"may not have opened \(check its power, RS-485 wiring and address switches\)\.$")):
            bank.open(7)
        assert time.monotonic() - started < 0.3
        with pytest.raises(LockTimeout, match="so door states are unknown"):
            bank.status()


def test_a_missing_board_beyond_the_first_times_out(device, boards):
    with KerongLockBank(device.path, 48, reply_timeout=0.1) as bank, pytest.raises(
            LockTimeout, match="Lock board 2 on"):
        bank.status()


def test_our_own_echo_on_the_bus_is_not_taken_for_a_reply():
    # loop:// echoes every byte written, as some RS-485 adapters do; nothing else answers.
    with KerongLockBank("loop://", 16, reply_timeout=0.05) as bank, pytest.raises(
            LockTimeout, match="Lock board 0 on loop:// did not answer"):
        bank.open(1)


def test_an_unplugged_adapter_is_reopened_when_it_comes_back(short_dir: Path):
    link = short_dir / "ttyRS485"
    first = PtyDevice(link)
    bank = KerongLockBank(str(link), 16, reply_timeout=0.1)
    first.unplug()
    with pytest.raises(LockError, match=f"lock board {link} disconnected"):
        bank.status()
    with pytest.raises(LockError, match=f"^lock board {link} not found\\.$"):
        bank.status()
    second = PtyDevice(link)
    played = PlayedBoards()
    fake = FakeBoard(second, played.answer, FixedSize(5))
    try:
        assert bank.status()[1] is DoorState.CLOSED
    finally:
        fake.stop()
        bank.close()
        first.close()
        second.close()


def test_constructing_a_bank_sends_nothing(device):
    with KerongLockBank(device.path, 16):
        assert device.receive(1, timeout=0.05) == b""


def test_lockers_outside_the_bank_and_closed_banks_are_refused(device):
    bank = KerongLockBank(device.path, 16)
    with pytest.raises(LockError, match="Locker 17 does not exist"):
        bank.open(17)
    bank.close()
    bank.close()
    with pytest.raises(LockError, match="is closed"):
        bank.status()
    assert "closed" in repr(bank)


def test_a_missing_adapter_is_named():
    with pytest.raises(LockError, match=r"^lock board /dev/ttyUSB-none not found\.$"):
        open_lock_bank("kerong:/dev/ttyUSB-none", 16)


# GPIO relays on gpiozero's mock pins -------------------------------------------------------


@pytest.fixture
def pins() -> MockFactory:
    factory = MockFactory()
    yield factory
    factory.reset()


def test_relays_start_released_and_open_pulses_one(pins):
    with GpioLockBank([17, 27], pulse=0.05, pin_factory=pins) as bank:
        relay_1, relay_2 = pins.pin(17), pins.pin(27)
        assert (relay_1.state, relay_2.state) == (1, 1)  # active-low: high is off
        bank.open(2)
        assert (relay_1.state, relay_2.state) == (1, 0)
        deadline = time.monotonic() + 1
        while relay_2.state == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert relay_2.state == 1
        assert bank.status() == {1: DoorState.UNKNOWN, 2: DoorState.UNKNOWN}


def test_door_sensors_give_door_states(pins):
    with GpioLockBank([17, 27], door_pins="5,6", pin_factory=pins) as bank:
        pins.pin(5).drive_low()   # reed switch closed: door shut
        pins.pin(6).drive_high()  # pulled up: door open
        assert bank.status() == {1: DoorState.CLOSED, 2: DoorState.OPEN}


def test_gpio_spec_and_its_mistakes(pins):
    with open_lock_bank("gpio:17,27,22", 3, pin_factory=pins) as bank:
        assert isinstance(bank, GpioLockBank) and bank.lockers == 3
    with pytest.raises(ValueError, match="names 2 relay pins for 3 lockers"):
        open_lock_bank("gpio:17,27", 3, pin_factory=pins)
    with pytest.raises(ValueError, match="door sensor pins"):
        GpioLockBank([17, 27], door_pins=[5], pin_factory=pins)
    with pytest.raises(ValueError):
        open_lock_bank("gpio:17,,22", 3, pin_factory=pins)


def test_a_pin_already_in_use_is_a_lock_error(pins):
    with GpioLockBank([17], pin_factory=pins), pytest.raises(LockError, match="cannot be set up"):
        GpioLockBank([17], pin_factory=pins)


def test_the_mock_factory_is_picked_from_the_environment(monkeypatch):
    from gpiozero import Device

    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    monkeypatch.setattr(Device, "pin_factory", None)
    with open_lock_bank("gpio:17", 1) as bank:
        bank.open(1)
    Device.pin_factory.close()


# Simulated and keyed banks -----------------------------------------------------------------


def test_the_simulated_bank_opens_and_shuts_doors():
    with open_lock_bank("sim", 4) as bank:
        assert set(bank.status().values()) == {DoorState.CLOSED}  # nothing open at power-up
        bank.open(3)
        assert bank.status()[3] is DoorState.OPEN
        bank.shut(3)
        assert bank.status()[3] is DoorState.CLOSED
        with pytest.raises(LockError, match="Locker 5 does not exist"):
            bank.open(5)


def test_simulated_doors_can_close_by_themselves():
    clock = FakeClock()
    bank = SimulatedLockBank(2, auto_close_after=3, clock=clock)
    bank.open(1)
    clock.advance(2.9)
    assert bank.status()[1] is DoorState.OPEN
    clock.advance(0.2)
    assert bank.status()[1] is DoorState.CLOSED


def test_a_jammed_simulated_lock_times_out():
    bank = SimulatedLockBank(2)
    bank.jam(2)
    with pytest.raises(LockTimeout, match="locker 2 did not answer"):
        bank.open(2)
    bank.jam(2, jammed=False)
    bank.open(2)


def test_keyed_lockers_have_nothing_to_open_or_report():
    bank = open_lock_bank("none", 30)
    assert isinstance(bank, NoLockBank)
    bank.open(7)
    assert bank.status() == {}


@pytest.mark.parametrize("spec", ["", "kerong", "kerong:", "sim:x", "none:x", "relay:1", "gpio:"])
def test_unknown_specs_are_configuration_errors(spec):
    with pytest.raises(ValueError, match="is not a lock bank"):
        open_lock_bank(spec, 16)
