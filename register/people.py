"""Stakeholders and their phones: add, edit, verify, retire, search."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session, selectinload

from register import audit
from register.errors import ImeiTaken, InvalidImei, NotFound, ScanRefused, ValidationError
from register.imei import parse_imei
from register.models import Category, Device, Locker, LockerBank, Person, utc_now
from register.text import ascii_form, clean_text, search_form

# Crockford's base 32 without I, L, O, U: nothing to misread on a small printed label.
_LABEL_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LABEL_PREFIX = "PH"
MAX_LOCKERS = 200  # in one bank
MAX_CODE_LENGTH = 64  # longer than any label, badge or IMEI (with its separators)
# After ascii_form: a label, a badge, or an IMEI with the separators people type in one.
_CODE = re.compile(rf"[A-Z0-9:/.\-]{{1,{MAX_CODE_LENGTH}}}")
_BADGE = re.compile(r"[A-Z0-9]+")


class PossibleDuplicate(ValidationError):
    """Someone of the same name is on the register already: the office confirms that this is a
    different person (``confirmed_different``) or goes to the one there is."""

    reason = "possible_duplicate"

    def __init__(self, name: str, same: list[Person]) -> None:
        described = "; ".join(_described(p) for p in same)
        if len(same) == 1:
            opening = (f"There is already someone called {same[0].name} on the register "
                       f"({described}).")
        else:
            opening = f"There are already {len(same)} people called {name} ({described})."
        super().__init__(f"{opening} If this is someone else, say so below; if it is the same "
                         "person, open their record instead.")
        self.same = same


def _described(person: Person) -> str:
    badge = f"badge {person.badge_id}" if person.badge_id else "no badge"
    left = "" if person.active else ", marked as left"
    return f"{person.category_label}, {badge}{left}"


class RetiredImei(ImeiTaken):
    """The IMEI belongs to a retired phone: the office may bring that phone back instead."""

    reason = "retired_imei"

    def __init__(self, imei: str, device: Device) -> None:
        reason = f" ({device.retired_reason})" if device.retired_reason else ""
        super().__init__(f"IMEI {imei} is {device.owner.name}'s {device.description}, which was "
                         f"retired{reason}.")
        self.device = device


class ImeiNeedsConfirmation(InvalidImei):
    """A 14-digit entry: we computed the check digit and want a person to confirm it."""

    def __init__(self, field: str, completed: str) -> None:
        super().__init__(
            f"We added the check digit {completed[-1]}: the full IMEI is {completed}. "
            "Check it against *#06# on the phone, then save again."
        )
        self.field = field
        self.completed = completed


@dataclass
class PersonDetails:
    name: str
    category: str
    badge_id: str | None = None
    email: str = ""
    fixed_locker_id: int | None = None


@dataclass
class DeviceDetails:
    imei: str
    imei2: str = ""
    make: str = ""
    model: str = ""


def normalise_badge_id(raw: str | None) -> str | None:
    """One form for badge ids, whichever reader typed them (register.text.ascii_form, no
    spaces, capitals). ``validate_person`` refuses one that is then not letters and digits."""
    cleaned = "".join(ascii_form(raw or "").split()).upper()
    return cleaned or None


def normalise_code(raw: str) -> str:
    """A scanned or typed code in the one form labels, badges and IMEIs are kept in ("" for
    nothing at all). A code with characters none of them has is refused here, as unknown."""
    code = "".join(ascii_form(raw).split()).upper()
    if code and not _CODE.fullmatch(code):
        raise ScanRefused("unknown", "That code has characters no label, badge or IMEI has. "
                          "Please try again or see the office.")
    return code


def new_label_code() -> str:
    return LABEL_PREFIX + "".join(secrets.choice(_LABEL_ALPHABET) for _ in range(6))


def get_person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("No such person on the register.")
    return person


def get_device(session: Session, device_id: int) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise NotFound("No such phone on the register.")
    return device


def search_people(
    session: Session, query: str = "", category: str = "", include_left: bool = False
) -> list[Person]:
    """People as they are written: every word of the query in their name, whatever the case,
    accents or spacing (people.search_name, kept by the model), or the exact badge or label
    code, or four or more digits of an IMEI."""
    statement = (select(Person).options(selectinload(Person.devices))
                 .order_by(Person.search_name, Person.name, Person.id))
    term = clean_text(query.replace("\x00", "")).strip()[:200]
    if term:
        words = search_form(term).split()
        clauses: list[ColumnElement[bool]] = []
        if words:
            clauses.append(and_(*(Person.search_name.like(f"%{_like_escaped(word)}%",
                                                          escape="\\") for word in words)))
        code = normalise_badge_id(term) or ""
        digits = "".join(ch for ch in code if "0" <= ch <= "9")
        clauses.append(Person.badge_id == code)
        device_match = select(Device.owner_id).where(
            or_(Device.label_code == code,
                *([Device.imei.like(f"%{digits}%"), Device.imei2.like(f"%{digits}%")]
                  if len(digits) >= 4 else []))
        )
        clauses.append(Person.id.in_(device_match))
        statement = statement.where(or_(*clauses))
    if category:
        statement = statement.where(Person.category == category)
    if not include_left:
        statement = statement.where(Person.active)
    return list(session.scalars(statement))


def _like_escaped(text: str) -> str:
    """``text`` matched as it is inside a LIKE pattern: "%" and "_" are not wildcards."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def same_name(session: Session, name: str, person_id: int | None = None) -> list[Person]:
    """Everyone else whose name reads the same ("Zoe Smith" and "ZOË  SMITH")."""
    folded = search_form(name)[:120]
    if not folded:
        return []
    return list(session.scalars(
        select(Person).where(Person.search_name == folded,
                             Person.id != (person_id if person_id is not None else -1))
        .order_by(Person.id)))


MAX_LENGTH = {"name": 120, "badge_id": 64, "email": 200}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def cleaned_person(details: PersonDetails) -> PersonDetails:
    """The details as they are stored: free text through register.text.clean_text (a NUL is
    refused), the badge in its one form."""
    return PersonDetails(
        name=clean_text(details.name, "The name").strip(), category=details.category,
        badge_id=normalise_badge_id(details.badge_id),
        email=clean_text(details.email, "The email address").strip(),
        fixed_locker_id=details.fixed_locker_id or None)


def validate_person(session: Session, details: PersonDetails, person_id: int | None) -> None:
    """The rules for a person's details, wherever they come from (form or import)."""
    details = cleaned_person(details)
    if not details.name:
        raise ValidationError("Enter the person's full name.")
    for column, limit in MAX_LENGTH.items():
        if len((getattr(details, column) or "").strip()) > limit:
            raise ValidationError(
                f"The {column.replace('_', ' ')} is longer than {limit} characters.")
    if details.email.strip() and not _EMAIL.fullmatch(details.email.strip()):
        raise ValidationError(f"“{details.email.strip()}” does not look like an email address.")
    if details.category not in set(Category):
        raise ValidationError("Choose a category from the list.")
    badge = details.badge_id
    if badge and not _BADGE.fullmatch(badge):
        raise ValidationError(f"A badge number has only the letters A to Z and digits; "
                              f"“{clean_text(badge)[:40]}” has other characters.")
    if badge:
        holder = session.scalar(select(Person).where(Person.badge_id == badge))
        if holder and holder.id != person_id:
            raise ValidationError(f"Badge {badge} already belongs to {holder.name}.")
    if details.fixed_locker_id:
        locker = session.get(Locker, details.fixed_locker_id)
        if locker is None:
            raise ValidationError("That locker does not exist.")
        holder = session.scalar(select(Person).where(Person.fixed_locker_id == locker.id))
        if holder and holder.id != person_id:
            raise ValidationError(f"Locker {locker.number} is already {holder.name}'s locker.")


def add_person(session: Session, details: PersonDetails, actor: str,
               confirmed_different: bool = False) -> Person:
    """A new person; someone of the same name already there is a PossibleDuplicate unless the
    office has confirmed this is a different person."""
    validate_person(session, details, None)
    details = cleaned_person(details)
    same = same_name(session, details.name)
    if same and not confirmed_different:
        raise PossibleDuplicate(details.name, same)
    person = Person(
        name=details.name, category=details.category, badge_id=details.badge_id,
        email=details.email, fixed_locker_id=details.fixed_locker_id,
    )
    session.add(person)
    session.flush()
    audit.record(session, actor, "person.add", f"person:{person.id}")
    return person


def update_person(session: Session, person: Person, details: PersonDetails, actor: str,
                  confirmed_different: bool = False) -> None:
    validate_person(session, details, person.id)
    details = cleaned_person(details)
    if search_form(details.name)[:120] != person.search_name:  # renamed: to someone else's name?
        same = same_name(session, details.name, person.id)
        if same and not confirmed_different:
            raise PossibleDuplicate(details.name, same)
    person.name = details.name
    person.category = details.category
    person.badge_id = details.badge_id
    person.email = details.email
    person.fixed_locker_id = details.fixed_locker_id
    audit.record(session, actor, "person.edit", f"person:{person.id}")


MAX_REASON = 200


def given_reason(text: str, example: str) -> str:
    """The short reason the office must give to retire a phone or mark someone as left."""
    reason = " ".join(clean_text(text, "The reason").split())
    if not reason:
        raise ValidationError(f"Give a short reason, such as “{example}”: it is kept with the "
                              "record and in the audit trail.")
    if len(reason) > MAX_REASON:
        raise ValidationError(f"Keep the reason to {MAX_REASON} characters; it has "
                              f"{len(reason)}.")
    return reason


def mark_left(session: Session, person: Person, actor: str, reason: str = "",
              now: datetime | None = None) -> None:
    """They no longer work with pupils: their badge stops working and their locker is freed."""
    if not person.active:
        raise ValidationError(f"{person.name} is already marked as left.")
    reason = clean_text(reason, "The reason").strip()[:MAX_REASON]
    freed = person.fixed_locker
    person.active = False
    person.left_at = now or utc_now()
    person.left_reason = reason or None
    person.fixed_locker_id = None
    detail = "; ".join(part for part in (
        reason, f"own locker {freed.number} at {freed.bank.name} freed" if freed else "") if part)
    audit.record(session, actor, "person.left", f"person:{person.id}", detail)


def rejoin(session: Session, person: Person, actor: str) -> None:
    """Undo "marked as left": active again, their badge and phones work at the kiosk again.
    Their own locker, freed when they left, is not given back: it may be someone else's now."""
    if person.active:
        raise ValidationError(f"{person.name} is not marked as left.")
    person.active = True
    person.left_at = None
    person.left_reason = None
    audit.record(session, actor, "person.rejoin", f"person:{person.id}")


def check_imei(session: Session, text: str, field: str, device_id: int | None) -> str:
    """A typed IMEI, cleaned and checked, and not registered to any other phone."""
    try:
        parsed = parse_imei(text)
    except InvalidImei as error:
        error.field = field
        raise
    if parsed.completed:
        raise ImeiNeedsConfirmation(field, parsed.imei)
    holder = session.scalar(
        select(Device).where(or_(Device.imei == parsed.imei, Device.imei2 == parsed.imei))
    )
    if holder and holder.id != device_id:
        if holder.retired_at is not None:
            taken: ImeiTaken = RetiredImei(parsed.imei, holder)
        else:
            taken = ImeiTaken(f"IMEI {parsed.imei} is already registered to "
                              f"{holder.owner.name}'s {holder.description}.")
        taken.field = field
        raise taken
    return parsed.imei


def _clean_device(session: Session, details: DeviceDetails, device_id: int | None) -> DeviceDetails:
    imei = check_imei(session, details.imei, "imei", device_id)
    imei2 = ""
    if details.imei2.strip():
        imei2 = check_imei(session, details.imei2, "imei2", device_id)
        if imei2 == imei:
            same = ValidationError("The second IMEI is the same as the first.")
            same.field = "imei2"
            raise same
    return DeviceDetails(imei=imei, imei2=imei2,
                         make=clean_text(details.make, "The make").strip()[:60],
                         model=clean_text(details.model, "The model").strip()[:60])


def register_device(
    session: Session, owner: Person, details: DeviceDetails, actor: str,
    now: datetime | None = None,
) -> Device:
    clean = _clean_device(session, details, None)
    device = Device(
        owner=owner, imei=clean.imei, imei2=clean.imei2 or None, make=clean.make,
        model=clean.model, label_code=_unused_label_code(session),
        registered_at=now or utc_now(), registered_by=actor,
    )
    session.add(device)
    session.flush()
    audit.record(session, actor, "device.add", f"device:{device.id}", f"person:{owner.id}")
    return device


def update_device(session: Session, device: Device, details: DeviceDetails, actor: str) -> None:
    clean = _clean_device(session, details, device.id)
    if clean.imei != device.imei or (clean.imei2 or None) != device.imei2:
        # A changed IMEI has not been checked against the phone yet.
        device.verified_at = None
        device.verified_by = None
    device.imei, device.imei2 = clean.imei, clean.imei2 or None
    device.make, device.model = clean.make, clean.model
    audit.record(session, actor, "device.edit", f"device:{device.id}")


def verify_device(
    session: Session, device: Device, actor: str, now: datetime | None = None
) -> None:
    """The office has read *#06# on the phone and it matches the register."""
    device.verified_at = now or utc_now()
    device.verified_by = actor
    audit.record(session, actor, "device.verify", f"device:{device.id}")


def retire_device(
    session: Session, device: Device, actor: str, reason: str = "", now: datetime | None = None
) -> None:
    if device.retired_at is not None:
        raise ValidationError(f"This {device.description} is already retired.")
    reason = clean_text(reason, "The reason").strip()[:MAX_REASON]
    device.retired_at = now or utc_now()
    device.retired_reason = reason or None
    audit.record(session, actor, "device.retire", f"device:{device.id}", reason)


def reinstate_device(session: Session, device: Device, actor: str,
                     owner: Person | None = None) -> None:
    """Undo a retirement: the phone and its label work at the kiosk again. With ``owner``,
    the phone moves to that person (its IMEI is to be checked with them again)."""
    owner = owner or device.owner
    if device.retired_at is None:
        raise ValidationError(f"{device.owner.name}'s {device.description} is not retired.")
    if not owner.active:
        raise ValidationError(f"{owner.name} is marked as left: rejoin them first, from their "
                              "page.")
    for imei in (device.imei, device.imei2):
        if imei:  # unique on the register, but say so in words should that ever change
            check_imei(session, imei, "imei", device.id)
    previous = device.owner
    device.retired_at = None
    device.retired_reason = None
    if owner.id != previous.id:
        device.owner = owner
        device.verified_at = None
        device.verified_by = None
        audit.record(session, actor, "device.move", f"device:{device.id}",
                     f"from person:{previous.id} to person:{owner.id}")
    audit.record(session, actor, "device.reinstate", f"device:{device.id}",
                 f"person:{owner.id}")


def _unused_label_code(session: Session) -> str:
    while True:
        code = new_label_code()
        if not session.scalar(select(Device.id).where(Device.label_code == code)):
            return code


# --- locker banks -------------------------------------------------------------------------

def add_bank(session: Session, name: str, locker_count: int, actor: str,
             location: str = "") -> LockerBank:
    name = clean_text(name, "The name").strip()
    location = clean_text(location, "The location")
    if not name:
        raise ValidationError("Give the locker bank a name, such as “Staff room”.")
    if len(name) > 80 or len(location.strip()) > 120:
        raise ValidationError("Keep a bank's name to 80 characters and its location to 120.")
    if not 1 <= locker_count <= MAX_LOCKERS:
        raise ValidationError(f"A bank has between 1 and {MAX_LOCKERS} lockers.")
    if session.scalar(select(LockerBank).where(LockerBank.name == name)):
        raise ValidationError(f"There is already a bank called {name}.")
    bank = LockerBank(name=name, location=location.strip())
    bank.lockers = [Locker(number=n) for n in range(1, locker_count + 1)]
    session.add(bank)
    session.flush()
    audit.record(session, actor, "bank.add", f"bank:{bank.id}", f"{locker_count} lockers")
    return bank


def set_out_of_service(session: Session, locker: Locker, out: bool, actor: str) -> None:
    locker.out_of_service = out
    audit.record(session, actor, "locker.out_of_service" if out else "locker.in_service",
                 f"locker:{locker.id}")


def all_lockers(session: Session) -> list[Locker]:
    return list(session.scalars(
        select(Locker).join(LockerBank).order_by(LockerBank.name, Locker.number)
    ))
