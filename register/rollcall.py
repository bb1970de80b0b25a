"""The fire roll call: who is on site now, by stakeholder category, with their phones' lockers.

"On site" is "on duty" (``register.duty``): scanned in at a kiosk (a phone locked away, on
duty under an agreed exception, or signed in with no phone on the register) and not yet
scanned out. One exception: once the school day has ended (``daily_log.day_times``, 17:00
unless changed), someone who scanned in before then and whose phone is still in a locker has
most likely gone home without it. They are listed apart ("phone still in locker 11 since
07:40: may have gone home") and not counted as on site; the marshal still sees them.

Queries only; the page, its printing and the audit entry live with the web app.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from register.daily_log import day_times
from register.duty import NO_PHONE
from register.models import Category, Deposit, DutyPeriod, Locker
from register.printing import CATEGORY_ORDER, name_key


@dataclass(frozen=True)
class LockedPhone:
    """A phone of someone on site, in a locker now."""

    number: int
    bank: str
    description: str  # make and model: which of a person's phones it is
    since: datetime  # put in

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
    no_phone: bool = False  # signed in with no phone on the register

    @property
    def locked_since(self) -> datetime | None:
        """When the first of their phones still in a locker was put in."""
        return min((phone.since for phone in self.phones), default=None)

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
    # After the end of the school day: scanned in before it, phone still in a locker. Not
    # counted as on site.
    may_have_gone: list[OnSite] = field(default_factory=list)
    day_ended_at: datetime | None = None  # the end of the school day they are apart from

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
    """Everyone on site at ``now``: by category in the policy's order, then by name; and,
    apart, those who may have gone home leaving a phone in a locker.

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
            deposit.locker.number, deposit.locker.bank.name, deposit.device.description,
            deposit.deposited_at))
    today = now.astimezone(zone).date()
    day_ended = _last_day_end(session, zone, now)
    people, gone = [], []
    for period in periods:
        person = OnSite(
            period.person_id, period.person.name, period.person.category, period.started_at,
            tuple(sorted(phones.get(period.person_id, []), key=lambda p: (p.bank, p.number))),
            earlier_day=period.started_at.astimezone(zone).date() < today,
            no_phone=period.start_kind == NO_PHONE)
        if person.phones and period.started_at < day_ended:
            gone.append(person)
        else:
            people.append(person)
    people.sort(key=_order)
    gone.sort(key=_order)
    groups: list[RollCallGroup] = []
    for person in people:
        if not groups or groups[-1].category != person.category:
            groups.append(RollCallGroup(person.category, person.category_label))
        groups[-1].people.append(person)
    return RollCall(now, groups, gone, day_ended)


def _order(person: OnSite) -> tuple[int, tuple[str, str], int]:
    return CATEGORY_ORDER[person.category], name_key(person.name), person.person_id


def _last_day_end(session: Session, zone: tzinfo, now: datetime) -> datetime:
    """The latest end of a school day at or before ``now`` (today's, or yesterday's)."""
    local = now.astimezone(zone)
    ends: time = day_times(session).day_ends
    today_end = datetime.combine(local.date(), ends, zone)
    if today_end <= now:
        return today_end
    return datetime.combine(local.date() - timedelta(days=1), ends, zone)
