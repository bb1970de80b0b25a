"""The printable pages as Chromium prints them: to PDF, then to PNG (kept in test-artifacts/
for people to look at), then read back: text per page, QR codes and where they landed."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from kiosk import pdf
from kiosk.extensions import db
from register import people
from register.imei import luhn_check_digit
from register.labels import STOCKS
from tests.pdf_tools import flat, page_texts, qr_codes, reader, render

pytestmark = pytest.mark.browser

NAMES = ["Siobhán Ó Súilleabháin", "王秀英", "Zoë Brown", "Kwame Mensah-Okafor",
         "Featherstonehaugh Cholmondeley-Marjoribanks"]


@pytest.fixture
def bigger_school(app: Flask, web_school):
    """The test school and 36 more people, so the register runs to several pages."""
    with app.app_context(), Session(db.engine) as session:
        for n in range(36):
            name = NAMES[n] if n < len(NAMES) else f"Staff Member {n:02d}"
            person = people.add_person(session, people.PersonDetails(
                name, "governor" if n % 9 == 0 else "staff"), "test")
            body = f"35{n:012d}"
            device = people.register_device(session, person, people.DeviceDetails(
                imei=body + str(luhn_check_digit(body)), make="Apple", model="iPhone 15"), "t")
            if n % 2:
                people.verify_device(session, device, "office")
        session.commit()
    return web_school


def print_to_pdf(page: Page, path: Path) -> bytes:
    page.emulate_media(media="print")
    data = page.pdf(path=str(path), prefer_css_page_size=True, print_background=True)
    page.emulate_media(media="screen")
    return data


def keep_first_page(pdf_path: Path, artifacts: Path, name: str, dpi: int = 100) -> None:
    (image,) = render(pdf_path, dpi)
    image.save(artifacts / f"print-{name}-page1.png")


def test_register_prints_as_a4_with_running_heads(office: Page, bigger_school, camera,
                                                  artifacts: Path, tmp_path: Path):
    office.goto("/print/register")
    expect(office.get_by_role("button", name="Print")).to_be_visible()
    camera.office(office, "print-register-screen")
    path = tmp_path / "register.pdf"
    data = print_to_pdf(office, path)
    keep_first_page(path, artifacts, "register")

    pages = page_texts(data)
    assert len(pages) >= 3
    first = reader(data).pages[0]
    assert (float(first.mediabox.width), float(first.mediabox.height)) == pytest.approx(
        (595.28, 841.89), abs=1)
    whole = [flat(" ".join(t.text for t in texts)) for texts in pages]
    for number, text in enumerate(whole, start=1):
        assert text.count("OFFICIAL-SENSITIVE: personal data") == 2  # head and foot
        assert "Test Primary School" in text and "Phone IMEI register" in text
        assert "Printed " in text and " by browser-office" in text
        assert f"Page {number} of {len(pages)}" in text
        assert "IMEI(s)" in text and "Make and model" in text  # the header row repeats
    for name in ("Siobhán Ó Súilleabháin", "王秀英", "Zoë Brown"):
        assert any(name in text for text in whole), name

    # No row is split: each IMEI is on the same page as its owner's name.
    for n in range(5, 36):
        body = f"35{n:012d}"
        imei = body + str(luhn_check_digit(body))
        (page_number,) = [i for i, text in enumerate(whole) if imei in text]
        assert f"Staff Member {n:02d}" in whole[page_number]

    # Every QR code on the printed page decodes to a phone's label code, each once.
    decoded = [code.text for image in render(path, 150, 1, len(pages))
               for code in qr_codes(image, 150)]
    assert len(decoded) == len(set(decoded)) == 4 + 36


@pytest.mark.parametrize("key", sorted(STOCKS))
def test_label_sheet_prints_each_label_where_the_stock_has_it(office: Page, bigger_school,
                                                               artifacts: Path, tmp_path: Path,
                                                               key: str):
    stock = STOCKS[key]
    office.goto(f"/print/labels?stock={key}&start=2")
    sheets = -(-(40 + 1) // stock.per_sheet)
    expect(office.get_by_text(f"40 labels on {sheets} sheet")).to_be_visible()
    path = tmp_path / "labels.pdf"
    data = print_to_pdf(office, path)
    assert len(reader(data).pages) == sheets
    keep_first_page(path, artifacts, f"labels-{key}", dpi=150)
    style = pdf.label_style(stock)
    (sheet,) = render(path, 200)
    found = sorted(qr_codes(sheet, 200), key=lambda c: (round(c.top), c.left))
    assert len(found) == min(40, stock.per_sheet - 1)
    for index, code in enumerate(found, start=1):  # label 1 was left empty (start=2)
        x, y = stock.position(index)
        assert code.left == pytest.approx(x + style.inset, abs=0.5), code.text
        assert code.top == pytest.approx(y + (stock.height - style.qr) / 2, abs=0.5), code.text
        assert code.size == pytest.approx(style.qr, abs=0.5)
