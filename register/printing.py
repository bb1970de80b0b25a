"""What the printed register, the IMEI slips and the lost-phone report show. Queries only:
the layouts (HTML, PDF, CSV) live with the web app, and all of them read these rows.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, selectinload

from register.errors import NotFound
from register.models import Category, Deposit, Device, Kiosk, Locker, Person

# The protective marking on every printed page of personal data (Government Security
# Classifications): one wording for the register, slips, labels menu, roll call and reports.
MARKING = "OFFICIAL-SENSITIVE: personal data"

STATUSES = {"active": "Active", "left": "Left", "all": "Active and left"}
VERIFIED = {"any": "Verified or not", "yes": "Verified", "no": "Not verified"}
CATEGORY_ORDER = {category.value: index for index, category in enumerate(Category)}


@dataclass(frozen=True)
class RegisterFilter:
    """Which part of the register to print. Unknown values fall back to the defaults."""

    category: str = ""  # "" is every category
    status: str = "active"  # active, left or all
    verified: str = "any"  # any, yes (IMEI checked against *#06#) or no

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> RegisterFilter:
        category = args.get("category", "")
        status = args.get("status", "active")
        verified = args.get("verified", "any")
        return cls(category=category if category in CATEGORY_ORDER else "",
                   status=status if status in STATUSES else "active",
                   verified=verified if verified in VERIFIED else "any")

    def as_args(self) -> dict[str, str]:
        return {"category": self.category, "status": self.status, "verified": self.verified}

    def describe(self) -> str:
        """One line for the printed header and the audit trail, e.g. "Staff; active; verified"."""
        category = Category(self.category).label if self.category else "All categories"
        return f"{category}; {STATUSES[self.status].lower()}; {VERIFIED[self.verified].lower()}"


@dataclass(frozen=True, slots=True)
class RegisterRow:
    """One phone (or one person with none) as a line of the register."""

    person_id: int
    name: str
    category: str
    category_label: str
    active: bool
    device_id: int | None = None
    make: str = ""
    model: str = ""
    imeis: tuple[str, ...] = ()
    label_code: str = ""
    registered_at: datetime | None = None
    verified_at: datetime | None = None
    verified_by: str | None = None

    @property
    def make_and_model(self) -> str:
        return " ".join(part for part in (self.make, self.model) if part) or (
            "Phone" if self.device_id else "")


@dataclass
class RegisterGroup:
    category: str
    label: str
    rows: list[RegisterRow] = field(default_factory=list)


def name_key(name: str) -> tuple[str, str]:
    """Sort Óisín with the Os and Zoë with the Zs, whatever the database's collation."""
    folded = unicodedata.normalize("NFKD", name.casefold())
    return "".join(ch for ch in folded if not unicodedata.combining(ch)), name


def register_rows(session: Session, wanted: RegisterFilter) -> list[RegisterRow]:
    """The register as printed: by category (the policy's order), then by name.

    A person with no current phone is a row of their own, so the paper shows who has not
    registered one; the verified filter, which is about phones, leaves them out.

    One query for the columns printed, not people and their phones as ORM objects: a big
    school's register is thousands of rows, read once, and held only as long as the page.
    """
    current = and_(Device.owner_id == Person.id, Device.retired_at.is_(None))
    statement = select(
        Person.id, Person.name, Person.category, Person.active, Device.id, Device.make,
        Device.model, Device.imei, Device.imei2, Device.label_code, Device.registered_at,
        Device.verified_at, Device.verified_by,
    ).outerjoin(Device, current)
    if wanted.category:
        statement = statement.where(Person.category == wanted.category)
    if wanted.status != "all":
        statement = statement.where(Person.active.is_(wanted.status == "active"))
    if wanted.verified == "yes":
        statement = statement.where(Device.verified_at.is_not(None))
    elif wanted.verified == "no":
        statement = statement.where(Device.id.is_not(None), Device.verified_at.is_(None))
    labels = {category.value: category.label for category in Category}
    rows = [
        RegisterRow(person_id, name, category, labels[category], active, device_id,
                    make or "", model or "", tuple(i for i in (imei, imei2) if i),
                    label_code or "", registered_at, verified_at, verified_by)
        for (person_id, name, category, active, device_id, make, model, imei, imei2,
             label_code, registered_at, verified_at, verified_by) in session.execute(statement)
    ]
    rows.sort(key=lambda r: (CATEGORY_ORDER[r.category], name_key(r.name), r.person_id,
                             r.device_id or 0))
    return rows


def group_by_category(rows: list[RegisterRow]) -> list[RegisterGroup]:
    groups: list[RegisterGroup] = []
    for row in rows:
        if not groups or groups[-1].category != row.category:
            groups.append(RegisterGroup(row.category, row.category_label))
        groups[-1].rows.append(row)
    return groups


# --- the lost or stolen phone report -------------------------------------------------------

@dataclass(frozen=True)
class LockerVisit:
    """Where and when: one end of a deposit."""

    at: datetime
    locker: str  # e.g. "locker 7 (Staff room)"
    kiosk: str  # the kiosk it was scanned at, or "" if none was recorded


@dataclass(frozen=True)
class LostPhoneReport:
    device: Device
    owner: Person
    last_deposited: LockerVisit | None
    last_collected: LockerVisit | None
    in_locker_now: bool


def lost_phone_report(session: Session, device_id: int) -> LostPhoneReport:
    """What the police, the network or an insurer asks for, from the register and deposits."""
    device = session.get(Device, device_id)
    if device is None:
        raise NotFound("No such phone on the register.")
    last = session.scalars(
        select(Deposit).where(Deposit.device_id == device.id)
        .options(selectinload(Deposit.locker).selectinload(Locker.bank))
        .order_by(Deposit.deposited_at.desc(), Deposit.id.desc()).limit(1)
    ).first()
    collected = session.scalars(
        select(Deposit).where(Deposit.device_id == device.id, Deposit.collected_at.is_not(None))
        .order_by(Deposit.collected_at.desc(), Deposit.id.desc()).limit(1)
    ).first()
    kiosks: dict[int, str] = {k.id: k.name for k in session.scalars(select(Kiosk))}
    deposited_visit = collected_visit = None
    if last is not None:
        deposited_visit = LockerVisit(last.deposited_at, last.locker.display_name,
                                      kiosks.get(last.deposit_kiosk_id or 0, ""))
    if collected is not None and collected.collected_at is not None:
        collected_visit = LockerVisit(collected.collected_at, collected.locker.display_name,
                                      kiosks.get(collected.collect_kiosk_id or 0, ""))
    return LostPhoneReport(device, device.owner, deposited_visit, collected_visit,
                           in_locker_now=last is not None and last.collected_at is None)
