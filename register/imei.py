"""IMEI rules (3GPP TS 23.003 Annex B): 14 digits of TAC + serial, then a Luhn check digit.

Input is forgiving (spaces, dashes, slashes and an "IMEI" prefix are ignored; fullwidth,
superscript and Arabic-Indic digits are read as 0-9) and strict (anything but digits, a wrong
check digit or a 16-digit IMEISV is refused with a message that says exactly why). An IMEI is
kept in ASCII digits only, so one phone cannot be registered twice under two spellings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from register.errors import InvalidImei
from register.text import ascii_form, clean_text

_SEPARATORS = re.compile(r"[\s\-/.]+")


def luhn_check_digit(body: str) -> int:
    """The digit that makes ``body + digit`` pass the Luhn check."""
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:  # doubled: these sit at odd positions once the check digit follows
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


@dataclass(frozen=True)
class ParsedImei:
    imei: str
    completed: bool  # True when we computed the check digit for a 14-digit entry

    @property
    def check_digit(self) -> str:
        return self.imei[-1]


def parse_imei(text: str) -> ParsedImei:
    """Clean and check an IMEI typed or scanned by a person."""
    cleaned = _SEPARATORS.sub("", ascii_form(text or ""))
    if cleaned.upper().startswith("IMEI"):
        cleaned = cleaned[4:].lstrip(":")
    if not cleaned:
        raise InvalidImei("Enter the phone's IMEI: dial *#06# to show it.")
    if not (cleaned.isascii() and cleaned.isdigit()):
        shown = clean_text(text.replace("\x00", "")).strip()[:40]
        raise InvalidImei(f"An IMEI has only digits; “{shown}” contains other characters.")
    length = len(cleaned)
    if length == 14:
        return ParsedImei(cleaned + str(luhn_check_digit(cleaned)), completed=True)
    if length == 16:
        raise InvalidImei(
            "That is a 16-digit IMEISV (it includes the software version), not an IMEI. "
            "Enter the 15-digit IMEI shown by *#06#."
        )
    if length != 15:
        raise InvalidImei(f"An IMEI has 15 digits; this has {length}.")
    expected = luhn_check_digit(cleaned[:14])
    if int(cleaned[14]) != expected:
        raise InvalidImei(
            f"The last digit of {cleaned} should be {expected}, not {cleaned[14]}: "
            "check for a mistyped digit against *#06#."
        )
    return ParsedImei(cleaned, completed=False)


def looks_like_imei(code: str) -> bool:
    """A scanned code that a person most likely meant as an IMEI (digits, 14 to 16 long)."""
    cleaned = _SEPARATORS.sub("", ascii_form(code))
    return cleaned.isascii() and cleaned.isdigit() and 14 <= len(cleaned) <= 16


def format_imei(imei: str) -> str:
    """Group as printed on phone boxes: TAC, serial, check digit (35 417803 685978 9 style)."""
    return f"{imei[:2]} {imei[2:8]} {imei[8:14]} {imei[14:]}"
