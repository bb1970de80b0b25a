"""Right-to-left names on the pages the browser prints (the IMEI record slip, the roll call):
Chromium shapes and orders them itself; printed to PDF, pdftotext reads them back as typed.
The ReportLab PDFs are tests/test_rtl_pdf.py's.

Not "محمد الأحمد" here: Chromium maps its lam-alef ligature (ﻷ) to the two letters in typed
order, and pdftotext, reversing right-to-left text, reads them swapped ("األحمد"). The printed
page is right (test-artifacts/rtl-slip.pdf); our own PDFs map the ligature so it reads back."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page
from sqlalchemy.orm import Session

from kiosk.extensions import db
from register import people
from tests.conftest import scan_code
from tests.test_rtl_pdf import DIRECTION_MARKS, HEBREW

ARABIC = "محمد حسن"

pytestmark = pytest.mark.browser


def printed_text(page: Page, path: Path) -> str:
    page.emulate_media(media="print")
    page.pdf(path=str(path), prefer_css_page_size=True, print_background=True)
    page.emulate_media(media="screen")
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout
    return " ".join(text.translate(DIRECTION_MARKS).split())


def test_slip_and_roll_call_print_right_to_left_names_as_typed(
        office: Page, app: Flask, web_school: Any, artifacts: Path):
    with app.app_context(), Session(db.engine) as session:
        arabic = people.add_person(
            session, people.PersonDetails(ARABIC, "staff", badge_id="0000000777"), "t")
        people.register_device(session, arabic, people.DeviceDetails(imei="356938035643809"), "t")
        hebrew = people.add_person(
            session, people.PersonDetails(HEBREW, "staff", badge_id="0000000778"), "t")
        people.register_device(session, hebrew, people.DeviceDetails(imei="006928650319490"), "t")
        session.commit()
        arabic_id = arabic.id
        for badge in ("0000000777", "0000000778"):
            scan_code(session, web_school.staff_kiosk.id, badge, datetime.now(UTC),
                      app.extensions["school_zone"])

    office.goto(f"/print/people/{arabic_id}/imei-slip")
    assert ARABIC in printed_text(office, artifacts / "rtl-slip.pdf")
    office.goto("/reports/roll-call")
    roll_call = printed_text(office, artifacts / "rtl-roll-call.pdf")
    assert ARABIC in roll_call and HEBREW in roll_call
