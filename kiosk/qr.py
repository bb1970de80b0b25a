"""QR codes for labels and the printed register, drawn by us from the ``qrcode`` package's
module matrix: inline SVG for HTML pages, squares for PDFs. Nothing is fetched from anywhere.

A label code ("PH7K3M9Q") fits a version 1 symbol (21 x 21 modules) even at the highest error
correction, which lets a scuffed label still scan.
"""

from __future__ import annotations

from functools import lru_cache

import qrcode
from markupsafe import Markup, escape


@lru_cache(maxsize=8192)
def matrix(code: str) -> tuple[tuple[bool, ...], ...]:
    """The symbol's dark modules, row by row, without a quiet zone (the layout leaves one)."""
    symbol = qrcode.QRCode(border=0, error_correction=qrcode.constants.ERROR_CORRECT_H)
    symbol.add_data(code)
    symbol.make(fit=True)
    return tuple(tuple(row) for row in symbol.get_matrix())


def runs(code: str) -> list[tuple[int, int, int]]:
    """Dark modules merged into horizontal runs: (row, first column, length)."""
    found = []
    for y, row in enumerate(matrix(code)):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                found.append((y, start, x - start))
            else:
                x += 1
    return found


@lru_cache(maxsize=8192)
def svg(code: str, size: str = "100%") -> Markup:
    """An inline SVG of the QR code; ``size`` is a CSS length such as "13mm"."""
    count = len(matrix(code))
    path = "".join(f"M{x} {y}h{length}v1h-{length}z" for y, x, length in runs(code))
    return Markup(
        f'<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {count} {count}" '
        f'width="{size}" height="{size}" shape-rendering="crispEdges" role="img" '
        f'aria-label="QR code {escape(code)}"><path fill="#000" d="{path}"/></svg>'
    )
