"""QR codes for labels and the printed register, drawn by us from the ``qrcode`` package's
module matrix: inline SVG for HTML pages, squares for PDFs. Nothing is fetched from anywhere.

A label code ("PH7K3M9Q") fits a version 1 symbol (21 x 21 modules) even at the highest error
correction, which lets a scuffed label still scan.

Making a symbol is slow in pure Python (``qrcode`` tries all eight masks: milliseconds each,
seconds for a register of 2,500 phones), and a label code's symbol never changes. So each is
made once: ``prepare`` reads a page's QR codes from a ``QrStore`` on disk in one query, makes
only the ones it has never seen and writes those in a few transactions. The store is a small
SQLite file that every worker of every process shares and that outlives restarts.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from markupsafe import Markup, escape

log = logging.getLogger(__name__)

_DARK = re.compile("1+")
_STROKE = re.compile(r"([Mm])(-?\d+) (-?\d+)(?:\.5)?h(\d+)")


class Drawn(NamedTuple):
    """One label code's QR code, ready to draw."""

    side: int  # modules per side
    path: str  # the dark modules as SVG path data (see ``path_data``): the page draws it as
    # it is, the PDF reads its runs back (``runs``); compact, and all there is to keep


# Codes made are written in batches: the first print after an upgrade makes them all (seconds
# here, most of a minute on a Pi), and a worker killed by its timeout keeps what it made.
SAVE_EVERY = 250
_loaded: dict[str, Drawn] = {}  # the last ``prepare``'s: one page's codes, replaced by the next


def make(code: str) -> Drawn:
    """The slow part, done once per code when there is a store (see ``prepare``)."""
    import qrcode  # only where a code is new

    encoder = qrcode.QRCode(border=0, error_correction=qrcode.constants.ERROR_CORRECT_H)
    encoder.add_data(code)
    encoder.make(fit=True)
    symbol = "\n".join("".join("1" if dark else "0" for dark in row)
                       for row in encoder.get_matrix())
    return Drawn(symbol.count("\n") + 1, path_data(symbol_runs(symbol)))


class QrStore:
    """QR codes on disk, one row per label code: made once, read by every worker.

    SQLite in WAL mode lets workers read while one writes, and it writes only when a code is
    new (a page of newly registered phones is one transaction), which suits a Pi's SD card.
    ``synchronous=NORMAL``: a power cut may lose the last codes written, which are then made
    again; nothing else depends on them. If the file cannot be used, codes are made as they
    always were and the page still prints.
    """

    TABLE = "qr_codes_v2"  # a new name whenever what is stored changes
    CHUNK = 500  # codes per query: well under SQLite's limit on bound parameters

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=15, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA cache_size=-256")  # KiB: rows are read once per page
        connection.execute(f"CREATE TABLE IF NOT EXISTS {self.TABLE} (code TEXT PRIMARY KEY, "
                           "side INTEGER NOT NULL, path TEXT NOT NULL) WITHOUT ROWID")
        return connection

    def load(self, codes: list[str]) -> dict[str, Drawn]:
        found: dict[str, Drawn] = {}
        connection = self._connect()
        try:
            for start in range(0, len(codes), self.CHUNK):
                chunk = codes[start:start + self.CHUNK]
                found.update((code, Drawn(side, path)) for code, side, path in
                             connection.execute(
                                 f"SELECT code, side, path FROM {self.TABLE} WHERE code "
                                 f"IN ({','.join('?' * len(chunk))})", chunk))
        finally:
            connection.close()
        return found

    def save(self, drawn: dict[str, Drawn]) -> None:
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(f"INSERT OR IGNORE INTO {self.TABLE} VALUES (?, ?, ?)",
                                   ((code, *qr) for code, qr in drawn.items()))
            connection.execute("COMMIT")
        finally:
            connection.close()


def prepare(codes: Iterable[str], store: QrStore | None) -> int:
    """Have the QR codes of a page's ``codes`` at hand: read from ``store``, the missing ones
    made and stored. Returns how many were made."""
    global _loaded
    wanted = [code for code in dict.fromkeys(codes) if code]
    found: dict[str, Drawn] = {}
    if store is not None and wanted:
        try:
            found = store.load(wanted)
        except (sqlite3.Error, OSError) as error:
            log.warning("QR store %s unreadable (%s): making QR codes afresh", store.path, error)
            store = None
    missing = [code for code in wanted if code not in found]
    made: dict[str, Drawn] = {}
    for start in range(0, len(missing), SAVE_EVERY):
        batch = {code: make(code) for code in missing[start:start + SAVE_EVERY]}
        made |= batch
        if store is not None:
            try:
                store.save(batch)
            except (sqlite3.Error, OSError) as error:
                log.warning("QR store %s not written (%s)", store.path, error)
                store = None
    _loaded = found | made
    return len(made)


@lru_cache(maxsize=256)
def drawn(code: str) -> Drawn:
    """``code``'s QR code: as ``prepare`` loaded it, else made here (and not stored)."""
    return _loaded.get(code) or make(code)


matrix = drawn  # the name bench/pdf.py clears between runs


def side(code: str) -> int:
    """Modules per side."""
    return drawn(code).side


def runs(code: str) -> list[tuple[int, int, int]]:
    """Dark modules merged into horizontal runs: (row, first column, length)."""
    found = []
    x = y = 0
    for move, dx, dy, length in _STROKE.findall(drawn(code).path):
        x, y = (int(dx), int(dy)) if move == "M" else (x + int(dx), y + int(dy))
        found.append((y, x, int(length)))
        x += int(length)
    return found


def symbol_runs(symbol: str) -> list[tuple[int, int, int]]:
    """A symbol's rows of "1" (dark) and "0" as runs: (row, first column, length)."""
    width = symbol.find("\n") + 1 or len(symbol) + 1
    return [(*divmod(found.start(), width), found.end() - found.start())
            for found in _DARK.finditer(symbol)]


def path_data(runs: list[tuple[int, int, int]]) -> str:
    """The runs as one SVG path of 1-unit-wide strokes, relative moves between them: half the
    size of a rectangle per run, and the same modules on screen and paper."""
    parts: list[str] = []
    x = y = 0
    for row, column, length in runs:
        parts.append(f"M{column} {row}.5h{length}" if not parts else
                     f"m{column - x} {row - y}h{length}")
        x, y = column + length, row
    return "".join(parts)


@lru_cache(maxsize=256)
def svg(code: str, size: str = "100%") -> Markup:
    """An inline SVG of the QR code; ``size`` is a CSS length such as "13mm"."""
    qr = drawn(code)
    return Markup(
        f'<svg class="qr" viewBox="0 0 {qr.side} {qr.side}" width="{size}" height="{size}" '
        f'shape-rendering="crispEdges" role="img" aria-label="QR code {escape(code)}">'
        f'<path stroke="#000" d="{qr.path}"/></svg>'
    )
