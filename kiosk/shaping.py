"""Right-to-left names (Arabic, Persian, Urdu, Hebrew) as a PDF must draw them.

ReportLab draws characters one after another, left to right, as given: "محمد الأحمد" came out
as separate, unjoined letters in reverse order. Here Arabic letters take their joined forms
(``arabic-reshaper``: the Unicode presentation forms, which DejaVu Sans draws) and each line is
put in display order by the Unicode Bidirectional Algorithm (``python-bidi``, which wraps the
Rust ``unicode-bidi`` crate), in a left-to-right paragraph: the pages are in English, so
"محمد الأحمد (left)" reads as the name followed by "(left)".

python-bidi's Rust path reorders but does not mirror brackets (rule L4), so it is asked only
for the embedding levels, and the reordering (L2) and mirroring (L4) are done here.

ReportLab's own right-to-left support was the first choice, but it needs ``rlbidi``, which is
not on PyPI, besides ``uharfbuzz``; without ``rlbidi`` its canvas draws the text unshaped.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import arabic_reshaper
from bidi import get_display
from bidi.mirror import MIRRORED

# Hebrew, Arabic, Syriac, Thaana, N'Ko, Samaritan, Mandaic and the presentation forms.
RIGHT_TO_LEFT = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
_LEVEL = re.compile(r"Level\(\s*(\d+),?\s*\)")


def is_presentation_form(char: str) -> bool:
    """A joined form of an Arabic letter (or a Hebrew one with a point): drawn, never typed."""
    return "\ufb1d" <= char <= "\ufdff" or "\ufe70" <= char <= "\ufefc"


def typed_form(char: str) -> str:
    """The letters a person typed for a presentation form: "ﻷ" → "لأ"."""
    return unicodedata.normalize("NFKC", char) if is_presentation_form(char) else char


@lru_cache(maxsize=4096)
def visual(text: str) -> str:
    """``text`` (one line, in the order it was typed) in the order it is drawn, left to right,
    with Arabic letters joined. Text without a right-to-left letter comes back as it was."""
    if not RIGHT_TO_LEFT.search(text):
        return text
    shaped = arabic_reshaper.reshape(text)
    levels = _levels(shaped)
    if levels is None:  # python-bidi's report changed shape: its own order, unmirrored
        return str(get_display(shaped, base_dir="L"))
    chars = [MIRRORED.get(char, char) if level % 2 else char
             for char, level in zip(shaped, levels, strict=True)]
    return "".join(chars[index] for index in _display_order(levels))


def _levels(text: str) -> list[int] | None:
    """Each character's embedding level in a left-to-right paragraph (rules up to L1)."""
    report = str(get_display(text, base_dir="L", debug=True))
    if "levels:" not in report:
        return None
    per_byte = [int(found) for found in
                _LEVEL.findall(report.split("levels:", 1)[1].split("]", 1)[0])]
    levels, offset = [], 0
    for char in text:  # the crate counts UTF-8 bytes
        if offset >= len(per_byte):
            return None
        levels.append(per_byte[offset])
        offset += len(char.encode())
    return levels if offset == len(per_byte) else None


def _display_order(levels: list[int]) -> list[int]:
    """Rule L2: from the highest level down to the lowest odd one, reverse every run of
    characters at that level or higher."""
    order = list(range(len(levels)))
    odd = [level for level in levels if level % 2]
    if not odd:
        return order
    for level in range(max(levels), min(odd) - 1, -1):
        index = 0
        while index < len(order):
            if levels[order[index]] < level:
                index += 1
                continue
            end = index
            while end < len(order) and levels[order[end]] >= level:
                end += 1
            order[index:end] = order[index:end][::-1]
            index = end
    return order
