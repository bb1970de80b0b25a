"""PDFs drawn with ReportLab: the register (matching its printed page) and label sheets at
exact millimetre positions. Plain Python: no Flask, no database; callers pass the rows.

Fonts: DejaVu Sans from Debian (``fonts-dejavu-core``, on every Raspberry Pi OS image), else
the Vera fonts ReportLab ships; characters neither has, such as 王秀英, are drawn from Droid
Sans Fallback (``fonts-droid-fallback``) when it is installed. Fonts are embedded as subsets.
Right-to-left names are joined and ordered by ``kiosk.shaping`` as they are drawn.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import lru_cache
from pathlib import Path

import reportlab
from reportlab import rl_config
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfdoc, pdfmetrics, ttfonts
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from kiosk import qr
from kiosk.shaping import is_presentation_form, typed_form, visual
from register.labels import LabelStock, PlacedLabel
from register.printing import MARKING, RegisterGroup, RegisterRow
from register.subject_access import AuditRecord, RequestRecord, SubjectAccess

A4_WIDTH, A4_HEIGHT = 210 * mm, 297 * mm
GREY, LINE, INK = (0.91, 0.93, 0.95), (0.72, 0.76, 0.80), (0.04, 0.10, 0.17)
MUTED = (0.29, 0.35, 0.41)

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
FALLBACK = Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")
VERA = Path(reportlab.__file__).parent / "fonts"

# Page streams zlib-compressed only, not also ASCII85-encoded (ReportLab's default, for 7-bit
# mail): a quarter smaller, and ReportLab's encoder, without its optional C accelerator, took
# a third of the register's time. This module is the process's only ReportLab user.
rl_config.useA85 = 0


@dataclass(frozen=True)
class Fonts:
    sans: str
    bold: str
    mono: str
    fallback: str | None


@lru_cache(maxsize=1)
def fonts() -> Fonts:
    """Register the fonts once per process."""
    if (DEJAVU / "DejaVuSans.ttf").exists():
        files = {"Sans": DEJAVU / "DejaVuSans.ttf", "Sans-Bold": DEJAVU / "DejaVuSans-Bold.ttf",
                 "Mono": DEJAVU / "DejaVuSansMono.ttf"}
    else:
        files = {"Sans": VERA / "Vera.ttf", "Sans-Bold": VERA / "VeraBd.ttf",
                 "Mono": VERA / "VeraMono.ttf"} if (VERA / "VeraMono.ttf").exists() else {
                 "Sans": VERA / "Vera.ttf", "Sans-Bold": VERA / "VeraBd.ttf"}
    for name, path in files.items():
        pdfmetrics.registerFont(TTFont(name, str(path)))
    _read_back_as_typed()
    return Fonts("Sans", "Sans-Bold", "Mono" if "Mono" in files else "Courier",
                 "Fallback" if FALLBACK.exists() else None)


def _read_back_as_typed() -> None:
    """Copying a name out of the PDF (or searching it, or pdftotext) gives the letters typed:
    a joined Arabic form drawn from the font reads back as its letter ("ﻣ" as "م", "ﻷ" as "لأ").
    ReportLab maps each subset code to the character drawn, through its module-level
    ``makeToUnicodeCMap``; this wraps it once. If ReportLab moves it, the PDFs stay right and
    only read back in presentation forms (tests/test_rtl_pdf.py would say so)."""
    original = getattr(ttfonts, "makeToUnicodeCMap", None)
    if original is None or getattr(original, "reads_back_as_typed", False):
        return

    def cmap(fontname: str, subset: list[int]) -> str:
        text = original(fontname, subset)
        for code, value in enumerate(subset):
            if is_presentation_form(chr(value)):
                # A ligature's letters (lam-alef) in drawn order, right to left: readers
                # reverse right-to-left text, and would read "ﻷ" as "أل" otherwise.
                typed = typed_form(chr(value))[::-1].encode("utf-16-be").hex().upper()
                text = text.replace(f"<{code:02X}> <{value:04X}>", f"<{code:02X}> <{typed}>")
        return text

    cmap.reads_back_as_typed = True  # type: ignore[attr-defined]
    ttfonts.makeToUnicodeCMap = cmap


@lru_cache(maxsize=1)
def _load_fallback() -> None:
    """The fallback's glyph tables take 19 MB of a worker's memory: loaded on the first
    character that needs them, not with the other fonts."""
    pdfmetrics.registerFont(TTFont("Fallback", str(FALLBACK)))


@lru_cache(maxsize=8)
def _glyphs(font: str) -> AbstractSet[int]:
    """The characters ``font`` draws: a view of its own table, not a copy of it."""
    face = getattr(pdfmetrics.getFont(font), "face", None)
    return face.charToGlyph.keys() if face is not None else frozenset(range(256))


def _runs(text: str, font: str) -> Iterator[tuple[str, str]]:
    """``text`` cut into (font, text) runs: characters ``font`` lacks go to the fallback."""
    if not text:
        return
    fallback = fonts().fallback
    have = _glyphs(font)
    if fallback is None or have >= set(map(ord, text)):
        yield font, text  # nearly always: every character is in the font
        return
    _load_fallback()
    current, start = font, 0
    for index, char in enumerate(text):
        wanted = font if fallback is None or ord(char) in have or char.isspace() else fallback
        if wanted != current and index > start:
            yield current, text[start:index]
            start = index
        current = wanted
    if start < len(text):
        yield current, text[start:]


def _drawable(text: str, font: str) -> str:
    """``text`` as drawn: right-to-left runs joined and in display order; a joined form the
    font lacks drawn as its letter (DejaVu Sans has every one but Urdu's final "ے", and has
    no "ے" at all: that one letter stays blank, README's known limits)."""
    text = visual(text)
    if text.isascii():
        return text
    have = _glyphs(font)
    return "".join(typed_form(char) if is_presentation_form(char) and ord(char) not in have
                   else char for char in text)


def text_width(text: str, font: str, size: float) -> float:
    text = _drawable(text, font)
    return sum(pdfmetrics.stringWidth(part, name, size) for name, part in _runs(text, font))


def draw_text(canvas: Canvas, x: float, y: float, text: str, font: str, size: float,
              align: str = "left") -> None:
    """Text on the baseline at ``y``, switching to the fallback font where it must. ``text``
    is in the order it was typed; right-to-left names are joined and ordered here."""
    text = _drawable(text, font)
    if align != "left":
        width = sum(pdfmetrics.stringWidth(part, name, size) for name, part in _runs(text, font))
        x -= width if align == "right" else width / 2
    for name, part in _runs(text, font):
        canvas.setFont(name, size)
        canvas.drawString(x, y, part)
        x += pdfmetrics.stringWidth(part, name, size)


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Lines of at most ``width``: by words, and inside a word only when it must."""
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and text_width(candidate, font, size) <= width:
            lines[-1] = candidate
            continue
        while text_width(word, font, size) > width and len(word) > 1:
            cut = len(word) - 1
            while cut > 1 and text_width(word[:cut], font, size) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        lines.append(word)
    return lines or [""]


def draw_qr(canvas: Canvas, code: str, x: float, top: float, size: float) -> None:
    """The QR code for ``code`` as filled squares, its top-left corner at (x, top).

    Drawn in module units under one scaling: whole numbers in the page stream, a third of
    the bytes (and of ReportLab's number formatting, most of the register's time) that
    millimetre coordinates for every run took, and the same squares on paper."""
    side = qr.side(code)
    module = size / side
    canvas.saveState()
    canvas.transform(module, 0, 0, module, x, top - size)
    canvas.setFillColorRGB(0, 0, 0)
    canvas.addLiteral(" ".join(f"{column} {side - row - 1} {length} 1 re"
                               for row, column, length in qr.runs(code)) + " f")
    canvas.restoreState()


# --- the register --------------------------------------------------------------------------

@dataclass(frozen=True)
class Stamp:
    """Who printed what, when: on every page."""

    school: str
    title: str
    subtitle: str
    printed_by: str
    printed_at: datetime
    zone: tzinfo

    def local(self, value: datetime, fmt: str) -> str:
        return value.astimezone(self.zone).strftime(fmt)

    @property
    def printed_line(self) -> str:
        return f"Printed {self.local(self.printed_at, '%a %d %b %Y, %H:%M')} by {self.printed_by}"


@dataclass(frozen=True)
class Column:
    title: str
    width: float  # mm


# The printed page (templates/print/register.html) uses the same columns and widths.
COLUMNS = (Column("Name", 37), Column("Category", 19), Column("Make and model", 29),
           Column("IMEI(s)", 32), Column("Verified", 27), Column("Registered", 24),
           Column("QR", 18))
MARGIN_X, TABLE_TOP, TABLE_BOTTOM = 12 * mm, 36 * mm, 283 * mm  # from the page's top edge
BODY, LEADING, PAD = 8.5, 10.5, 1.6 * mm
QR_SIZE = 12 * mm
HEADING_HEIGHT = 6.5 * mm


@dataclass(frozen=True)
class _Cells:
    lines: list[list[tuple[str, str]]]  # per column: (font, text) lines
    height: float


def _cells(row: RegisterRow, stamp: Stamp) -> _Cells:
    """Each column's lines, wrapped to its width as the browser wraps the printed page."""
    f = fonts()
    name = row.name + ("" if row.active else " (left)")
    if row.device_id is None:
        texts: list[list[tuple[str, str]]] = [[(f.sans, name)], [(f.sans, row.category_label)],
                                              [(f.sans, "No phone registered")], [], [], [], []]
    else:
        verified = ([(f.sans, "✓ " + stamp.local(row.verified_at, "%d %b %Y")),
                     (f.sans, f"by {row.verified_by}")] if row.verified_at else
                    [(f.bold, "Not yet")])
        registered = stamp.local(row.registered_at, "%d %b %Y") if row.registered_at else ""
        texts = [[(f.sans, name)], [(f.sans, row.category_label)],
                 [(f.sans, row.make_and_model)], [(f.mono, imei) for imei in row.imeis],
                 verified, [(f.sans, registered)], []]
    wrapped = [[(font, line) for font, text in lines
                for line in wrap(text, font, BODY, _inner(index))]
               for index, lines in enumerate(texts)]
    text_height = max(len(lines) for lines in wrapped) * LEADING + 2 * PAD
    height = max(text_height, QR_SIZE + 2 * PAD) if row.device_id else text_height
    return _Cells(wrapped, height)


def _inner(column: int) -> float:
    return COLUMNS[column].width * mm - 2 * PAD


def _column_x(column: int) -> float:
    return MARGIN_X + sum(c.width for c in COLUMNS[:column]) * mm


@dataclass
class _Page:
    items: list[tuple[str, object]]  # ("heading", text) or ("row", RegisterRow)


def paginate(groups: list[RegisterGroup], stamp: Stamp) -> list[_Page]:
    """Rows onto pages: a row never splits, a heading never ends a page, and a group that
    runs on to a new page says so. Rows are wrapped again as each page is drawn: a tenth
    of a second for 2,500 rows, rather than every row's lines held until the last page."""
    pages = [_Page([])]
    room = TABLE_BOTTOM - TABLE_TOP
    for group in groups:
        first = True
        for row in group.rows:
            cells = _cells(row, stamp)
            needed = cells.height + (HEADING_HEIGHT if first or not pages[-1].items else 0)
            if needed > room and pages[-1].items:
                pages.append(_Page([]))
                room = TABLE_BOTTOM - TABLE_TOP
            if first or not pages[-1].items:
                heading = f"{group.label} · {len(group.rows)}" + ("" if first else " (continued)")
                pages[-1].items.append(("heading", heading))
                room -= HEADING_HEIGHT
                first = False
            pages[-1].items.append(("row", row))
            room -= cells.height
    return pages


def _a4_canvas(buffer: io.BytesIO, stamp: Stamp) -> Canvas:
    """An A4 page canvas, compressed, titled and signed as the school's."""
    canvas = Canvas(buffer, pagesize=(A4_WIDTH, A4_HEIGHT), pageCompression=1,
                    initialFontName=fonts().sans)
    canvas.setTitle(stamp.title)
    canvas.setAuthor(stamp.school)
    canvas.setCreator("Phone register")
    return canvas


def register_pdf(groups: list[RegisterGroup], stamp: Stamp) -> bytes:
    """The printed register as a PDF: A4 portrait, same header, columns and order."""
    buffer = io.BytesIO()
    canvas = _a4_canvas(buffer, stamp)
    canvas.setPageCallBack(lambda _number: _compress_last_page(canvas))
    pages = paginate(groups, stamp)
    total = sum(len(g.rows) for g in groups)
    for number, page in enumerate(pages, start=1):
        _page_frame(canvas, stamp, number, len(pages), total)
        y = A4_HEIGHT - TABLE_TOP
        if not page.items:
            draw_text(canvas, MARGIN_X + PAD, y - 6 * mm, "Nobody on the register matches "
                      "this choice.", fonts().sans, 10)
        for kind, item in page.items:
            if kind == "heading":
                y = _draw_heading(canvas, str(item), y)
            else:
                row = item
                assert isinstance(row, RegisterRow)
                y = _draw_row(canvas, row, _cells(row, stamp), y)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _compress_last_page(canvas: Canvas) -> None:
    """Compress a finished page's drawing now, as ReportLab would when saving: the stream
    and its filter are the same, but a big register's pages no longer wait uncompressed (5 MB
    for 2,500 rows) for the last one. Reaches into ReportLab's document; if that has changed,
    the page is left for ReportLab to compress as usual."""
    pages = getattr(getattr(getattr(canvas, "_doc", None), "Pages", None), "pages", None)
    page = pages[-1] if pages else None
    if page is None or page.Contents or not isinstance(getattr(page, "stream", None), str):
        return
    stream = pdfdoc.PDFStream(content=zlib.compress(page.stream.encode("utf8")))
    stream.dictionary["Filter"] = pdfdoc.PDFArray([pdfdoc.PDFName("FlateDecode")])
    page.Contents, page.stream = stream, None


def _page_frame(canvas: Canvas, stamp: Stamp, number: int, pages: int, total: int) -> None:
    f = fonts()
    canvas.setFillColorRGB(*INK)
    draw_text(canvas, A4_WIDTH / 2, A4_HEIGHT - 8 * mm, MARKING, f.bold, 9, "center")
    draw_text(canvas, MARGIN_X, A4_HEIGHT - 16 * mm, stamp.school, f.bold, 13)
    draw_text(canvas, A4_WIDTH - MARGIN_X, A4_HEIGHT - 16 * mm, stamp.title, f.bold, 13, "right")
    draw_text(canvas, MARGIN_X, A4_HEIGHT - 21.5 * mm,
              f"{stamp.subtitle} · {total} record{'s' if total != 1 else ''}", f.sans, 9)
    canvas.setFillColorRGB(*MUTED)
    draw_text(canvas, MARGIN_X, A4_HEIGHT - 26 * mm, stamp.printed_line, f.sans, 8)
    # Column titles, repeated on every page.
    top = A4_HEIGHT - 29 * mm
    canvas.setFillColorRGB(*GREY)
    canvas.rect(MARGIN_X, A4_HEIGHT - TABLE_TOP, A4_WIDTH - 2 * MARGIN_X,
                top - (A4_HEIGHT - TABLE_TOP), stroke=0, fill=1)
    canvas.setFillColorRGB(*INK)
    for index, column in enumerate(COLUMNS):
        draw_text(canvas, _column_x(index) + PAD, top - 4.6 * mm, column.title, f.bold, 8)
    # Foot of the page.
    canvas.setFillColorRGB(*INK)
    draw_text(canvas, A4_WIDTH / 2, 8 * mm, MARKING, f.bold, 9, "center")
    canvas.setFillColorRGB(*MUTED)
    draw_text(canvas, A4_WIDTH - MARGIN_X, 8 * mm, f"Page {number} of {pages}", f.sans, 8,
              "right")
    canvas.setFillColorRGB(*INK)


def _draw_heading(canvas: Canvas, text: str, y: float) -> float:
    canvas.setFillColorRGB(0.96, 0.97, 0.98)
    canvas.rect(MARGIN_X, y - HEADING_HEIGHT, A4_WIDTH - 2 * MARGIN_X, HEADING_HEIGHT,
                stroke=0, fill=1)
    canvas.setFillColorRGB(*INK)
    draw_text(canvas, MARGIN_X + PAD, y - HEADING_HEIGHT + 2 * mm, text, fonts().bold, 9.5)
    canvas.setStrokeColorRGB(*INK)
    canvas.setLineWidth(0.8)
    canvas.line(MARGIN_X, y - HEADING_HEIGHT, A4_WIDTH - MARGIN_X, y - HEADING_HEIGHT)
    return y - HEADING_HEIGHT


def _draw_row(canvas: Canvas, row: RegisterRow, cells: _Cells, y: float) -> float:
    canvas.setFillColorRGB(*INK)
    for index, lines in enumerate(cells.lines):
        baseline = y - PAD - BODY
        for font, text in lines:
            draw_text(canvas, _column_x(index) + PAD, baseline, text, font, BODY)
            baseline -= LEADING
    if row.device_id:
        draw_qr(canvas, row.label_code, _column_x(len(COLUMNS) - 1) + PAD, y - PAD, QR_SIZE)
    bottom = y - cells.height
    canvas.setStrokeColorRGB(*LINE)
    canvas.setLineWidth(0.4)
    canvas.line(MARGIN_X, bottom, A4_WIDTH - MARGIN_X, bottom)
    return bottom


# --- label sheets --------------------------------------------------------------------------

@dataclass(frozen=True)
class LabelStyle:
    """Where things go inside one label, in mm from its top-left corner."""

    qr: float  # QR side
    inset: float  # label edge to QR
    code_size: float  # points
    initials_size: float
    hint: bool  # room for "Scan at the phone lockers"


def label_style(stock: LabelStock) -> LabelStyle:
    if stock.height >= 30:
        return LabelStyle(qr=27, inset=4, code_size=11, initials_size=16, hint=True)
    return LabelStyle(qr=16, inset=2.6, code_size=7, initials_size=10, hint=False)


def labels_pdf(placed: list[PlacedLabel], stock: LabelStock, title: str) -> bytes:
    """Label sheets: each label's QR and text at its stock's exact position."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(stock.page[0] * mm, stock.page[1] * mm), pageCompression=1,
                    initialFontName=fonts().sans)
    canvas.setTitle(title)
    sheets = max((p.sheet for p in placed), default=0) + 1
    for sheet in range(sheets):
        for item in (p for p in placed if p.sheet == sheet):
            _draw_label(canvas, stock, item)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _draw_label(canvas: Canvas, stock: LabelStock, item: PlacedLabel) -> None:
    f = fonts()
    style = label_style(stock)
    page_height = stock.page[1] * mm
    left, top = item.x * mm, page_height - item.y * mm
    qr_top = top - (stock.height - style.qr) / 2 * mm
    draw_qr(canvas, item.label.code, left + style.inset * mm, qr_top, style.qr * mm)
    text_x = left + (style.inset + style.qr + style.inset * 0.6) * mm
    middle = top - stock.height / 2 * mm
    canvas.setFillColorRGB(0, 0, 0)
    draw_text(canvas, text_x, middle + style.code_size * 0.25, item.label.code, f.mono,
              style.code_size)
    draw_text(canvas, text_x, middle - style.initials_size * 1.05, item.label.initials, f.bold,
              style.initials_size)
    if style.hint:
        canvas.setFillColorRGB(*MUTED)
        draw_text(canvas, text_x, top - (stock.height - 4.5) * mm, "Scan at the phone lockers",
                  f.sans, 5.5)


def alignment_pdf(stock: LabelStock) -> bytes:
    """A test print on plain paper: every label's outline, centre and number, and a ruler.
    Held over a sheet of labels against the light, the boxes should sit on the labels."""
    f = fonts()
    buffer = io.BytesIO()
    width, height = stock.page[0] * mm, stock.page[1] * mm
    canvas = Canvas(buffer, pagesize=(width, height), initialFontName=f.sans)
    canvas.setTitle(f"Label alignment test: {stock.name}")
    canvas.setLineWidth(0.3)
    canvas.setStrokeColorRGB(0, 0, 0)
    for index in range(stock.per_sheet):
        x, y = stock.position(index)
        left, top = x * mm, height - y * mm
        canvas.rect(left, top - stock.height * mm, stock.width * mm, stock.height * mm)
        cx, cy = left + stock.width / 2 * mm, top - stock.height / 2 * mm
        canvas.line(cx - 2 * mm, cy, cx + 2 * mm, cy)
        canvas.line(cx, cy - 2 * mm, cx, cy + 2 * mm)
        draw_text(canvas, left + 1.5 * mm, top - 4 * mm, str(index + 1), f.sans, 6)
    # Two lines in the top margin, and a 100 mm scale in the bottom one: a printer that
    # shrinks the page to fit shows it there.
    canvas.setFillColorRGB(0, 0, 0)
    draw_text(canvas, width / 2, height - stock.top * mm * 0.45,
              f"Alignment test: {stock.name} ({stock.fits}). Top margin {stock.top:g} mm, "
              f"left margin {stock.left:g} mm.", f.sans, 6.5, "center")
    draw_text(canvas, width / 2, height - stock.top * mm * 0.75, "Print at Actual size (100%) "
              "on plain paper, lay it on a sheet of labels and hold both up to the light: "
              "each box should sit on a label.", f.sans, 6.5, "center")
    bar_y, bar_x = stock.top * mm * 0.5, width / 2 - 50 * mm
    canvas.line(bar_x, bar_y, bar_x + 100 * mm, bar_y)
    for tick in range(11):
        canvas.line(bar_x + tick * 10 * mm, bar_y, bar_x + tick * 10 * mm,
                    bar_y + (2 if tick % 5 else 3) * mm)
    draw_text(canvas, bar_x + 101.5 * mm, bar_y, "100 mm", f.sans, 6.5)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# --- the subject access export -------------------------------------------------------------
# Sections of headings, facts and tables flowed onto A4 pages: a row never splits, a heading
# is never the last thing on a page, and a table that runs on repeats its column titles.

DOC_TOP, DOC_BOTTOM = 34 * mm, 282 * mm  # from the page's top edge
DOC_WIDTH = A4_WIDTH - 2 * MARGIN_X
FACT_LABEL = 46 * mm
SUBHEADING_HEIGHT = 9 * mm  # 3 mm of space above a line of 9.5 pt


@dataclass(frozen=True)
class _Block:
    """Something drawn across the page at a height: a heading, a fact, a table's row."""

    height: float
    lines: tuple[tuple[tuple[float, str, str], ...], ...] = ()  # per column: (x, font, line)
    kind: str = "row"  # heading, subheading, titles (a table's column titles), row, text
    keep_with_next: bool = False
    repeat: tuple[_Block, ...] = ()  # drawn first when this row starts a page


def _cell_lines(text: str, font: str, x: float, width: float,
                ) -> tuple[tuple[float, str, str], ...]:
    return tuple((x, font, line) for part in (text or "").splitlines() or [""]
                 for line in wrap(part, font, BODY, width - 2 * PAD))


def _row(cells: list[tuple[str, str]], widths: list[float], kind: str = "row",
         repeat: tuple[_Block, ...] = ()) -> _Block:
    columns, x = [], MARGIN_X
    for (text, font), width in zip(cells, widths, strict=True):
        columns.append(_cell_lines(text, font, x, width))
        x += width
    height = max(len(lines) for lines in columns) * LEADING + 2 * PAD
    return _Block(height, tuple(columns), kind, keep_with_next=kind == "titles",
                  repeat=repeat)


class _Flow:
    """The blocks of one document, in order."""

    def __init__(self) -> None:
        self.blocks: list[_Block] = []
        self.f = fonts()

    def heading(self, text: str) -> None:
        self.blocks.append(_Block(HEADING_HEIGHT + 3 * mm, ((
            (MARGIN_X + PAD, self.f.bold, text),),), "heading", keep_with_next=True))

    def subheading(self, text: str) -> None:
        self.blocks.append(_Block(SUBHEADING_HEIGHT, (((MARGIN_X, self.f.bold, text),),),
                                  "subheading", keep_with_next=True))

    def text(self, text: str) -> None:
        lines = _cell_lines(text, self.f.sans, MARGIN_X, DOC_WIDTH)
        self.blocks.append(_Block(len(lines) * LEADING + 2 * PAD, (lines,), "text"))

    def facts(self, pairs: list[tuple[str, str, str]]) -> None:
        """(label, value, font of the value) pairs, one row each."""
        for label, value, font in pairs:
            self.blocks.append(_row([(label, self.f.bold), (value, font)],
                                    [FACT_LABEL, DOC_WIDTH - FACT_LABEL], "fact"))

    def table(self, heading: str, titles: list[str], widths_mm: list[float],
              rows: list[list[tuple[str, str]]], empty: str = "None.") -> None:
        """A heading, the column titles and the rows; "None." when there are none."""
        self.heading(f"{heading} · {len(rows)}")
        if not rows:
            self.text(empty)
            return
        widths = [width * mm for width in widths_mm]
        title_row = _row([(title, self.f.bold) for title in titles], widths, "titles")
        continued = _Block(HEADING_HEIGHT + 3 * mm, (((MARGIN_X + PAD, self.f.bold,
                                                       f"{heading} (continued)"),),),
                           "heading", keep_with_next=True)
        self.blocks.append(title_row)
        self.blocks.extend(_row(cells, widths, repeat=(continued, title_row)) for cells in rows)


def _flow_pages(blocks: list[_Block]) -> list[list[_Block]]:
    """Blocks onto pages: a block that does not fit starts a new page, and so does a heading
    (or a table's titles) whose next block would not fit after it."""
    full = DOC_BOTTOM - DOC_TOP
    pages: list[list[_Block]] = [[]]
    room = full
    for index, block in enumerate(blocks):
        needed = block.height
        following = index + 1
        while block.keep_with_next and following < len(blocks):  # a heading, its titles, a row
            needed += blocks[following].height
            if not blocks[following].keep_with_next:
                break
            following += 1
        if min(needed, full) > room and pages[-1]:  # a chain taller than a page just starts one
            pages.append([])
            room = full
            if block.kind == "row":
                pages[-1].extend(block.repeat)
                room -= sum(repeated.height for repeated in block.repeat)
        pages[-1].append(block)
        room -= block.height
    return pages


def _draw_block(canvas: Canvas, block: _Block, top: float) -> None:
    if block.kind == "heading":
        _draw_heading(canvas, block.lines[0][0][2], top - 3 * mm)
        return
    if block.kind == "titles":
        canvas.setFillColorRGB(*GREY)
        canvas.rect(MARGIN_X, top - block.height, DOC_WIDTH, block.height, stroke=0, fill=1)
    canvas.setFillColorRGB(*INK)
    size = 9.5 if block.kind == "subheading" else BODY
    for lines in block.lines:
        baseline = top - SUBHEADING_HEIGHT + PAD + 0.5 * mm if block.kind == "subheading" \
            else top - PAD - size
        for x, font, line in lines:
            draw_text(canvas, x + PAD, baseline, line, font, size)
            baseline -= LEADING
    if block.kind in ("row", "fact"):
        canvas.setStrokeColorRGB(*LINE)
        canvas.setLineWidth(0.4)
        canvas.line(MARGIN_X, top - block.height, A4_WIDTH - MARGIN_X, top - block.height)


def _document_frame(canvas: Canvas, stamp: Stamp, number: int, pages: int,
                    handling: str) -> None:
    f = fonts()
    canvas.setFillColorRGB(*INK)
    draw_text(canvas, A4_WIDTH / 2, A4_HEIGHT - 8 * mm, MARKING, f.bold, 9, "center")
    draw_text(canvas, MARGIN_X, A4_HEIGHT - 16 * mm, stamp.school, f.bold, 13)
    draw_text(canvas, A4_WIDTH - MARGIN_X, A4_HEIGHT - 16 * mm, stamp.title, f.bold, 13, "right")
    draw_text(canvas, MARGIN_X, A4_HEIGHT - 22 * mm, stamp.subtitle, f.sans, 9)
    canvas.setFillColorRGB(*MUTED)
    draw_text(canvas, MARGIN_X, A4_HEIGHT - 27 * mm, handling, f.sans, 8)
    canvas.setFillColorRGB(*INK)
    draw_text(canvas, A4_WIDTH / 2, 8 * mm, MARKING, f.bold, 9, "center")
    canvas.setFillColorRGB(*MUTED)
    draw_text(canvas, A4_WIDTH - MARGIN_X, 8 * mm, f"Page {number} of {pages}", f.sans, 8,
              "right")
    canvas.setFillColorRGB(*INK)


SUBJECT_ACCESS_HANDLING = ("Personal data: give it only to the person it is about (or whoever "
                           "they have authorised), and keep no copy longer than needed.")


def document_pdf(blocks: list[_Block], stamp: Stamp, handling: str) -> bytes:
    """The blocks as an A4 document with ``stamp`` and ``handling`` (how to treat the paper:
    one line under the title) on every page."""
    buffer = io.BytesIO()
    canvas = _a4_canvas(buffer, stamp)
    pages = _flow_pages(blocks)
    for number, page in enumerate(pages, start=1):
        _document_frame(canvas, stamp, number, len(pages), handling)
        top = A4_HEIGHT - DOC_TOP
        for block in page:
            _draw_block(canvas, block, top)
            top -= block.height
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def subject_access_pdf(export: SubjectAccess, stamp: Stamp) -> bytes:
    """Everything held about one person (register.subject_access), section by section.
    ``stamp.subtitle`` says for whom, when and by whom it was made."""
    flow, f = _Flow(), fonts()

    def when(value: datetime | None, empty: str = "") -> str:
        return stamp.local(value, "%d %b %Y %H:%M") if value else empty

    person = export.person
    flow.heading("Their details")
    status = "On the register" if person.active else (
        f"Left {when(person.left_at)}" + (f": {person.left_reason}" if person.left_reason
                                          else ""))
    flow.facts([("Name", person.name, f.sans), ("Category", person.category, f.sans),
                ("Badge", person.badge_id or "none", f.mono),
                ("Email", person.email or "none", f.sans),
                ("Own locker", person.fixed_locker or "none", f.sans),
                ("Status", status, f.sans),
                ("On the register since", when(person.created_at), f.sans),
                ("Record number", f"person #{person.id}", f.sans)])
    _phones(flow, export, when)
    flow.table("Deposits", ["Phone", "Locker", "In", "Out", "Door closed"],
               [24, 36, 42, 52, 32], [[
                   (d.label_code, f.mono), (f"{d.locker} ({d.bank})", f.sans),
                   (_joined(when(d.deposited_at), d.deposit_kiosk), f.sans),
                   (_joined(when(d.collected_at, "not yet"), d.collect_kiosk,
                            f"by {d.collected_by}" if d.collected_by else None), f.sans),
                   (when(d.door_closed_at, "not reported"), f.sans)]
                   for d in export.deposits])
    flow.table("Duty periods", ["Started", "How", "Ended", "How", "Kiosk"],
               [42, 26, 42, 26, 50], [[
                   (when(d.started_at), f.sans), (d.start_kind, f.sans),
                   (when(d.ended_at, "still on duty"), f.sans), (d.end_kind or "", f.sans),
                   (d.kiosk or "", f.sans)] for d in export.duty_periods])
    _requests(flow, export, when)
    flow.table("Policy acknowledgements", ["Policy", "When", "How", "Recorded by"],
               [72, 38, 36, 40], [[
                   (f"{a.policy_title}, version {a.policy_version} (adopted "
                    f"{a.policy_adopted_on:%d %b %Y})", f.sans), (when(a.at), f.sans),
                   (_joined(a.via, a.kiosk), f.sans), (a.recorded_by, f.sans)]
                   for a in export.policy_acknowledgements])
    flow.table("Incidents", ["No.", "What and when", "What happened", "Action taken", "Status"],
               [12, 44, 58, 46, 26], [[
                   (str(i.id), f.sans),
                   (_joined(i.kind, when(i.occurred_at), i.location), f.sans),
                   (_joined(i.what_happened, f"reported by {i.reported_by}"), f.sans),
                   (_joined(i.action_taken, i.action_by and f"by {i.action_by}",
                            i.escalated_to and f"escalated to {i.escalated_to}"), f.sans),
                   (i.status if i.status == "open" else f"closed {when(i.closed_at)}", f.sans)]
                   for i in export.incidents])
    _audit_table(flow, "Audit entries about them", export.audit_entries_about_them, when)
    for account in export.user_accounts:
        flow.heading(f"User account: {account.username}")
        flow.facts([("Role", account.role, f.sans),
                    ("Can sign in", "yes" if account.active else "no (disabled)", f.sans),
                    ("Email", account.email or "none", f.sans),
                    ("Account since", when(account.created_at), f.sans),
                    ("Last sign-in", when(account.last_sign_in_at, "never"), f.sans)])
        flow.table(f"Sign-in sessions of {account.username}",
                   ["Signed in", "Last used", "Ended", "Why it ended"], [46, 46, 46, 48], [[
                       (when(s.started_at), f.sans), (when(s.last_used_at), f.sans),
                       (when(s.ended_at, "still open"), f.sans),
                       (s.ended_because.replace("_", " "), f.sans)] for s in account.sessions])
        _audit_table(flow, f"Audit entries by {account.username}",
                     account.audit_entries_by_them, when)
    if not export.user_accounts:
        flow.heading("User account")
        flow.text("None: they do not sign in to the register.")
    return document_pdf(flow.blocks, stamp, SUBJECT_ACCESS_HANDLING)


def _joined(*parts: str | None) -> str:
    return ", ".join(part for part in parts if part)


def _phones(flow: _Flow, export: SubjectAccess,
            when: Callable[..., str]) -> None:
    f = flow.f
    flow.heading(f"Phones · {len(export.phones)}")
    if not export.phones:
        flow.text("None.")
    for phone in export.phones:
        flow.subheading(f"{phone.description} (phone #{phone.id})"
                        + (" · retired" if phone.retired_at else ""))
        facts = [("IMEI", phone.imei, f.mono)]
        if phone.imei2:
            facts.append(("Second IMEI", phone.imei2, f.mono))
        facts += [("Label code", phone.label_code, f.mono),
                  ("Registered", f"{when(phone.registered_at)} by {phone.registered_by}",
                   f.sans),
                  ("Checked against *#06#", f"{when(phone.verified_at)} by {phone.verified_by}"
                   if phone.verified_at else "not yet", f.sans)]
        if phone.retired_at:
            facts.append(("Retired", when(phone.retired_at) + (
                f": {phone.retired_reason}" if phone.retired_reason else ""), f.sans))
        flow.facts(facts)


def _requests(flow: _Flow, export: SubjectAccess, when: Callable[..., str]) -> None:
    f = flow.f
    flow.heading(f"Exception requests · {len(export.exception_requests)}")
    if not export.exception_requests:
        flow.text("None.")
    for request in export.exception_requests:
        flow.subheading(f"Request #{request.id}: {request.category} · {request.status}")
        facts = [("Reason", request.reason, f.sans), ("When", _window(request), f.sans),
                 ("Requested", _joined(when(request.requested_at), f"by {request.requested_by}",
                                       f"at the {request.requested_via}"), f.sans),
                 ("Approvals needed", str(request.approvals_needed), f.sans)]
        if request.conditions:
            facts.append(("Conditions", request.conditions, f.sans))
        if request.decided_at:
            facts.append(("Decided", when(request.decided_at), f.sans))
        if request.requester_told_at:
            facts.append(("Told at the kiosk", when(request.requester_told_at), f.sans))
        flow.facts(facts)
        for number, decision in enumerate(request.decisions, start=1):
            flow.facts([(f"Decision {number}", _joined(
                f"{decision.action} {when(decision.at)} by {decision.by}",
                decision.note and f"“{decision.note}”"), f.sans)])


def _window(request: RequestRecord) -> str:
    days = "" if len(request.weekdays) == 7 else " and ".join(request.weekdays) + ", "
    span = (f"{request.starts_on:%a %d %b %Y}" if request.starts_on == request.ends_on
            else f"{request.starts_on:%a %d %b %Y} to {request.ends_on:%a %d %b %Y}")
    hours = ""
    if request.day_from or request.day_until:
        hours = (f", {request.day_from:%H:%M}" if request.day_from else ", from the start")
        hours += f" to {request.day_until:%H:%M}" if request.day_until else " to the end"
    return f"{days}{span}{hours}"


def _audit_table(flow: _Flow, heading: str, entries: list[AuditRecord],
                 when: Callable[..., str]) -> None:
    f = flow.f
    flow.table(heading, ["#", "When", "Who", "What", "Record", "Detail"],
               [12, 33, 26, 37, 26, 52], [[
                   (str(e.id), f.sans), (when(e.at), f.sans), (e.actor, f.sans),
                   (e.action, f.sans), (e.subject, f.sans), (e.detail, f.sans)]
                   for e in entries])
