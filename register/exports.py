"""CSV for the school's own systems: one writer behind every CSV the product hands out."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

# A cell starting with one of these is read as a formula (or the start of one) by Excel,
# LibreOffice or Google Sheets; tab, CR and LF are included because spreadsheets strip them
# before looking at the next character.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
BOM = "\ufeff"  # tells Excel the file is UTF-8, so Siobhán and 王秀英 survive


def neutralise(value: object) -> str:
    """A cell's text, with a leading ``'`` if a spreadsheet would otherwise run it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """UTF-8 CSV text with a byte-order mark, RFC 4180 quoting and CRLF line ends.

    Every cell, header included, goes through ``neutralise``: names and models come from
    people and imports, so any of them could be a formula in disguise.
    """
    out = io.StringIO()
    writer = csv.writer(out, dialect="excel", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([neutralise(cell) for cell in header])
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return BOM + out.getvalue()
