"""Right-to-left names in the PDFs: Arabic letters joined, every name in its reading order,
and read back by pdftotext (poppler) in the order it was typed. The rendered pages are kept in
test-artifacts/ to look at (rtl-register.png, rtl-labels.png)."""

from __future__ import annotations

import random
import subprocess
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from kiosk import demo, pdf
from kiosk.shaping import visual
from register import labels, people, printing
from register.printing import RegisterFilter
from tests.pdf_tools import render

ARABIC = "محمد الأحمد"
HEBREW = "שרה כהן"
PERSIAN = "زهرا کریمی"
URDU = "عمران ٹیپو ڈار"  # Urdu letters: ٹ and ڈ
NAMES = (ARABIC, HEBREW, PERSIAN, URDU, "Zoë Brown")
# What pdftotext adds around a right-to-left line to say its direction; invisible.
DIRECTION_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e"))


def read_back(data: bytes, tmp_path: Path) -> list[str]:
    """The lines pdftotext reads, as a person copying them would get them."""
    path = tmp_path / "read.pdf"
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout
    return [" ".join(line.translate(DIRECTION_MARKS).split()) for line in text.splitlines()]


def names(*names: str):
    return [unicodedata.name(char).split()[-1] if char not in " ()" else char for char in names]


# --- the order drawn -----------------------------------------------------------------------

def test_arabic_is_joined_and_drawn_right_to_left():
    drawn = visual("محمد")
    # The last letter typed is drawn first (leftmost), each in its joined form: final dal,
    # medial meem, medial hah, initial meem.
    assert [unicodedata.name(c) for c in drawn] == [
        "ARABIC LETTER DAL FINAL FORM", "ARABIC LETTER MEEM MEDIAL FORM",
        "ARABIC LETTER HAH MEDIAL FORM", "ARABIC LETTER MEEM INITIAL FORM"]
    assert visual("Zoë Brown") == "Zoë Brown"


def test_hebrew_is_reversed_and_english_around_it_stays_in_place():
    assert visual(HEBREW) == "ןהכ הרש"
    assert visual(f"{HEBREW} (left)") == "ןהכ הרש (left)"  # the pages are in English
    assert visual(f"Sara ({HEBREW}) Cohen") == "Sara (ןהכ הרש) Cohen"


def test_brackets_inside_a_right_to_left_name_are_mirrored():
    drawn = visual("محمد (أبو علي)")
    assert drawn[0] == "(" and drawn[-1] != ")"  # (علي أبو) محمد, read right to left
    assert drawn.index(")") < drawn.index(" ", drawn.index(")"))


# --- the PDFs ------------------------------------------------------------------------------

def add_people(session) -> None:
    for name in NAMES:
        person = people.add_person(session, people.PersonDetails(name, "staff"), "t")
        people.register_device(session, person, people.DeviceDetails(
            imei=demo.test_imei(random.Random(name))), "t")
    session.commit()


def test_register_pdf_reads_back_in_the_order_typed(session, tmp_path, artifacts):
    add_people(session)
    rows = printing.register_rows(session, RegisterFilter())
    stamp = pdf.Stamp("Test School", "Phone IMEI register", "All", "office",
                      datetime(2026, 12, 1, 9, tzinfo=UTC), ZoneInfo("Europe/London"))
    data = pdf.register_pdf(printing.group_by_category(rows), stamp)
    lines = read_back(data, tmp_path)
    for name in NAMES:
        assert any(line.startswith(name + " Staff") for line in lines), (name, lines)
    # Nothing reads back as a joined form: copying a name gives the letters typed.
    assert not any("\ufb50" <= char <= "\ufeff" for line in lines for char in line)
    image = render(_save(data, artifacts / "rtl-register.pdf"), dpi=110)[0]
    image.save(artifacts / "rtl-register.png")


def test_person_who_left_reads_name_then_left():
    # Drawn left to right: the name, right to left, then "(left)" as English reads it.
    # (pdftotext and pypdf guess such a line is right-to-left as a whole when reading it back,
    # and move the brackets; the page itself is right: rtl-register.png.)
    assert visual(f"{ARABIC} (left)") == visual(ARABIC) + " (left)"


def test_labels_pdf_draws_right_to_left_initials(tmp_path, artifacts):
    stock = labels.STOCKS["l7160"]
    found = [labels.Label(f"PH{n:04d}", labels.initials(name), n)
             for n, name in enumerate(NAMES)]
    data = pdf.labels_pdf(labels.lay_out(found, stock), stock, "Labels")
    text = " ".join(read_back(data, tmp_path))
    assert labels.initials(ARABIC) == "\u0645 \u0627"  # meem, alef: spaced, not joined
    assert labels.initials(HEBREW) == "ש כ"
    assert "\u0645\u0627" in text and "שכ" in text, text  # pdftotext closes the narrow space
    image = render(_save(data, artifacts / "rtl-labels.pdf"), dpi=110)[0]
    image.crop((0, 0, image.width, image.height // 3)).save(artifacts / "rtl-labels.png")


def test_width_is_the_width_drawn():
    """Columns wrap by the joined letters' width, which is not the unjoined letters' sum."""
    f = pdf.fonts()
    joined = pdf.text_width(ARABIC, f.sans, 10)
    assert 0 < joined < sum(pdf.text_width(char, f.sans, 10) for char in ARABIC)


def _save(data: bytes, path: Path) -> Path:
    path.write_bytes(data)
    return path
