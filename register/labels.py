"""QR labels for phones: which phones, what each label says, and where it sits on the sheet.

A label carries the phone's opaque label code (as a QR and in letters) and its owner's
initials: never the IMEI, never a name. Scanning it at the kiosk identifies the phone.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from register.models import Category, Device, Person
from register.printing import CATEGORY_ORDER, name_key
from register.text import whole_number

A4 = (210.0, 297.0)  # mm


@dataclass(frozen=True)
class LabelStock:
    """A sheet of labels, in millimetres from the sheet's top-left corner.

    The figures are the manufacturers' published templates; both sheets are laid out in
    inches (0.1-inch gutters), so the side margins are what is left of 210 mm, split evenly.
    """

    key: str
    name: str
    columns: int
    rows: int
    width: float
    height: float
    top: float  # sheet edge to the first row
    left: float  # sheet edge to the first column
    pitch_x: float  # one label's left edge to the next one's
    pitch_y: float
    fits: str = ""  # sheets of this layout, for people to recognise their box of labels
    page: tuple[float, float] = A4

    @property
    def per_sheet(self) -> int:
        return self.columns * self.rows

    def position(self, index: int) -> tuple[float, float]:
        """Top-left corner of label ``index`` (0-based, across then down) on its sheet."""
        row, column = divmod(index % self.per_sheet, self.columns)
        return self.left + column * self.pitch_x, self.top + row * self.pitch_y


STOCKS = {
    stock.key: stock for stock in (
        LabelStock("l7160", "21 per sheet, 63.5 x 38.1 mm", columns=3, rows=7, width=63.5,
                   height=38.1, top=15.15, left=7.21, pitch_x=66.04, pitch_y=38.1,
                   fits="Avery L7160 and other 21-up sheets of this size"),
        LabelStock("l7651", "65 per sheet, 38.1 x 21.2 mm", columns=5, rows=13, width=38.1,
                   height=21.2, top=10.7, left=4.67, pitch_x=40.64, pitch_y=21.2,
                   fits="Avery L7651 and other 65-up sheets of this size"),
    )
}
DEFAULT_STOCK = "l7160"
WHICH = {
    "all": "Every phone",
    "category": "One category",
    "unverified": "Phones whose IMEI is not yet checked",
    "since": "Phones registered since a date",
    "person": "One person's phones",
}


@dataclass(frozen=True)
class Label:
    code: str  # the label code: what the QR holds and what the kiosk looks up
    initials: str
    device_id: int


@dataclass(frozen=True)
class LabelRequest:
    """Which phones to print labels for, on which stock, from which position on the sheet."""

    stock: LabelStock
    which: str = "all"
    category: str = ""
    since: date | None = None
    person_id: int | None = None
    start: int = 1  # first free label on a part-used sheet, counted across then down

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> LabelRequest:
        stock = STOCKS.get(args.get("stock", ""), STOCKS[DEFAULT_STOCK])
        which = args.get("which", "all")
        category = args.get("category", "")
        try:
            since = date.fromisoformat(args.get("since", ""))
        except ValueError:
            since = None
        person = args.get("person", "")
        start = args.get("start", "1")
        return cls(
            stock=stock, which=which if which in WHICH else "all",
            category=category if category in CATEGORY_ORDER else "", since=since,
            person_id=whole_number(person),
            start=min(max(whole_number(start) or 1, 1), stock.per_sheet),
        )

    def as_args(self) -> dict[str, str]:
        return {"stock": self.stock.key, "which": self.which, "category": self.category,
                "since": self.since.isoformat() if self.since else "",
                "person": str(self.person_id or ""), "start": str(self.start)}

    def describe(self) -> str:
        if self.which == "category" and self.category:
            return f"{Category(self.category).label} phones"
        if self.which == "since" and self.since:
            return f"Phones registered since {self.since:%d %b %Y}"
        return WHICH[self.which]


def initials(name: str) -> str:
    """"Siobhán Ó Súilleabháin" → "SÓS": enough to match a label to its phone, no more."""
    letters = [word[0].upper() for word in name.replace("-", " ").split() if word[0].isalnum()]
    # Arabic or Hebrew initials are spaced: run together, Arabic ones would join into a word.
    right_to_left = any(unicodedata.bidirectional(letter) in ("R", "AL") for letter in letters)
    return (" " if right_to_left else "").join(letters[:4])


def labels_for(session: Session, request: LabelRequest, zone: tzinfo) -> list[Label]:
    """Current phones of people still on the register, in the printed register's order.
    "Since" a date means from midnight of that date in the school's time ``zone``."""
    statement = (select(Device).join(Device.owner).options(joinedload(Device.owner))
                 .where(Device.retired_at.is_(None), Person.active))
    if request.which == "category" and request.category:
        statement = statement.where(Person.category == request.category)
    elif request.which == "unverified":
        statement = statement.where(Device.verified_at.is_(None))
    elif request.which == "since" and request.since:
        start = datetime.combine(request.since, time.min, tzinfo=zone)
        statement = statement.where(Device.registered_at >= start)
    elif request.which == "person":
        statement = statement.where(Device.owner_id == (request.person_id or 0))
    devices = sorted(session.scalars(statement),
                     key=lambda d: (CATEGORY_ORDER[d.owner.category], name_key(d.owner.name),
                                    d.id))
    return [Label(d.label_code, initials(d.owner.name), d.id) for d in devices]


@dataclass(frozen=True)
class PlacedLabel:
    sheet: int  # 0-based
    x: float  # mm from the sheet's left edge
    y: float  # mm from the sheet's top edge
    label: Label


def lay_out(labels: list[Label], stock: LabelStock, start: int = 1) -> list[PlacedLabel]:
    """Each label's sheet and position; the first ``start - 1`` positions are left empty."""
    placed = []
    for index, label in enumerate(labels, start=start - 1):
        x, y = stock.position(index)
        placed.append(PlacedLabel(index // stock.per_sheet, x, y, label))
    return placed
