"""The fire roll call: who is on site now, by stakeholder category, with their phones' lockers.

"On site" is "on duty" (``register.duty``): scanned in at a kiosk (a phone locked away, or
on duty under an agreed exception) and not yet scanned out. Queries only; the page, its
printing and the audit entry live with the web app.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from register.models import Category, Deposit, DutyPeriod, Locker
from register.printing import CATEGORY_ORDER, name_key


@dataclass(frozen=True)
class LockedPhone:
    """A phone of someone on site, in a locker now."""

    number: int
    bank: str
    description: str  # make and model: which of a person's phones it is

    @property
    def place(self) -> str:
        return f"{self.number} ({self.bank})"


@dataclass(frozen=True)
class OnSite:
    """One person scanned in and not out."""

    person_id: int
    name: str
    category: str
    since: datetime
    phones: tuple[LockedPhone, ...]
    earlier_day: bool  # scanned in before today and never out: maybe gone home unscanned

    @property
    def category_label(self) -> str:
        return Category(self.category).label

    @property
    def lockers(self) -> str:
        """Where their phones are, by bank: "2, 4 (Staff room); 7 (Main hall)"."""
        banks: dict[str, list[str]] = {}
        for phone in self.phones:
            banks.setdefault(phone.bank, []).append(str(phone.number))
        return "; ".join(f"{', '.join(numbers)} ({bank})" for bank, numbers in banks.items())


@dataclass
class RollCallGroup:
    category: str
    label: str
    people: list[OnSite] = field(default_factory=list)


@dataclass(frozen=True)
class RollCall:
    taken_at: datetime
    groups: list[RollCallGroup]

    @property
    def people(self) -> list[OnSite]:
        return [person for group in self.groups for person in group.people]

    @property
    def total(self) -> int:
        return sum(len(group.people) for group in self.groups)

    @property
    def phones_in_lockers(self) -> int:
        return sum(len(person.phones) for person in self.people)

    @property
    def from_earlier_days(self) -> int:
        return sum(person.earlier_day for person in self.people)


def roll_call(session: Session, zone: tzinfo, now: datetime) -> RollCall:
    """Everyone on site at ``now``: by category in the policy's order, then by name.

    Any instant will do (the page asks about the present; tests and inquiries the past): a
    duty period or a deposit counts if it had begun and not yet ended at ``now``.
    """
    periods = session.scalars(
        select(DutyPeriod)
        .where(DutyPeriod.started_at <= now,
               or_(DutyPeriod.ended_at.is_(None), DutyPeriod.ended_at > now))
        .options(selectinload(DutyPeriod.person)))
    phones: dict[int, list[LockedPhone]] = {}
    for deposit in session.scalars(
            select(Deposit)
            .where(Deposit.deposited_at <= now,
                   or_(Deposit.collected_at.is_(None), Deposit.collected_at > now))
            .options(selectinload(Deposit.device),
                     selectinload(Deposit.locker).selectinload(Locker.bank))):
        phones.setdefault(deposit.device.owner_id, []).append(LockedPhone(
            deposit.locker.number, deposit.locker.bank.name, deposit.device.description))
    today = now.astimezone(zone).date()
    people = [
        OnSite(period.person_id, period.person.name, period.person.category, period.started_at,
               tuple(sorted(phones.get(period.person_id, []),
                            key=lambda p: (p.bank, p.number))),
               earlier_day=period.started_at.astimezone(zone).date() < today)
        for period in periods
    ]
    people.sort(key=lambda p: (CATEGORY_ORDER[p.category], name_key(p.name), p.person_id))
    groups: list[RollCallGroup] = []
    for person in people:
        if not groups or groups[-1].category != person.category:
            groups.append(RollCallGroup(person.category, person.category_label))
        groups[-1].people.append(person)
    return RollCall(now, groups)

