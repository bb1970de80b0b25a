"""Reading our PDFs back as a person's tools would: text with pypdf, pages as pictures with
poppler's pdftoppm, QR codes with zxing-cpp."""

from __future__ import annotations

import io
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import zxingcpp
from PIL import Image
from pypdf import PdfReader

MM_PER_INCH = 25.4
PT_PER_MM = 72 / MM_PER_INCH


def reader(data: bytes) -> PdfReader:
    assert data.startswith(b"%PDF-"), data[:40]
    return PdfReader(io.BytesIO(data))


@dataclass(frozen=True)
class Text:
    text: str
    x: float  # pt from the left edge
    y: float  # pt from the bottom edge (PDF coordinates)


def page_texts(data: bytes) -> list[list[Text]]:
    """Every page's text runs with their positions."""
    pages = []
    for page in reader(data).pages:
        found: list[Text] = []

        def visit(text: str, cm: list[float], tm: list[float], _font: object, _size: object,
                  found: list[Text] = found) -> None:
            if text.strip():
                found.append(Text(text.strip(), tm[4] * cm[0] + cm[4], tm[5] * cm[3] + cm[5]))

        page.extract_text(visitor_text=visit)
        pages.append(found)
    return pages


def flat(text: str) -> str:
    """Text as a reader sees it: ligatures (ﬃ) undone, any run of spaces or breaks one space."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def render(pdf: Path, dpi: int, first: int = 1, last: int | None = None) -> list[Image.Image]:
    """Pages as images, as pdftoppm draws them (poppler-utils must be installed)."""
    assert shutil.which("pdftoppm"), "pdftoppm is missing: run scripts/install-system-deps"
    prefix = pdf.with_suffix("")
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", "-f", str(first),
                    "-l", str(last or first), str(pdf), str(prefix)], check=True)
    pages = sorted(pdf.parent.glob(f"{prefix.name}-*.png"))
    images = [Image.open(path).convert("L") for path in pages]
    for path in pages:
        path.unlink()
    return images


@dataclass(frozen=True)
class Qr:
    text: str
    left: float  # mm from the page's left edge, the symbol's outer corner
    top: float  # mm from the page's top edge
    size: float  # mm


def qr_codes(image: Image.Image, dpi: int) -> list[Qr]:
    found = []
    for code in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode):
        p = code.position
        xs = [p.top_left.x, p.top_right.x, p.bottom_left.x, p.bottom_right.x]
        ys = [p.top_left.y, p.top_right.y, p.bottom_left.y, p.bottom_right.y]
        scale = MM_PER_INCH / dpi
        # zxing reports the centres of the outer modules' edges; +1 px covers the last pixel.
        found.append(Qr(code.text, min(xs) * scale, min(ys) * scale,
                        (max(xs) - min(xs) + 1) * scale))
    return found
