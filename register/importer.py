"""CSV import of stakeholders and their phones: a preview of every row, then all or nothing.

Every row is checked with the office form's own rules (``register.people``), so an import can
never put on the register what the form would refuse. Rows are numbered as Excel numbers them
(the header is row 1), because the office fixes problems in the spreadsheet, not in the file.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from register import audit, exports, people
from register.errors import RegisterError
from register.imei import luhn_check_digit
from register.models import Category, Device, Person, utc_now
from register.people import ImeiNeedsConfirmation, PersonDetails

MAX_ROWS = 5_000
COLUMNS = ("name", "category", "badge_id", "email", "imei", "imei2", "make", "model")
_REQUIRED = ("name", "category")
# The register's column sizes: a longer value would only fail at the last step, on PostgreSQL.
# What Excel writes for a long number in a "General" cell, such as 4.90154E+14: digits are lost.
_EXCEL_NUMBER = re.compile(r"\d+(\.\d+)?E\+?\d+", re.IGNORECASE)
_SAVE_AS_CSV = "In Excel choose File, Save As, and pick “CSV UTF-8 (Comma delimited)”."


class ImportRefused(RegisterError):
    """Nothing is imported. ``preview`` holds the row-by-row reasons when there are some."""

    def __init__(self, message: str, preview: ImportPreview | None = None) -> None:
        super().__init__(message)
        self.preview = preview


class Action(StrEnum):
    NEW_PERSON_AND_PHONE = "new person + phone"
    NEW_PERSON = "new person"
    PHONE_FOR_EXISTING = "phone for existing person"
    PHONE_FOR_EARLIER_ROW = "phone for the person on an earlier row"
    ALREADY_ON_REGISTER = "skipped: already on the register"
    SAME_AS_EARLIER_ROW = "skipped: same person as an earlier row"
    BLANK = "skipped: blank"


_ADDS_PERSON = (Action.NEW_PERSON, Action.NEW_PERSON_AND_PHONE)
_ADDS_PHONE = (Action.NEW_PERSON_AND_PHONE, Action.PHONE_FOR_EXISTING,
               Action.PHONE_FOR_EARLIER_ROW)


@dataclass
class ImportRow:
    """One row of the file: what it says, what importing it would do, and what stops it."""

    line: int  # Excel's row number: the header is row 1
    name: str = ""
    category_text: str = ""
    badge_id: str | None = None
    email: str = ""
    imei: str = ""  # the cleaned 15 digits once checked, else as typed
    imei2: str = ""
    make: str = ""
    model: str = ""
    category: Category | None = None
    action: Action = Action.BLANK
    existing_id: int | None = None  # the person already on the register
    person_line: int | None = None  # the earlier row that adds this (new) person
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checked_imeis: list[str] = field(default_factory=list, repr=False)

    @property
    def category_label(self) -> str:
        return self.category.label if self.category else self.category_text

    @property
    def action_text(self) -> str:
        if self.errors:  # it will do nothing until it is fixed: never "new person + phone"
            return "✕ to fix: nothing is imported until this row is right"
        if self.action is Action.PHONE_FOR_EARLIER_ROW:
            return f"phone for the person on row {self.person_line}"
        if self.action is Action.SAME_AS_EARLIER_ROW:
            return f"skipped: same person as row {self.person_line}"
        return str(self.action)


@dataclass
class ImportPreview:
    rows: list[ImportRow]
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def problem_rows(self) -> list[ImportRow]:
        return [row for row in self.rows if row.errors]

    @property
    def warning_rows(self) -> list[ImportRow]:
        return [row for row in self.rows if row.warnings]

    @property
    def ready_count(self) -> int:
        return sum(1 for row in self.rows if row.action is not Action.BLANK and not row.errors)

    @property
    def blank_count(self) -> int:
        return sum(1 for row in self.rows if row.action is Action.BLANK)

    @property
    def new_people(self) -> int:
        return sum(1 for row in self.rows if row.action in _ADDS_PERSON)

    @property
    def new_phones(self) -> int:
        return sum(1 for row in self.rows if row.action in _ADDS_PHONE)

    @property
    def can_import(self) -> bool:
        return not self.problem_rows and (self.new_people + self.new_phones) > 0

    @property
    def summary(self) -> str:
        return f"{plural(self.ready_count, 'row')} ready, {len(self.problem_rows)} with problems"


@dataclass(frozen=True)
class ImportResult:
    people: int
    phones: int

    @property
    def message(self) -> str:
        return (f"Imported {plural(self.people, 'person', 'people')} and "
                f"{plural(self.phones, 'phone')}.")


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def template_csv() -> str:
    # With a BOM (exports.csv_text), so Excel keeps names with accents on a round trip.
    return exports.csv_text(COLUMNS, [])


def decode_csv(data: bytes) -> str:
    """The text of an uploaded file: UTF-8 (with or without BOM), else Excel's Windows-1252."""
    if data.startswith(b"PK\x03\x04"):
        raise ImportRefused(f"This is an Excel workbook (.xlsx), not a CSV file. {_SAVE_AS_CSV}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        # Excel's plain "CSV (Comma delimited)" on Windows writes cp1252, not UTF-8.
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise ImportRefused(f"This file is not a CSV file we can read. {_SAVE_AS_CSV}") from None


def preview_import(session: Session, text: str) -> ImportPreview:
    """Check every row against the register. Reads only: nothing is added to ``session``."""
    header_line, header, records = _split_header(_records(text))
    columns, ignored = _columns(header_line, header)
    rows = [_read_row(line, record, columns, len(header)) for line, record in records]
    _check_size(rows)
    checker = _RowChecker(session)
    for row in rows:
        checker.check(row)
    _flag_imeis_repeated_in_file(rows)
    return ImportPreview(rows, ignored)


def apply_import(session: Session, text: str, actor: str) -> ImportResult:
    """Check the file again and write all of it, or nothing at all: inside the caller's unit of
    work, which sees the register as it is now (it may have changed since the preview)."""
    preview = preview_import(session, text)
    if preview.problem_rows:
        count = len(preview.problem_rows)
        raise ImportRefused(
            f"{plural(count, 'row')} {'has' if count == 1 else 'have'} problems, so nothing "
            "was imported. Fix them in the spreadsheet and upload it again.", preview)
    if not preview.can_import:
        raise ImportRefused("Nothing to import: everyone in the file is already on the "
                            "register, and no row adds a phone.", preview)
    return _write(session, preview, actor)


# --- reading the file ----------------------------------------------------------------------

def _records(text: str) -> list[tuple[int, list[str]]]:
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        raise ImportRefused(f"This file is not a CSV file we can read. {_SAVE_AS_CSV}")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    records: list[tuple[int, list[str]]] = []
    try:
        # Numbered by record, not by physical line: a quoted cell may hold a line break.
        for number, record in enumerate(reader, start=1):
            # Stray spaces and line breaks inside a cell are never meant: one space each.
            records.append((number, [" ".join(cell.split()) for cell in record]))
    except csv.Error as error:
        raise ImportRefused(f"Row {len(records) + 1} could not be read ({error}). "
                            f"{_SAVE_AS_CSV}") from None
    return records


def _delimiter(text: str) -> str:
    # Cells copied from Excel and pasted into the box arrive separated by tabs.
    first = next((line for line in text.splitlines() if line.strip()), "")
    return "\t" if "\t" in first and "," not in first else ","


def _split_header(
    records: list[tuple[int, list[str]]],
) -> tuple[int, list[str], list[tuple[int, list[str]]]]:
    for index, (line, record) in enumerate(records):
        if any(record):
            return line, record, records[index + 1:]
    raise ImportRefused("The file is empty. Download the template to see what goes in it.")


def _header_key(cell: str) -> str:
    return re.sub(r"[\s_\-]+", "", cell).casefold()


# "IMEI 1" beside "IMEI 2" is what people naturally type.
_KEYS = {_header_key(column): column for column in COLUMNS} | {"imei1": "imei"}


def _columns(line: int, header: list[str]) -> tuple[dict[str, int], list[str]]:
    if len(header) == 1 and ";" in header[0]:
        raise ImportRefused("The columns in this file are separated by semicolons, not commas. "
                            + _SAVE_AS_CSV)
    columns: dict[str, int] = {}
    ignored: list[str] = []
    for index, cell in enumerate(header):
        column = _KEYS.get(_header_key(cell))
        if column is None:
            if cell:
                ignored.append(cell)
        elif column in columns:
            raise ImportRefused(f"The column “{cell}” appears twice in row {line}: keep one.")
        else:
            columns[column] = index
    missing = [column for column in _REQUIRED if column not in columns]
    if missing:
        raise ImportRefused(
            f"Row {line} must hold the column names, and it has no "
            f"{' or '.join(f'“{m}”' for m in missing)} column (it reads: "
            f"{', '.join(header[:8])}). Download the template to see the layout.")
    return columns, ignored


def _read_row(line: int, record: list[str], columns: dict[str, int], width: int) -> ImportRow:
    def cell(column: str) -> str:
        index = columns.get(column)
        return record[index] if index is not None and index < len(record) else ""

    row = ImportRow(
        line=line, name=cell("name"), category_text=cell("category"),
        badge_id=people.normalise_badge_id(cell("badge_id")), email=cell("email"),
        imei=cell("imei"), imei2=cell("imei2"), make=cell("make"), model=cell("model"),
    )
    if not any(record):
        return row
    row.action = Action.NEW_PERSON
    if any(record[width:]):
        row.errors.append("This row has more cells than there are columns: is there a comma "
                          "in a name? Remove it, or put that cell in double quotes.")
    return row


def _check_size(rows: list[ImportRow]) -> None:
    count = sum(1 for row in rows if row.action is not Action.BLANK)
    if count > MAX_ROWS:
        raise ImportRefused(f"This file has {count:,} rows; one import can take at most "
                            f"{MAX_ROWS:,}. Split it into smaller files and import them one "
                            "after another.")
    if count == 0:
        raise ImportRefused("There are no rows under the column names: add one row for each "
                            "phone, or for each person without a phone.")


def parse_category(text: str) -> Category | None:
    """A category by its value or its label, whatever the case (“Agency staff”, “agency”)."""
    wanted = " ".join(text.split()).casefold()
    return next((c for c in Category if wanted in (c.value, c.label.casefold())), None)


def _name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _rows_text(lines: list[int]) -> str:
    if len(lines) == 1:
        return f"row {lines[0]}"
    return f"rows {', '.join(map(str, lines[:-1]))} and {lines[-1]}"


# --- checking each row ---------------------------------------------------------------------

class _RowChecker:
    """Matches each row to a person (on the register, or added by an earlier row) and checks
    it with the office form's rules."""

    def __init__(self, session: Session) -> None:
        self.session = session
        everyone = list(session.scalars(select(Person)))
        self.by_badge = {p.badge_id: p for p in everyone if p.badge_id}
        self.by_badge_without_zeros = {b.lstrip("0"): p for b, p in self.by_badge.items()}
        self.by_name: dict[tuple[str, str], list[Person]] = defaultdict(list)
        for person in everyone:
            self.by_name[(_name_key(person.name), person.category)].append(person)
        # The first row that names each person in this file.
        self.file_by_badge: dict[str, ImportRow] = {}
        self.file_by_name: dict[tuple[str, str], list[ImportRow]] = defaultdict(list)

    def check(self, row: ImportRow) -> None:
        if row.action is Action.BLANK:
            return
        self._check_person(row)
        self._check_phone(row)
        row.action = _settle_action(row)

    def _check_person(self, row: ImportRow) -> None:
        row.category = parse_category(row.category_text)
        if row.category is None:
            row.errors.append(_unknown_category(row.category_text))
            # A stand-in category, so that the name and badge are still checked.
            self._check_new_person(row, Category.STAFF)
            return
        earlier = self._earlier_row(row, row.category)
        if earlier is not None:
            self._same_as_earlier(row, earlier)
            return
        existing = self._on_register(row, row.category)
        if existing is not None:
            row.existing_id = existing.id
        else:
            self._check_new_person(row, row.category)
        self.file_by_name[(_name_key(row.name), row.category)].append(row)
        if row.badge_id:
            self.file_by_badge[row.badge_id] = row

    def _earlier_row(self, row: ImportRow, category: Category) -> ImportRow | None:
        same_name = self.file_by_name[(_name_key(row.name), category)]
        if row.badge_id:
            earlier = self.file_by_badge.get(row.badge_id)
            unbadged = [r.line for r in same_name if not r.badge_id and r.existing_id is None]
            if earlier is None and unbadged:
                verb = "adds" if len(unbadged) == 1 else "add"
                row.errors.append(
                    f"{_rows_text(unbadged).capitalize()} also {verb} {row.name} "
                    f"({category.label}), without a badge id. If this is the same person, give "
                    "every row the badge id.")
            return earlier
        if len(same_name) > 1:
            row.errors.append(
                f"{_rows_text([r.line for r in same_name]).capitalize()} each add someone called "
                f"{row.name} ({category.label}): add the badge id to say which person this row "
                "is for.")
        return same_name[0] if same_name else None

    def _same_as_earlier(self, row: ImportRow, earlier: ImportRow) -> None:
        row.existing_id = earlier.existing_id
        row.person_line = earlier.line if earlier.existing_id is None else None
        if _name_key(row.name) != _name_key(earlier.name):
            row.errors.append(f"Badge {row.badge_id} is also on row {earlier.line}, "
                              f"for {earlier.name}.")
        elif row.category is not earlier.category:
            row.errors.append(f"Row {earlier.line} gives {earlier.name}'s category as "
                              f"{earlier.category_label}: use the same category on every row.")
        elif (earlier.existing_id is None and row.email
              and row.email.casefold() != earlier.email.casefold()):
            row.errors.append(f"Row {earlier.line} gives a different email for {earlier.name}: "
                              "use the same email on every row for one person, or leave it "
                              "empty on the later rows.")

    def _on_register(self, row: ImportRow, category: Category) -> Person | None:
        same_name = self.by_name[(_name_key(row.name), category)]
        if row.badge_id:
            holder = self.by_badge.get(row.badge_id)
            if holder is None:
                self._check_lost_zeros(row)
                self._warn_same_name(row, category, same_name)
                return None
            if _name_key(holder.name) != _name_key(row.name):
                return None  # the form's own check names the badge's holder
            return self._usable(row, holder, category)
        active = [p for p in same_name if p.active]
        if len(active) > 1:
            row.errors.append(
                f"There are {len(active)} people called {row.name} ({category.label}) on the "
                "register: add the badge id to say which one this row is for.")
        if active:
            return self._usable(row, active[0], category)
        self._warn_same_name(row, category, same_name)
        return None

    def _usable(self, row: ImportRow, person: Person, category: Category) -> Person:
        if not person.active:
            row.errors.append(f"{person.name} is marked as left. To add a phone for them, "
                              "reinstate them on their page first.")
        elif person.category != category:
            row.errors.append(
                f"{person.name} is on the register as {person.category_label}, not "
                f"{category.label}. Import does not change people's details: correct the "
                "file, or edit them on the register first.")
        return person

    def _check_lost_zeros(self, row: ImportRow) -> None:
        badge = row.badge_id or ""
        person = self.by_badge_without_zeros.get(badge.lstrip("0")) if badge.strip("0") else None
        if person is not None:
            row.errors.append(
                f"Badge {badge} is not on the register, but {person.badge_id} ({person.name}) "
                "is: Excel may have removed the leading zeros. Format the badge column as Text "
                "and type the badge ids in full.")

    def _warn_same_name(self, row: ImportRow, category: Category, same: list[Person]) -> None:
        if not same:
            return
        person = next((p for p in same if p.active), same[0])
        if not person.active:
            row.warnings.append(
                f"Someone called {person.name} ({category.label}) is on the register as having "
                "left. This row adds a new person; to bring back the old record instead, "
                "reinstate them on their page.")
        else:
            row.warnings.append(
                f"{person.name} ({category.label}) is already on the register with badge "
                f"{person.badge_id or 'none'}. This row adds a second person of that name.")

    def _check_new_person(self, row: ImportRow, category: Category) -> None:
        details = PersonDetails(name=row.name, category=category, badge_id=row.badge_id,
                                email=row.email)
        try:
            people.validate_person(self.session, details, None)  # the office form's rules
        except RegisterError as error:
            row.errors.append(str(error))

    def _check_phone(self, row: ImportRow) -> None:
        if not row.imei:
            if row.imei2 or row.make or row.model:
                row.errors.append("This row has phone details but no IMEI: add the IMEI (dial "
                                  "*#06# on the phone), or clear the phone columns to add only "
                                  "the person.")
            return
        row.imei = self._checked_imei(row, row.imei, "imei", "")
        if row.imei2:
            row.imei2 = self._checked_imei(row, row.imei2, "imei2", "Second IMEI: ")
        if len(row.checked_imeis) == 2 and row.imei == row.imei2:
            row.errors.append("The second IMEI is the same as the first.")

    def _checked_imei(self, row: ImportRow, typed: str, column: str, prefix: str) -> str:
        """The cleaned IMEI when it passes the form's checks; else ``typed``, with an error."""
        if _EXCEL_NUMBER.fullmatch(typed.replace(" ", "")):
            row.errors.append(
                f"{prefix}Excel has turned this IMEI into {typed} and lost digits. Format the "
                "IMEI columns as Text, type or paste the IMEIs again, then save.")
            return typed
        try:
            imei = people.check_imei(self.session, typed, column, None)  # the form's rules
        except ImeiNeedsConfirmation as error:
            row.errors.append(prefix + _fourteen_digits(error.completed))
            return typed
        except RegisterError as error:
            row.errors.append(prefix + str(error))
            return typed
        row.checked_imeis.append(imei)
        return imei


def _unknown_category(typed: str) -> str:
    choices = ", ".join(c.label for c in Category)
    if not typed:
        return f"Enter the person's category, one of: {choices}."
    return f"“{typed}” is not a category. Use one of: {choices}."


def _fourteen_digits(completed: str) -> str:
    # Nobody can confirm a computed check digit row by row, so the file must carry all 15.
    body = completed[:14]
    message = (f"{body} has 14 digits, one short of an IMEI. With its check digit it would be "
               f"{completed}: check that against *#06# on the phone and put all 15 digits in "
               "the file.")
    if _valid_with_leading_zero(body):
        message += (f" If the IMEI starts with 0, Excel may have dropped it: then it is 0{body}. "
                    "Format the IMEI columns as Text so Excel keeps it.")
    return message


def _valid_with_leading_zero(body: str) -> bool:
    padded = "0" + body
    return luhn_check_digit(padded[:14]) == int(padded[14])


def _settle_action(row: ImportRow) -> Action:
    phone = bool(row.imei)
    if row.person_line is not None:
        return Action.PHONE_FOR_EARLIER_ROW if phone else Action.SAME_AS_EARLIER_ROW
    if row.existing_id is not None:
        return Action.PHONE_FOR_EXISTING if phone else Action.ALREADY_ON_REGISTER
    return Action.NEW_PERSON_AND_PHONE if phone else Action.NEW_PERSON


def _flag_imeis_repeated_in_file(rows: list[ImportRow]) -> None:
    lines: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        for imei in row.checked_imeis:
            lines[imei].append(row.line)
    for row in rows:
        for imei in row.checked_imeis:
            others = [line for line in lines[imei] if line != row.line]
            if others:
                row.errors.append(f"IMEI {imei} is also on {_rows_text(others)} of this file.")


# --- writing -------------------------------------------------------------------------------
# Every row was checked moments ago with the office form's rules, in this same transaction.
# Writing row by row through people.add_person and people.register_device would check and
# flush each row again: 5,000 rows took 43 s on PostgreSQL, past the web server's timeout.
# So the records are built here and inserted in batches, with the same audit entries.

def _write(session: Session, preview: ImportPreview, actor: str) -> ImportResult:
    now = utc_now()
    added = _new_people(preview.rows, now)
    session.add_all(added.values())
    phones = _new_phones(session, preview.rows, added, actor, now)
    session.add_all(phones)
    session.flush()  # ids, for the audit trail
    for person in added.values():
        audit.record(session, actor, "person.add", f"person:{person.id}", at=now)
    for device in phones:
        audit.record(session, actor, "device.add", f"device:{device.id}",
                     f"person:{device.owner_id}", at=now)
    result = ImportResult(people=len(added), phones=len(phones))
    # Counts only: the audit trail never holds an IMEI.
    audit.record(session, actor, "register.import", detail=(
        f"{plural(len(preview.rows) - preview.blank_count, 'row')}: "
        f"{plural(result.people, 'person', 'people')} and {plural(result.phones, 'phone')} "
        "added"), at=now)
    return result


def _new_people(rows: list[ImportRow], now: datetime) -> dict[int, Person]:
    """The people to add, by the row that adds them."""
    return {
        row.line: Person(name=row.name, category=str(row.category), badge_id=row.badge_id,
                         email=row.email, created_at=now)
        for row in rows if row.action in _ADDS_PERSON
    }


def _new_phones(session: Session, rows: list[ImportRow], added: dict[int, Person], actor: str,
                now: datetime) -> list[Device]:
    wanted = [row for row in rows if row.action in _ADDS_PHONE]
    # Owners first: once a phone joins its owner's list, a query would autoflush half a batch.
    owners = [_owner(session, row, added) for row in wanted]
    codes = _unused_label_codes(session, len(wanted))
    return [
        Device(owner=owner, imei=row.imei, imei2=row.imei2 or None, make=row.make[:60],
               model=row.model[:60], label_code=code, registered_at=now, registered_by=actor)
        for row, owner, code in zip(wanted, owners, codes, strict=True)
    ]


def _owner(session: Session, row: ImportRow, added: dict[int, Person]) -> Person:
    if row.line in added:
        return added[row.line]
    if row.person_line is not None:
        return added[row.person_line]
    return session.get_one(Person, row.existing_id)


def _unused_label_codes(session: Session, count: int) -> list[str]:
    """``count`` new label codes, unique among themselves and on the register."""
    codes: set[str] = set()
    while len(codes) < count:
        fresh = {people.new_label_code() for _ in range(count - len(codes))} - codes
        taken = set(session.scalars(select(Device.label_code).where(
            Device.label_code.in_(fresh))))
        codes |= fresh - taken
    return sorted(codes)
