"""The office's register pages in a real browser, forms and CSRF tokens included."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

# 490154203237518 (the example) already belongs to Alice in the test school, so the
# new phone uses another published IMEI with the same kind of slip in its last digit.
MISTYPED_IMEI = "356868000041417"
CORRECT_IMEI = "356868000041418"


def test_office_registers_a_person_and_a_mistyped_imei_is_caught(office: Page, camera):
    camera.office(office, "people")
    office.get_by_role("link", name="Add a person").click()
    office.get_by_label("Full name").fill("Dana Davies")
    office.get_by_label("Category").select_option(label="Staff")
    office.get_by_label("Badge id").fill("0000000444")
    camera.office(office, "add-person")
    office.get_by_role("button", name="Save").click()

    expect(office.locator(".flash")).to_contain_text("Dana Davies is on the register")
    expect(office.get_by_role("heading", level=1)).to_have_text("Add a phone for Dana Davies")
    fill_phone(office, MISTYPED_IMEI)
    alert = office.get_by_role("alert")
    expect(alert).to_contain_text(
        f"The last digit of {MISTYPED_IMEI} should be 8, not 7: check for a mistyped digit")
    expect(office.locator("input[name=imei]")).to_have_attribute("aria-invalid", "true")
    camera.office(office, "device-form-imei-error")

    fill_phone(office, CORRECT_IMEI)
    expect(office.get_by_role("heading", level=1)).to_contain_text("Dana Davies")
    expect(office.locator(".flash")).to_contain_text("Google Pixel 8 registered. Label code PH")
    # On the person's page an IMEI shows its last four digits; Show puts the whole one in
    # place (issue 11: the server records who looked), Hide takes it away again.
    phone = office.locator(".device")
    expect(phone).to_contain_text("•••• 1418")
    expect(phone).not_to_contain_text(CORRECT_IMEI)
    camera.office(office, "person")
    phone.get_by_role("button", name="Show the whole IMEI of Google Pixel 8").click()
    expect(phone).to_contain_text(CORRECT_IMEI)
    camera.office(office, "person-imei-shown")
    phone.get_by_role("button", name="Hide the whole IMEI of Google Pixel 8").click()
    expect(phone).to_contain_text("•••• 1418")
    expect(phone).not_to_contain_text(CORRECT_IMEI)


def test_fourteen_digit_imei_shows_the_check_digit_to_confirm(office: Page, web_school, camera):
    office.goto(f"/office/people/{web_school.carol.id}/devices/new")
    fill_phone(office, "26053179311383")
    expect(office.get_by_role("alert")).to_contain_text(
        "We added the check digit 7: the full IMEI is 260531793113837.")
    imei = office.locator("input[name=imei]")
    expect(imei).to_have_value("260531793113837")
    expect(imei).not_to_have_attribute("aria-invalid", "true")  # a question, not a mistake
    camera.office(office, "device-form-check-digit")

    office.get_by_role("button", name="Save phone").click()  # confirmed as shown
    expect(office.locator(".flash")).to_contain_text("registered")
    expect(office.locator(".device").filter(has_text="•••• 3837")).to_have_count(1)


def fill_phone(page: Page, imei: str) -> None:
    page.locator("input[name=imei]").fill(imei)
    page.get_by_label("Make").fill("Google")
    page.get_by_label("Model").fill("Pixel 8")
    page.get_by_role("button", name="Save phone").click()
