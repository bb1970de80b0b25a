"""Badge ids: the one place where a card number becomes the string the register stores.

USB keyboard-mode 125 kHz readers, the cheapest way to enrol badges at a desk, type the last
four bytes of the EM4100 id as a zero-padded ten-digit decimal. Every RFID driver returns that
same form, so a badge enrolled at the office matches the same card tapped on a kiosk's RDM6300.
"""

from __future__ import annotations

import string

_HEX_DIGITS = frozenset(string.hexdigits)


def keyboard_id(card_hex: str) -> str:
    """The ten digits a keyboard-mode reader types for an EM4100 card.

    ``card_hex`` is the 5-byte id as read off the air (version byte first), or just its 4-byte
    tail: ``keyboard_id("67003B51C6") == "0003887558"``.
    """
    digits = card_hex.strip()
    if len(digits) not in (8, 10) or not _HEX_DIGITS.issuperset(digits):
        raise ValueError(f"{card_hex!r} is not an EM4100 card id (8 or 10 hex digits).")
    return f"{int(digits[-8:], 16):010d}"


def card_hex_for(badge: str, version: int = 0) -> str:
    """A 5-byte EM4100 id (10 hex digits) whose keyboard id is ``badge``.

    The version byte never reaches the keyboard id, so any value gives the same badge; it is
    a parameter only so tests and demos can mimic real cards.
    """
    if not (badge.isascii() and badge.isdigit()) or len(badge) != 10:
        raise ValueError(f"{badge!r} is not a badge id (ten digits).")
    number = int(badge)
    if number > 0xFFFF_FFFF:
        raise ValueError(f"{badge} is too large for a 4-byte card number.")
    if not 0 <= version <= 0xFF:
        raise ValueError(f"version {version} does not fit in one byte.")
    return f"{version:02X}{number:08X}"
