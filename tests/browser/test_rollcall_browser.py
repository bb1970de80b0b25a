"""The fire roll call as a marshal uses it: Alt+R from any page prints it, it reads on a phone
(375x667) with boxes large enough to tick, and Chromium prints it as a marked A4 page (kept
as a PNG in test-artifacts/ for people to look at)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from kiosk.extensions import db
from register import kiosks, people
from register.imei import luhn_check_digit
from tests.conftest import scan_code
from tests.pdf_tools import flat, page_texts, reader, render

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 667}
# Who is on site besides the test school's three: every category, long and non-Latin names.
VISITORS = [
    ("Siobhán Ó Súilleabháin", "staff"), ("王秀英", "staff"), ("Zoë Brown", "staff"),
    ("Featherstonehaugh Cholmondeley-Marjoribanks", "staff"), ("Kwame Mensah-Okafor", "staff"),
    ("Priya Raman", "governor"), ("Tom Ward", "visitor"), ("Ayesha Khan", "parent"),
    ("Lena Novak", "agency"), ("Sam Okoro", "student"), ("Ruth Mills", "volunteer"),
    ("Dave Fixit", "contractor"),
] + [(f"Staff Member {n:02d}", "staff") for n in range(14)]
ON_SITE = 3 + len(VISITORS)
PHONES = 4 + len(VISITORS)
STAFF = 3 + sum(category == "staff" for _, category in VISITORS)
COUNT_PRINTS = "window.__prints = 0; window.print = () => { window.__prints += 1; };"


@pytest.fixture
def on_site(app: Flask, web_school):
    """Everyone in VISITORS scanned in at the main hall, with the test school's three."""
    with app.app_context(), Session(db.engine) as session:
        people.add_bank(session, "Main hall", 40, "test")
        hall, _ = kiosks.create_kiosk(session, "Hall kiosk", "Main hall")
        codes = [web_school.alice.badge_id, web_school.bob_phone.label_code,
                 web_school.carol.badge_id, web_school.bob_work_phone.label_code]
        hall_codes = []
        for n, (name, category) in enumerate(VISITORS):
            person = people.add_person(session, people.PersonDetails(name, category), "test")
            body = f"35{n:012d}"
            device = people.register_device(session, person, people.DeviceDetails(
                imei=body + str(luhn_check_digit(body)), make="Apple", model="iPhone"), "test")
            hall_codes.append(device.label_code)
        session.commit()
        hall_id, staff_id = hall.id, web_school.staff_kiosk.id
    with app.app_context(), Session(db.engine) as session:
        for code in codes:
            scan_code(session, staff_id, code)
        for code in hall_codes:
            scan_code(session, hall_id, code)
    return web_school


def test_alt_r_prints_the_roll_call_from_any_page(office: Page, on_site):
    office.add_init_script(COUNT_PRINTS)
    office.goto("/office/lockers")
    button = office.get_by_role("link", name="Roll call", exact=True)
    expect(button).to_have_attribute("title", "Fire roll call: print everyone on site now, "
                                     "by category, with their lockers (shortcut Alt+R)")
    office.keyboard.press("Alt+r")
    expect(office.get_by_role("heading", name="Fire roll call")).to_be_visible()
    office.wait_for_function("() => window.__prints === 1")
    assert office.url.endswith("/reports/roll-call")  # reloading will not print again
    expect(office.get_by_text(f"{ON_SITE} people on site")).to_be_visible()


def test_one_click_in_the_top_bar_prints_it(office: Page, on_site):
    office.add_init_script(COUNT_PRINTS)
    office.goto("/reports/daily-log")
    office.get_by_role("link", name="Roll call", exact=True).click()
    office.wait_for_function("() => window.__prints === 1")
    expect(office.get_by_role("heading", name=f"Staff · {STAFF}")).to_be_visible()


def test_a_marshal_ticks_people_off_on_a_phone(office: Page, on_site, artifacts: Path):
    office.set_viewport_size(PHONE)
    office.goto("/reports/roll-call")
    expect(office.get_by_text(f"0 of {ON_SITE} ticked off")).to_be_visible()
    widths = office.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1] == PHONE["width"], "the page scrolls sideways on a phone"
    office.screenshot(path=artifacts / "rollcall-phone-375x667.png")  # the first screen

    long_name = office.get_by_text("Featherstonehaugh Cholmondeley-Marjoribanks")
    font = float(long_name.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))
    assert font >= 16
    box = office.get_by_label("Siobhán Ó Súilleabháin is accounted for")
    size = box.bounding_box()
    assert size and size["width"] >= 40 and size["height"] >= 40
    box.click()
    office.get_by_text("Priya Raman").click()  # the whole row is the target, not just the box
    expect(box).to_be_checked()
    expect(office.get_by_label("Priya Raman is accounted for")).to_be_checked()
    expect(office.get_by_text(f"2 of {ON_SITE} ticked off")).to_be_visible()
    office.get_by_text("Staff Member 05").scroll_into_view_if_needed()
    office.screenshot(path=artifacts / "rollcall-phone-ticked-scrolled.png")  # tally in sight
    expect(office.locator(".rc-tally")).to_be_in_viewport()


def test_printed_roll_call_is_a_marked_a4_page(office: Page, on_site, artifacts: Path,
                                               tmp_path: Path):
    office.goto("/reports/roll-call")
    office.get_by_label("Alice Adams is accounted for").check()
    office.emulate_media(media="print")
    path = tmp_path / "rollcall.pdf"
    data = office.pdf(path=str(path), prefer_css_page_size=True, print_background=True)
    office.emulate_media(media="screen")
    pages = render(path, 100, 1, len(reader(data).pages))
    for number, image in enumerate(pages, start=1):
        image.save(artifacts / f"print-rollcall-page{number}.png")

    first = reader(data).pages[0]
    assert (float(first.mediabox.width), float(first.mediabox.height)) == pytest.approx(
        (595.28, 841.89), abs=1)
    texts = [flat(" ".join(t.text for t in page)) for page in page_texts(data)]
    whole = " ".join(texts)
    for number, text in enumerate(texts, start=1):
        assert "OFFICIAL-SENSITIVE: personal data" in text
        assert "Test Primary School · Fire roll call" in text
        assert "by browser-office" in text
        assert f"Page {number} of {len(texts)}" in text
    assert f"{ON_SITE} people on site" in whole and f"Staff: {STAFF}" in whole
    assert f"{PHONES} phones in lockers" in whole
    for name, _ in VISITORS:  # a long name may wrap after its hyphen
        assert name in whole.replace("- ", "-"), name
    # A row: name, time in, lockers (the column heads say what they are).
    assert re.search(r"Carol Clark \d\d:\d\d 3 \(Staff room\)", whole)  # her own locker
    assert re.search(r"Bob Brown \d\d:\d\d 2, 4 \(Staff room\)", whole)
    assert "Roll call taken by" in whole
    assert "Print roll call" not in whole and "People and phones" not in whole  # screen only
