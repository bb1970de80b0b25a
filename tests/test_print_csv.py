"""CSV exports: what a spreadsheet opens must be the text we wrote, and never a formula."""

from __future__ import annotations

import csv
import io

import pytest

from kiosk.extensions import db
from register import exports, importer, people
from register.db import unit_of_work
from register.imei import luhn_check_digit

# Each dangerous first character, and what must arrive in the cell.
DANGEROUS = [
    ("=HYPERLINK(\"http://x.example\",\"click\")", "'=HYPERLINK(\"http://x.example\",\"click\")"),
    ("+44 7700 900123", "'+44 7700 900123"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("\n=1+1", "'\n=1+1"),
]
HARMLESS = [
    ("Siobhán Ó Súilleabháin", "Siobhán Ó Súilleabháin"),
    ("王秀英", "王秀英"),
    ("Zoë", "Zoë"),
    ("Smith, John", "Smith, John"),
    ('Dwayne "The Rock" Johnson', 'Dwayne "The Rock" Johnson'),
    ("Line one\nline two", "Line one\nline two"),
    ("Carriage\r\nreturn", "Carriage\r\nreturn"),
    ("O'Brien", "O'Brien"),
    ("a=b", "a=b"),  # only the first character matters
    ("", ""),
    (None, ""),
    (490154203237518, "490154203237518"),
    ("0004411223", "0004411223"),  # leading zeros are text, kept as written
]


def read_back(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline="")))


@pytest.mark.parametrize(("value", "expected"), DANGEROUS + HARMLESS)
def test_every_cell_reads_back_as_written_or_neutralised(value, expected):
    text = exports.csv_text(["name", "note"], [[value, "after"]])
    header, row = read_back(text)
    assert header == ["name", "note"]
    assert row == [expected, "after"]


@pytest.mark.parametrize(("value", "_expected"), DANGEROUS)
def test_a_dangerous_header_is_neutralised_too(value, _expected):
    (header,) = read_back(exports.csv_text([value], []))
    assert header[0].startswith("'")


def test_rfc_4180_quoting_and_line_ends():
    text = exports.csv_text(["a", "b"], [["x,y", 'say "hi"'], ["two\nlines", "plain"]])
    assert text == '\ufeffa,b\r\n"x,y","say ""hi"""\r\n"two\nlines",plain\r\n'
    assert text.encode("utf-8").startswith(b"\xef\xbb\xbf")


def test_the_import_template_uses_the_same_writer():
    assert importer.template_csv() == exports.csv_text(importer.COLUMNS, [])


def test_register_csv_download(client, auth, app, web_school):
    with app.app_context(), unit_of_work(db.session()):
        for n, (name, model) in enumerate((("=cmd|' /C calc'!A0", "+1 Pro"),
                                           ("王秀英", "Zoë's, \"best\""),
                                           ("Siobhán Ó Súilleabháin", "-\n@"))):
            body = f"35{n:012d}"
            person = people.add_person(db.session, people.PersonDetails(name, "staff"), "t")
            people.register_device(db.session, person, people.DeviceDetails(
                imei=body + str(luhn_check_digit(body)), make="Acme", model=model), "t")
    auth.login("office")
    response = client.get("/print/register.csv?category=staff")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = read_back(response.data.decode("utf-8"))
    header = rows[0]
    assert header[:3] == ["name", "category", "status"]
    by_name = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert by_name["'=cmd|' /C calc'!A0"]["model"] == "'+1 Pro"
    assert by_name["王秀英"]["model"] == "Zoë's, \"best\""
    assert by_name["Siobhán Ó Súilleabháin"]["model"] == "'-\n@"
    assert by_name["Alice Adams"]["imei"] == "490154203237518"
    assert by_name["Alice Adams"]["badge_id"] == "0003887558"
    assert all(not cell.startswith(exports.FORMULA_STARTS) for row in rows for cell in row)
    assert len(rows) == 1 + 4 + 3  # Bob has two phones: one row per phone
