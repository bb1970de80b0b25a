"""CSV import: every row previewed with the office form's rules, then all written or none."""

import html
import io
import re

import pytest
from sqlalchemy import func, select

from kiosk.extensions import db
from register.db import unit_of_work
from register.imei import luhn_check_digit
from register.importer import (
    MAX_ROWS,
    Action,
    ImportRefused,
    apply_import,
    decode_csv,
    preview_import,
)
from register.models import AuditEvent, Device, Person

HEADER = "name,category,badge_id,email,imei,imei2,make,model"


def imported(session, text, actor):
    """The import use case in its own unit of work, as the office page runs it."""
    with unit_of_work(session):
        return apply_import(session, text, actor)


def imei(n: int) -> str:
    """A valid IMEI that no one in the test school has."""
    body = f"35{n:012d}"
    return body + str(luhn_check_digit(body))


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\r\n".join([header, *rows]) + "\r\n"


def count(session, model) -> int:
    session.commit()  # end any read snapshot: count what is really stored
    return session.scalar(select(func.count()).select_from(model))


def only_row(preview):
    [row] = [r for r in preview.rows if r.action is not Action.BLANK]
    return row


# --- the preview ---------------------------------------------------------------------------

def test_preview_shows_each_row_with_its_excel_row_number(session, school):
    preview = preview_import(session, csv_text(
        f"Dan Dale,staff,555,dan@example.org,{imei(1)},,Apple,iPhone 13",
        "Erin Ellis,Visitor,,,,,,",
        ",,,,,,,",
    ))
    assert [(r.line, r.action_text) for r in preview.rows] == [
        (2, "new person + phone"), (3, "new person"), (4, "skipped: blank")]
    assert preview.summary == "2 rows ready, 0 with problems"
    assert (preview.new_people, preview.new_phones, preview.blank_count) == (2, 1, 1)
    assert preview.can_import


def test_preview_writes_nothing(session, school):
    before = (count(session, Person), count(session, Device), count(session, AuditEvent))
    preview_import(session, csv_text(f"Dan Dale,staff,,,{imei(1)},,,"))
    assert (count(session, Person), count(session, Device), count(session, AuditEvent)) == before


def test_further_rows_for_the_same_person_add_phones_to_them(session, school):
    text = csv_text(
        f"Dan Dale,staff,,,{imei(1)},,Apple,iPhone 13",
        f"dan dale,Staff,,,{imei(2)},,Nokia,3310",
    )
    preview = preview_import(session, text)
    assert [r.action_text for r in preview.rows] == [
        "new person + phone", "phone for the person on row 2"]
    result = imported(session, text, "office")
    assert (result.people, result.phones) == (1, 2)
    dan = session.scalars(select(Person).where(Person.name == "Dan Dale")).one()
    assert sorted(d.imei for d in dan.devices) == sorted([imei(1), imei(2)])


def test_people_on_the_register_are_matched_by_badge_then_by_name(session, school):
    text = csv_text(
        f"alice adams,staff,0003887558,,{imei(1)},,,",  # by badge
        f"Bob Brown,Staff,,,{imei(2)},,,",  # by name and category
        "Carol Clark,staff,,,,,,",  # already there, no phone: nothing to do
    )
    preview = preview_import(session, text)
    assert [r.action_text for r in preview.rows] == [
        "phone for existing person", "phone for existing person",
        "skipped: already on the register"]
    assert imported(session, text, "office").message == "Imported 0 people and 2 phones."
    session.refresh(school.alice)
    assert len(school.alice.devices) == 2
    assert count(session, Person) == 3


def test_category_labels_and_any_case_are_accepted(session, school):
    preview = preview_import(session, csv_text(
        "Fay Ford,Agency staff,,,,,,", "Gus Gray,STUDENT (TRAINEE),,,,,,",
        "Hal Hope,governor,,,,,,"))
    assert [r.category for r in preview.rows] == ["agency", "student", "governor"]
    assert preview.summary == "3 rows ready, 0 with problems"


def test_header_names_ignore_case_spaces_and_underscores(session, school):
    header = "Name,CATEGORY,Badge ID,E-mail,IMEI 1,imei_2,Make ,Model,Notes"
    preview = preview_import(session, csv_text(
        f"Dan  Dale ,staff,5 55,dan@example.org,{imei(1)},{imei(2)},Apple,X,call first",
        header=header))
    row = only_row(preview)
    assert (row.name, row.badge_id, row.email, row.imei, row.imei2, row.make) == (
        "Dan Dale", "555", "dan@example.org", imei(1), imei(2), "Apple")
    assert preview.ignored_columns == ["Notes"]


# --- each kind of problem, in the words the office reads ----------------------------------

@pytest.mark.parametrize(("cells", "words"), [
    ("Dan Dale,staff,,,490154203237517,,,", "The last digit of 490154203237517 should be 8"),
    ("Dan Dale,staff,,,3520990017614823,,,", "16-digit IMEISV"),
    ("Dan Dale,staff,,,35686800004141,,,",
     "With its check digit it would be 356868000041418: check that against *#06# on the "
     "phone and put all 15 digits in the file."),
    ("Dan Dale,staff,,,490154203237518,,,",
     "IMEI 490154203237518 is already registered to Alice Adams's Test A1."),
    (f"Dan Dale,staff,,,{imei(1)},354178036859789,,", "Second IMEI: IMEI 354178036859789 is "
     "already registered to Bob Brown's Test B1."),
    ("Dan Dale,staff,,,4.90154E+14,,,", "Excel has turned this IMEI into 4.90154E+14"),
    ("Dan Dale,Teacher,,,,,,", "“Teacher” is not a category. Use one of: Staff, Governor"),
    ("Dan Dale,,,,,,,", "Enter the person's category"),
    ("Zed Zane,staff,0000000222,,,,,", "Badge 0000000222 already belongs to Bob Brown."),
    (",staff,,,,,,", "Enter the person's full name."),
    ("Dan Dale,staff,,dan-at-school,,,,", "“dan-at-school” does not look like an email"),
    ("Dan Dale,staff,,,,,Apple,iPhone", "This row has phone details but no IMEI"),
    (f"Dan Dale,staff,,,{imei(1)},{imei(1)},,", "The second IMEI is the same as the first."),
    (f"Dale, Dan,staff,,,{imei(1)},,Apple,iPhone", "is there a comma in a name?"),
    ("Bob Brown,visitor,0000000222,,,,,", "Bob Brown is on the register as Staff, not Visitor"),
])
def test_a_bad_row_is_explained(session, school, cells, words):
    preview = preview_import(session, csv_text(cells))
    row = only_row(preview)
    assert any(words in error for error in row.errors), row.errors
    assert preview.summary == "0 rows ready, 1 with problems"
    assert not preview.can_import


def test_an_imei_twice_in_the_file_names_the_other_row(session, school):
    preview = preview_import(session, csv_text(
        f"Dan Dale,staff,,,{imei(1)},,,", "Erin Ellis,staff,,,,,,",
        f"Fay Ford,staff,,,{imei(1)},,,"))
    assert preview.rows[0].errors == [f"IMEI {imei(1)} is also on row 4 of this file."]
    assert preview.rows[2].errors == [f"IMEI {imei(1)} is also on row 2 of this file."]
    assert preview.summary == "1 row ready, 2 with problems"


def test_a_fourteen_digit_imei_may_be_excel_dropping_a_leading_zero(session, school):
    body = "01234567890123"
    full = body + str(luhn_check_digit(body))  # 012345678901237
    row = only_row(preview_import(session, csv_text(f"Dan Dale,staff,,,{full[1:]},,,")))
    assert f"then it is {full}" in row.errors[0]


def test_badge_that_lost_its_leading_zeros_in_excel(session, school):
    row = only_row(preview_import(session, csv_text("Alice Adams,staff,3887558,,,,,")))
    assert "but 0003887558 (Alice Adams) is: Excel may have removed the leading zeros" in (
        row.errors[0])


def test_phone_for_someone_who_left_is_refused(session, school):
    from register import people
    people.mark_left(session, school.alice, "test")
    session.commit()
    row = only_row(preview_import(session, csv_text(f"Alice Adams,staff,0003887558,,{imei(1)},,,")))
    assert "Alice Adams is marked as left" in row.errors[0]


def test_two_people_of_one_name_need_a_badge_to_tell_them_apart(session, school):
    preview = preview_import(session, csv_text(
        "Dan Dale,staff,555,,,,,", "Dan Dale,staff,556,,,,,", f"Dan Dale,staff,,,{imei(1)},,,"))
    assert preview.rows[1].warnings == []
    assert ("Rows 2 and 3 each add someone called Dan Dale (Staff): add the badge id"
            in preview.rows[2].errors[0])


def test_a_badge_on_a_later_row_only_is_ambiguous(session, school):
    preview = preview_import(session, csv_text("Dan Dale,staff,,,,,,", "Dan Dale,staff,555,,,,,"))
    assert preview.rows[1].errors == [
        "Row 2 also adds Dan Dale (Staff), without a badge id. If this is the same person, give "
        "every row the badge id."]


def test_same_name_as_someone_on_the_register_is_a_warning_not_an_error(session, school):
    row = only_row(preview_import(session, csv_text("Alice Adams,staff,999,,,,,")))
    assert row.errors == []
    assert "already on the register with badge 0003887558" in row.warnings[0]
    assert row.action is Action.NEW_PERSON


# --- the file itself -----------------------------------------------------------------------

def test_utf8_with_bom_is_read(session, school):
    data = ("\ufeff" + csv_text("Zoë Ångström,staff,,,,,,")).encode("utf-8")
    preview = preview_import(session, decode_csv(data))
    assert only_row(preview).name == "Zoë Ångström"


def test_pasted_text_with_a_bom_is_read(session, school):
    preview = preview_import(session, "\ufeff" + csv_text("Dan Dale,staff,,,,,,"))
    assert preview.summary == "1 row ready, 0 with problems"


def test_excel_windows_csv_is_read_as_cp1252(session, school):
    name = "Siân O\u2019Neill"  # Excel's curly apostrophe: 0x92 in cp1252
    data = csv_text(f"{name},staff,,,,,,").encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    text = decode_csv(data)
    imported(session, text, "office")
    assert session.scalars(select(Person.name).where(Person.name.like("Si%"))).one() == name


def test_cells_pasted_from_excel_are_tab_separated(session, school):
    text = csv_text(f"Dan Dale\tstaff\t\t\t{imei(1)}\t\t\t", header=HEADER.replace(",", "\t"))
    assert only_row(preview_import(session, text)).action is Action.NEW_PERSON_AND_PHONE


@pytest.mark.parametrize(("text", "words"), [
    ("name,imei\r\nDan,1\r\n", "has no “category” column"),
    ("Dan Dale,staff\r\n", "has no “name” or “category” column (it reads: Dan Dale, staff)"),
    ("name;category\r\nDan;staff\r\n", "separated by semicolons"),
    ("name,category,Name\r\nDan,staff,Dan\r\n", "The column “Name” appears twice"),
    (HEADER + "\r\n,,,\r\n", "There are no rows under the column names"),
    ("", "The file is empty"),
])
def test_a_file_that_cannot_be_imported_says_why(session, school, text, words):
    with pytest.raises(ImportRefused, match=re.escape(words)):
        preview_import(session, text)


def test_an_excel_workbook_is_refused_with_what_to_do(session, school):
    with pytest.raises(ImportRefused, match=r"Excel workbook.*CSV UTF-8"):
        decode_csv(b"PK\x03\x04 and then a zip")


def test_at_most_five_thousand_rows(session, school):
    rows = [f"Person {n},staff,,,,,," for n in range(MAX_ROWS + 1)]
    with pytest.raises(ImportRefused, match=re.escape(
            "This file has 5,001 rows; one import can take at most 5,000. Split it")):
        preview_import(session, csv_text(*rows))


# --- applying: all or nothing --------------------------------------------------------------

def test_nothing_is_written_when_one_row_is_bad(session, school):
    text = csv_text(
        f"Dan Dale,staff,555,,{imei(1)},,,",
        f"Erin Ellis,visitor,,,{imei(2)},,,",
        "Fay Ford,staff,,,490154203237518,,,",  # Alice's phone
    )
    before = (count(session, Person), count(session, Device), count(session, AuditEvent))
    with pytest.raises(ImportRefused, match="1 row has problems, so nothing was imported") as e:
        imported(session, text, "office")
    assert e.value.preview.rows[2].errors
    assert (count(session, Person), count(session, Device), count(session, AuditEvent)) == before


def test_apply_writes_people_phones_and_one_audit_entry_without_imeis(session, school):
    text = csv_text(
        f"Dan Dale,staff,555,dan@example.org,{imei(1)},{imei(2)},Apple,iPhone 13",
        f"Dan Dale,staff,555,,{imei(3)},,,",
        "Erin Ellis,Volunteer,,,,,,",
        ",,,,,,,",
        f"Bob Brown,staff,,,{imei(4)},,,",
    )
    result = imported(session, text, "office")
    assert result.message == "Imported 2 people and 3 phones."
    dan = session.scalars(select(Person).where(Person.badge_id == "555")).one()
    assert (dan.name, dan.category, dan.email) == ("Dan Dale", "staff", "dan@example.org")
    assert [(d.imei, d.imei2, d.description) for d in dan.devices] == [
        (imei(1), imei(2), "Apple iPhone 13"), (imei(3), None, "Phone")]
    assert all(d.verified_at is None and d.registered_by == "office" for d in dan.devices)
    assert count(session, Person) == 5 and count(session, Device) == 7
    summary = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "register.import")).one()
    assert (summary.actor, summary.detail) == ("office", "4 rows: 2 people and 3 phones added")
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.actor == "office"))
    assert sorted(actions) == ["device.add"] * 3 + ["person.add"] * 2 + ["register.import"]
    details = " ".join(e.subject + e.detail for e in session.scalars(select(AuditEvent)))
    assert not any(imei(n) in details for n in range(1, 5))


def test_nothing_to_import_is_refused(session, school):
    with pytest.raises(ImportRefused, match="Nothing to import"):
        imported(session, csv_text("Alice Adams,staff,,,,,,"), "office")


def test_apply_checks_again_against_the_register_as_it_is_now(session, school):
    from register import people
    text = csv_text(f"Dan Dale,staff,,,{imei(1)},,,")
    assert preview_import(session, text).can_import
    # Someone registers the same phone between the preview and the confirmation.
    people.register_device(session, school.carol, people.DeviceDetails(imei=imei(1)), "other")
    session.commit()
    with pytest.raises(ImportRefused) as refused:
        imported(session, text, "office")
    assert "already registered to Carol Clark" in refused.value.preview.rows[0].errors[0]


# --- through the web -----------------------------------------------------------------------

def people_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Person))


def hidden_csv(page: str) -> str:
    match = re.search(r'name="csv_text" value="([^"]*)"', page)
    assert match, "the preview carries the file to the confirm step"
    return html.unescape(match.group(1))


def test_import_page_explains_the_columns_and_offers_the_template(client, auth, web_school):
    auth.login()
    page = client.get("/office/import").get_data(as_text=True)
    assert 'href="/office/import"' in page  # the nav link
    assert "Download the template (CSV)" in page and "Agency staff" in page
    assert "*#06#" in page
    template = client.get("/office/import/template.csv")
    assert template.mimetype == "text/csv"
    assert "attachment" in template.headers["Content-Disposition"]
    assert template.get_data(as_text=True) == "\ufeff" + HEADER + "\r\n"


def test_upload_preview_then_confirm(app, client, auth, web_school):
    auth.login()
    data = csv_text(f"Dan Dale,Staff,555,,{imei(1)},,Apple,iPhone 13",
                    f"Dan Dale,Staff,555,,{imei(2)},,,").encode("cp1252")
    response = client.post("/office/import", data={"file": (io.BytesIO(data), "people.csv")},
                           content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "2 rows ready, 0 with problems" in page
    assert "new person + phone" in page and "phone for the person on row 2" in page
    assert "Import 1 person and 2 phones" in page
    assert people_count(app) == 3  # the preview wrote nothing

    confirmed = client.post("/office/import/confirm", data={"csv_text": hidden_csv(page)},
                            follow_redirects=True)
    page = confirmed.get_data(as_text=True)
    assert confirmed.request.path == "/office/"
    assert "Imported 1 person and 2 phones." in page
    assert "Dan Dale" in page
    assert people_count(app) == 4


def test_pasted_rows_with_problems_are_shown_and_cannot_be_confirmed(app, client, auth,
                                                                     web_school):
    auth.login()
    text = csv_text(f"Dan Dale,staff,,,{imei(1)},,,", "Erin Ellis,staff,,,490154203237518,,,")
    page = client.post("/office/import", data={"text": text}).get_data(as_text=True)
    assert "1 row ready, 1 with problems" in page
    assert "Row 3 (Erin Ellis):" in page
    assert "is already registered to Alice Adams" in page
    assert "/office/import/confirm" not in page


def test_confirm_refuses_everything_when_a_row_is_bad(app, client, auth, web_school):
    auth.login()
    text = csv_text(f"Dan Dale,staff,,,{imei(1)},,,", "Erin Ellis,staff,,,490154203237518,,,")
    response = client.post("/office/import/confirm", data={"csv_text": text})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Nothing was imported:" in page and "1 row has problems" in page
    assert "is already registered to Alice Adams" in page
    assert people_count(app) == 3


def test_an_empty_upload_says_what_to_do(client, auth, web_school):
    auth.login()
    response = client.post("/office/import", data={"text": "  "})
    assert response.status_code == 422
    assert "Choose a CSV file to upload, or paste the rows" in response.get_data(as_text=True)


def test_a_file_too_large_to_send_says_so(client, auth, web_school):
    auth.login()
    big = io.BytesIO(b"x" * (3 * 1024 * 1024))
    response = client.post("/office/import", data={"file": (big, "big.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 413
    assert "Split the file into smaller files" in response.get_data(as_text=True)


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/office/import"), ("get", "/office/import/template.csv"),
    ("post", "/office/import"), ("post", "/office/import/confirm"),
])
def test_only_the_office_may_import(app, client, auth, web_school, method, path):
    response = getattr(client, method)(path, data={"csv_text": csv_text("Dan,staff,,,,,,")})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    auth.login("slt")
    assert getattr(client, method)(path, data={
        "csv_text": csv_text("Dan,staff,,,,,,")}).status_code == 403
    assert people_count(app) == 3
