import threading

import pytest

from hardware.simulated import ReaderClosed, SimulatedScanner


def test_codes_come_out_in_order_without_their_suffix():
    with SimulatedScanner() as scanner:
        scanner.scan("0003887558\r\n")
        scanner.scan("PH7K3M9Q")
        assert [scanner.read(0), scanner.read(0), scanner.read(0)] == [
            "0003887558", "PH7K3M9Q", None]


def test_close_wakes_a_blocked_reader_and_is_idempotent():
    scanner = SimulatedScanner("front door")
    errors: list[Exception] = []

    def reader() -> None:
        try:
            scanner.read(timeout=10)
        except ReaderClosed as error:
            errors.append(error)

    thread = threading.Thread(target=reader)
    thread.start()
    scanner.close()
    scanner.close()
    thread.join(5)
    assert len(errors) == 1 and "front door is closed" in str(errors[0])
    assert "closed" in repr(scanner)
    with pytest.raises(ReaderClosed):
        scanner.scan("x")
