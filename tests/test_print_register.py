"""The printed register: which rows, in which order, and the PDF read back as a person would
see it (text, pages, QR codes decoded from the rendered pages)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kiosk import demo, pdf
from register import people, printing
from register.models import Device
from register.printing import RegisterFilter, RegisterGroup, RegisterRow
from tests.pdf_tools import PT_PER_MM, flat, page_texts, qr_codes, reader, render

LONDON = ZoneInfo("Europe/London")
PRINTED = datetime(2026, 11, 25, 8, 2, tzinfo=UTC)


def stamp(subtitle: str = "All categories; active; verified or not") -> pdf.Stamp:
    return pdf.Stamp("Test Primary School", "Phone IMEI register", subtitle, "office",
                     PRINTED, LONDON)


def register_pdf(session, wanted: RegisterFilter | None = None) -> tuple[bytes, list]:
    wanted = wanted or RegisterFilter()
    rows = printing.register_rows(session, wanted)
    return pdf.register_pdf(printing.group_by_category(rows), stamp(wanted.describe())), rows


# --- rows ----------------------------------------------------------------------------------

def test_rows_are_grouped_by_category_then_sorted_by_name(session, school):
    people.add_person(session, people.PersonDetails("Zoë Ó Súilleabháin", "governor"), "t")
    people.add_person(session, people.PersonDetails("Émile Abbott", "staff"), "t")
    session.commit()
    rows = printing.register_rows(session, RegisterFilter())
    assert [(r.category, r.name) for r in rows] == [
        ("staff", "Alice Adams"), ("staff", "Bob Brown"), ("staff", "Bob Brown"),
        ("staff", "Carol Clark"), ("staff", "Émile Abbott"),  # É sorts with E
        ("governor", "Zoë Ó Súilleabháin"),
    ]
    assert rows[4].device_id is None and rows[4].make_and_model == ""  # no phone: still listed
    groups = printing.group_by_category(rows)
    assert [(g.label, len(g.rows)) for g in groups] == [("Staff", 5), ("Governor", 1)]


def test_filters(session, school):
    people.verify_device(session, school.alice_phone, "office")
    people.mark_left(session, school.carol, "office")
    people.retire_device(session, school.bob_work_phone, "office", "replaced")
    session.commit()

    def names(**args: str) -> list[str]:
        return [r.name for r in printing.register_rows(session, RegisterFilter.from_args(args))]

    assert names() == ["Alice Adams", "Bob Brown"]  # retired phones are not on it
    assert names(status="left") == ["Carol Clark"]
    assert names(status="all") == ["Alice Adams", "Bob Brown", "Carol Clark"]
    assert names(verified="yes") == ["Alice Adams"]
    assert names(verified="no", status="all") == ["Bob Brown", "Carol Clark"]
    assert names(category="governor") == []
    assert names(category="nonsense", status="bogus") == names()  # unknown: the defaults
    assert RegisterFilter.from_args({"category": "staff", "verified": "no"}).describe() == (
        "Staff; active; not verified")


# --- the PDF -------------------------------------------------------------------------------

def test_pdf_header_rows_and_every_qr_code(session, tmp_path):
    demo.seed(session, ZoneInfo("Europe/London"))
    session.commit()
    data, rows = register_pdf(session)
    pages = page_texts(data)
    assert len(reader(data).pages) == len(pages) >= 3
    for number, texts in enumerate(pages, start=1):
        words = [t.text for t in texts]
        # Every page: marking top and bottom, school, title, who and when, page x of y.
        assert words.count(pdf.MARKING) == 2
        assert "Test Primary School" in words and "Phone IMEI register" in words
        assert words.count("Printed Wed 25 Nov 2026, 08:02 by office") == 1
        assert f"Page {number} of {len(pages)}" in words
        titles = [w for w in words if w in {c.title for c in pdf.COLUMNS}]
        assert titles == ["Name", "Category", "Make and model", "IMEI(s)", "Verified",
                          "Registered", "QR"]
    assert "All categories; active; verified or not · 61 records" in [t.text for t in pages[0]]

    # Each row's IMEIs are printed once, and its QR code decodes to its own label code, on
    # the same page and level with the row.
    imei_at = {t.text: (n, t.y) for n, texts in enumerate(pages) for t in texts
               if t.text.isdigit() and len(t.text) == 15}
    phones = [r for r in rows if r.device_id]
    assert set(imei_at) == {imei for r in phones for imei in r.imeis}
    path = tmp_path / "register.pdf"
    path.write_bytes(data)
    decoded = {}
    for number, image in enumerate(render(path, 150, 1, len(pages))):
        for code in qr_codes(image, 150):
            assert code.text not in decoded, f"{code.text} twice"
            assert abs(code.size - pdf.QR_SIZE / PT_PER_MM) < 1  # at 150 dpi, a pixel is 0.17 mm
            decoded[code.text] = (number, code.top)
    assert set(decoded) == {r.label_code for r in phones}
    for row in phones:
        page, imei_y = imei_at[row.imeis[0]]
        qr_page, qr_top = decoded[row.label_code]
        assert qr_page == page, row.name
        imei_from_top = 297 - imei_y / PT_PER_MM
        assert abs(qr_top - imei_from_top) < 6, row.name  # the QR sits beside its row


def test_pdf_names_in_other_scripts_are_drawn_with_glyphs(session):
    for name in ("Siobhán Ó Súilleabháin", "王秀英", "Zoë Brown"):
        person = people.add_person(session, people.PersonDetails(name, "staff"), "t")
        people.register_device(session, person, people.DeviceDetails(
            imei=demo.test_imei(random.Random(name))), "t")
    session.commit()
    data, _rows = register_pdf(session)
    text = flat(" ".join(t.text for t in page_texts(data)[0]))
    assert "Siobhán Ó Súilleabháin" in text and "Zoë Brown" in text
    assert "王秀英" in text  # in the fallback font: a real glyph, not a box
    fonts = {str(f["/BaseFont"]) for f in reader(data).pages[0]["/Resources"]["/Font"].values()}
    assert any("DroidSansFallback" in name for name in fonts), fonts


def many_rows(count: int) -> list[RegisterGroup]:
    """``count`` people with every shape of row: two IMEIs, long names, no phone."""
    rows = []
    when = datetime(2026, 9, 1, tzinfo=UTC)
    for n in range(count):
        name = f"Person {n:04d} " + ("Featherstonehaugh-Cholmondeley Marjoribanks" if n % 7 == 0
                                     else "Smith")
        if n % 11 == 0:
            rows.append(RegisterRow(n, name, "visitor", "Visitor", True))
            continue
        imeis = (f"35{n:013d}",) + ((f"86{n:013d}",) if n % 5 == 0 else ())
        rows.append(RegisterRow(
            n, name, "staff", "Staff", n % 13 != 0, device_id=n, make="Samsung",
            model="Galaxy S24 Ultra Enterprise Edition" if n % 3 == 0 else "A54", imeis=imeis,
            label_code=f"PH{n:06d}", registered_at=when + timedelta(hours=n),
            verified_at=when if n % 2 else None, verified_by="office" if n % 2 else None))
    return printing.group_by_category(sorted(rows, key=lambda r: (r.category != "staff", r.name)))


def test_500_people_paginate_without_splitting_a_row():
    groups = many_rows(500)
    data = pdf.register_pdf(groups, stamp())  # its speed is measured by bench/pdf.py
    pages = page_texts(data)
    assert len(pages) == len(reader(data).pages) > 25
    table_top, table_bottom = (297 * PT_PER_MM - pdf.TABLE_TOP, 297 * PT_PER_MM - pdf.TABLE_BOTTOM)
    seen: dict[str, int] = {}
    for number, texts in enumerate(pages):
        foot = {pdf.MARKING, f"Page {number + 1} of {len(pages)}"}
        # Below the table's bottom edge there is only the page's foot: no row ran over it.
        assert {t.text for t in texts if t.y < table_bottom} == foot
        for t in texts:
            if t.text.startswith("Person "):
                assert table_bottom < t.y < table_top
                assert seen.setdefault(t.text[:11], number) == number, f"{t.text} twice"
        # Each IMEI is on the same page as its row's name: rows are never split.
        for t in texts:
            if t.text.isdigit() and len(t.text) == 15:
                assert table_bottom < t.y < table_top
                assert seen[f"Person {int(t.text[2:]):04d}"] == number
    assert len(seen) == 500
    headings = [t.text for texts in pages for t in texts if "(continued)" in t.text]
    assert headings, "a group that runs on to the next page says so"


def test_empty_register_prints_one_page_saying_so():
    data = pdf.register_pdf([], stamp())
    (page,) = page_texts(data)
    assert "Nobody on the register matches this choice." in [t.text for t in page]


@pytest.mark.parametrize("retired", [False, True])
def test_lost_phone_report_reads_the_deposits(session, school, retired):
    from tests.conftest import scan_code

    now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    scan_code(session, school.staff_kiosk.id, school.alice_phone.label_code, now)
    scan_code(session, school.staff_kiosk.id, school.alice_phone.label_code,
              now + timedelta(hours=8))
    scan_code(session, school.reception_kiosk.id, school.alice_phone.label_code,
              now + timedelta(days=1))
    if retired:
        session.get(Device, school.alice_phone.id).retired_at = now + timedelta(days=2)
        session.commit()
    report = printing.lost_phone_report(session, school.alice_phone.id)
    assert report.owner.name == "Alice Adams"
    assert report.last_deposited is not None and report.last_collected is not None
    assert report.last_deposited.at == now + timedelta(days=1)
    assert report.last_deposited.locker == "locker 1 (Reception)"
    assert report.last_deposited.kiosk == "Front kiosk"
    assert report.last_collected.at == now + timedelta(hours=8)
    assert report.last_collected.kiosk == "Staff kiosk"
    assert report.in_locker_now


def test_lost_phone_report_for_a_phone_never_deposited(session, school):
    report = printing.lost_phone_report(session, school.bob_phone.id)
    assert report.last_deposited is None and report.last_collected is None
    assert not report.in_locker_now
