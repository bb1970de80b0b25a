"""The SLT policy report as printed: headless Chromium prints it to PDF (A4, marked on every
page, numbered), the first page is rendered to PNG and kept in test-artifacts/ to look at."""

from __future__ import annotations

import subprocess
import unicodedata
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from pypdf import PdfReader
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from kiosk import slt_report
from kiosk.extensions import db
from register.models import Role, User
from tests.browser.conftest import LAPTOP
from tests.test_compliance import AFTER, fortnight_rows, load_fortnight

pytestmark = pytest.mark.browser

SLT_USER = ("browser-slt", "a long browser test password")
A4_POINTS = (595.3, 841.9)
TABLET = {"width": 820, "height": 1180}  # SLT's 10-inch tablet, portrait


@pytest.fixture
def slt(page: Page, app: Flask, monkeypatch) -> Page:
    """The fortnight of tests/test_compliance.py, seen on 2 November by an SLT member."""
    username, password = SLT_USER
    with app.app_context(), Session(db.engine) as session:
        load_fortnight(session, fortnight_rows())
        session.add(User(username=username, role=Role.SLT,
                         password_hash=generate_password_hash(password, "pbkdf2:sha256:1000")))
        session.commit()
    monkeypatch.setattr(slt_report, "utc_now", lambda: AFTER)
    page.set_viewport_size(LAPTOP)
    page.goto("/login?next=/slt/report")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/slt/report")
    return page


def test_the_report_prints_on_a4_marked_and_numbered(slt: Page, artifacts: Path):
    expect(slt.get_by_role("heading", level=1)).to_have_text("Phone policy report")
    slt.get_by_label("From").fill("2026-10-19")
    slt.get_by_label("To").fill("2026-10-30")
    slt.get_by_role("button", name="Show these dates").click()
    expect(slt.locator("#overall-rate")).to_have_text("90%")
    slt.screenshot(path=artifacts / "slt-report-screen.png", full_page=True)
    slt.set_viewport_size(TABLET)
    slt.screenshot(path=artifacts / "slt-report-tablet-portrait.png", full_page=True)

    slt.emulate_media(media="print")
    pdf = artifacts / "slt-report.pdf"
    slt.pdf(path=str(pdf), prefer_css_page_size=True)
    reader = PdfReader(pdf)
    # NFKC: Chromium's fonts set "ff" and "fi" as ligatures, which the PDF's text keeps.
    pages = [unicodedata.normalize("NFKC", p.extract_text()) for p in reader.pages]
    assert 2 <= len(pages) <= 6
    for number, (page, text) in enumerate(zip(reader.pages, pages, strict=True), start=1):
        width, height = (float(v) for v in page.mediabox.upper_right)
        assert abs(width - A4_POINTS[0]) < 1 and abs(height - A4_POINTS[1]) < 1  # A4, portrait
        assert "OFFICIAL-SENSITIVE: personal data" in text
        assert f"Page {number} of {len(pages)}" in text
        assert "printed by browser-slt" in text
    first = pages[0]
    assert "Test Primary School: phone policy report" in first
    assert "Printed by browser-slt on Monday 2 November 2026 at 09:00" in first
    assert "Chosen dates: 19 October 2026 to 30 October 2026" in first
    assert "Choose the dates" not in first and "Sign out" not in first  # no screen controls
    text = " ".join(" ".join(pages).split())
    for heading in ("Compliance by day", "People with gaps", "Exceptions by category",
                    "Exceptions by week", "Repeated requesters", "Decision times",
                    "How these figures are worked out"):
        assert heading in text

    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "2", str(pdf),
                    str(artifacts / "slt-report-print")], check=True)
    firsts = sorted(artifacts.glob("slt-report-print-*1.png"))
    assert firsts, "pdftoppm wrote no first page"
