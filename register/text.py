"""What people and devices type, made safe to store and to show.

- Free text (names, reasons, conditions, makes and models, bank names): a NUL is refused with a
  sentence (it is never meant, and PostgreSQL cannot store it); other control characters and
  the invisible bidi overrides, embeddings and isolates (U+202A-202E, U+2066-2069, which can
  make a name read backwards on every page that shows it) are removed. Tabs and line breaks
  stay (callers fold them where a line is wanted); so do letters of every script, accents and
  emoji.
- Codes (labels, badges, IMEIs): NFKC, so fullwidth and superscript digits become 0-9, and
  digits of any script become 0-9 too (a phone set to Arabic shows its IMEI in Arabic-Indic
  digits); whatever is then not ASCII is refused by the caller, so two spellings of one code
  are one code.
- Whole numbers from forms and URLs: ASCII digits only (``"²".isdigit()`` is true, and
  ``int("²")`` fails) and no larger than the database's integers.
"""

from __future__ import annotations

import unicodedata

from register.errors import ValidationError

# The largest id any table holds (PostgreSQL's integer; SQLite's is larger): a larger number
# names nothing, and would overflow the driver if it were sent as a parameter.
MAX_ID = 2**31 - 1

_BIDI_CONTROLS = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_CONTROLS = [c for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) not in "\t\n\r"]
_SURROGATES = range(0xD800, 0xE000)  # lone halves from a JSON "\ud800": not text at all
_REMOVED = dict.fromkeys((*_CONTROLS, *_BIDI_CONTROLS, *_SURROGATES))


def clean_text(text: str, what: str = "This text") -> str:
    """``text`` without control characters or bidi overrides; a NUL is refused, naming
    ``what`` ("The name") in the sentence."""
    if "\x00" in text:
        raise ValidationError(f"{what} contains a NUL character, which is never part of "
                              "text: type it again rather than pasting it.")
    return text.translate(_REMOVED)


def ascii_form(code: str) -> str:
    """A code in its one form: NFKC, then any decimal digit as 0-9. It may still hold
    characters outside ASCII, which no label, badge or IMEI has: callers refuse those."""
    folded = unicodedata.normalize("NFKC", code)
    if folded.isascii():
        return folded
    return "".join(str(unicodedata.decimal(c)) if not c.isascii() and c.isdecimal() else c
                   for c in folded)


def whole_number(text: str, largest: int = MAX_ID) -> int | None:
    """``text`` as a whole number from 0 to ``largest``, if it is one in ASCII digits."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(largest)):
        return None
    number = int(text)
    return number if number <= largest else None


# Letters that carry their difference in the letter itself, not in a combining mark, so NFKD
# leaves them whole: "Łukasz" is looked for as "lukasz", as people type it.
_SEARCH_LETTERS = str.maketrans({
    "ł": "l", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ß": "ss",
    "ħ": "h", "ŀ": "l", "\u0131": "i",  # the dotless i of Turkish
})


def search_form(text: str) -> str:
    """``text`` as searched for: case, accents and spacing folded away ("Zoë" and "ZOE" are
    "zoe", "Łukasz Żółć" is "lukasz zolc"), identical on SQLite and PostgreSQL because it is
    computed here and stored (people.search_name), not by the database's lower()."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.translate(_SEARCH_LETTERS).split())
