"""Badge id normalisation: the one form every RFID driver returns."""

import pytest

from hardware.badges import card_hex_for, keyboard_id
from hardware.rdm6300 import Rdm6300Parser
from hardware.simulated import badge_frame_for


def test_keyboard_id_is_the_ten_digit_decimal_of_the_last_four_bytes():
    assert keyboard_id("67003B51C6") == "0003887558"
    assert keyboard_id("003b51c6") == "0003887558"  # the 4-byte tail alone, any case
    assert keyboard_id("FFFFFFFFFF") == "4294967295"
    assert keyboard_id("0000000000") == "0000000000"


@pytest.mark.parametrize("bad", ["", "67003B51C", "67003B51C6CB", "67003B51CG", "6700 3B51C6"])
def test_keyboard_id_rejects_anything_but_an_em4100_id(bad):
    with pytest.raises(ValueError, match="not an EM4100 card id"):
        keyboard_id(bad)


def test_card_hex_for_inverts_keyboard_id_whatever_the_version_byte():
    assert card_hex_for("0003887558", version=0x67) == "67003B51C6"
    for version in (0x00, 0x12, 0xFF):
        assert keyboard_id(card_hex_for("0003887558", version)) == "0003887558"


@pytest.mark.parametrize(
    "bad", ["3887558", "00038875580", "000388755x", "4294967296", "٣٣٣٣٣٣٣٣٣٣"])
def test_card_hex_for_rejects_what_no_card_can_type(bad):
    with pytest.raises(ValueError):
        card_hex_for(bad)


def test_badge_frame_for_builds_the_protocol_example_and_parses_back():
    assert badge_frame_for("0003887558", version=0x67) == bytes.fromhex(
        "02 36 37 30 30 33 42 35 31 43 36 43 42 03")
    card = Rdm6300Parser().feed(badge_frame_for("4294967295"))
    assert [keyboard_id(c) for c in card] == ["4294967295"]
