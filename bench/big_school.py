"""A generated school for benchmarks: 2,000 people, 2,500 phones and a year of use.

``build(url)`` creates the schema with the product's own migrations (``register.schema``, what
``flask --app kiosk init-db`` runs) and fills it with bulk Core inserts, on SQLite or
PostgreSQL, in seconds:

- people in every category, most of them staff, with badges for staff and a few fixed lockers;
- phones with Luhn-valid test IMEIs (reporting body 00, as the demo's: no real phone has them),
  some dual-SIM, most verified, each with a unique label code shaped as the product makes them;
- locker banks of 100 lockers, one kiosk per bank (its token returned, only its hash stored),
  and the office, SLT and admin sign-ins of the demo (``kiosk.demo.PASSWORD``);
- ``days`` of history: on each school day (weekdays outside the holidays) about a fifth of
  the people deposit a phone in the morning, collect it in the afternoon, and have one duty
  period from one to the other. A year is about 250,000 such events; every deposit is
  collected, so no locker is occupied when the benchmark starts.

Everything is drawn from one seeded random generator: the same arguments give the same school.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, create_engine, func, insert, select, text
from sqlalchemy.orm import Session

from kiosk.config import database_url
from kiosk.demo import FIRST, LAST, PASSWORD, PHONES
from register import accounts, kiosks, schema
from register.imei import luhn_check_digit
from register.models import (
    Category,
    Deposit,
    Device,
    DutyPeriod,
    Kiosk,
    Locker,
    LockerBank,
    Person,
)
from register.people import _LABEL_ALPHABET, LABEL_PREFIX

LONDON = ZoneInfo("Europe/London")
LOCKERS_PER_BANK = 100
FIXED_LOCKERS = 40  # staff with a locker of their own, in the first bank
ATTENDANCE = 0.22  # share of the people who deposit a phone on a school day
CHUNK = 10_000  # rows per executemany: bounded memory, few round trips
# Share of the school: most stakeholders are staff, then visitors and parents.
MIX = {Category.STAFF: 0.55, Category.GOVERNOR: 0.03, Category.VISITOR: 0.12,
       Category.PARENT: 0.10, Category.AGENCY: 0.05, Category.STUDENT: 0.05,
       Category.VOLUNTEER: 0.06, Category.CONTRACTOR: 0.04}
# School holidays, as (month, day) ranges inclusive: roughly an English school year.
HOLIDAYS = (((12, 20), (12, 31)), ((1, 1), (1, 3)), ((2, 16), (2, 20)), ((4, 1), (4, 14)),
            ((5, 26), (5, 30)), ((7, 22), (9, 2)), ((10, 26), (10, 30)))


@dataclass(frozen=True)
class BigSchool:
    url: str  # DATABASE_URL, as the product reads it
    tokens: dict[str, str]  # kiosk name -> pairing token
    codes: list[str]  # label codes of current phones, in phone id order
    counts: dict[str, int] = field(default_factory=dict)  # rows per table, and events

    @property
    def events(self) -> int:
        return self.counts.get("events", 0)


def build(url: str, people: int = 2000, phones: int = 2500, days: int = 365, *,
          seed: int = 2026, today: date | None = None) -> BigSchool:
    """Create the schema in the (empty) database at ``url`` and fill it; see the module doc."""
    engine = create_engine(database_url(url))
    try:
        schema.upgrade(engine)
        rng = random.Random(seed)
        with engine.begin() as connection:
            if connection.scalar(select(func.count()).select_from(Person)):
                raise SystemExit(f"{url} already holds people: build needs an empty database")
            tokens = _accounts_and_kiosks(connection, _banks_needed(people))
            people_rows = _people(connection, rng, people)
            device_rows = _devices(connection, rng, people_rows, phones, today or date.today(),
                                   days)
            counts = _history(connection, rng, people_rows, device_rows,
                              today or date.today(), days)
            if connection.dialect.name == "postgresql":
                _advance_sequences(connection)
        counts.update(people=len(people_rows), devices=len(device_rows))
        codes = [d["label_code"] for d in device_rows]
        return BigSchool(url, tokens, codes, counts)
    finally:
        engine.dispose()


def _banks_needed(people: int) -> int:
    # Enough shared lockers that every attendee of a day has one at the same time.
    return max(2, math.ceil((math.ceil(people * ATTENDANCE) + FIXED_LOCKERS) / LOCKERS_PER_BANK))


def _accounts_and_kiosks(connection: Connection, banks: int) -> dict[str, str]:
    connection.execute(insert(LockerBank), [
        {"id": n, "name": _bank_name(n), "location": f"Building {n}"} for n in range(1, banks + 1)])
    connection.execute(insert(Locker), [
        {"id": (bank - 1) * LOCKERS_PER_BANK + number, "bank_id": bank, "number": number,
         "out_of_service": False}
        for bank in range(1, banks + 1) for number in range(1, LOCKERS_PER_BANK + 1)])
    tokens = {}
    with Session(bind=connection) as session:  # the product's own account and pairing code
        for username, role in (("admin", "admin"), ("office", "office"), ("slt", "slt")):
            accounts.create_user(session, username, PASSWORD, role)
        for n in range(1, banks + 1):
            kiosk, token = kiosks.create_kiosk(session, f"{_bank_name(n)} kiosk", _bank_name(n))
            tokens[kiosk.name] = token
        session.flush()
    return tokens


def _bank_name(number: int) -> str:
    return "Staff room" if number == 1 else "Reception" if number == 2 else f"Bank {number}"


def _people(connection: Connection, rng: random.Random, count: int) -> list[dict[str, Any]]:
    categories = _categories(count)
    badges = iter(rng.sample(range(10**9, 10**10), count))
    created = datetime(2020, 9, 1, 7, tzinfo=UTC)
    rows = []
    staff_seen = 0
    for number, category in enumerate(categories, start=1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        staff = category == Category.STAFF
        staff_seen += staff
        rows.append({
            "id": number, "name": f"{first} {last}", "category": category.value,
            "badge_id": str(next(badges)) if staff else None,
            "fixed_locker_id": staff_seen if staff and staff_seen <= FIXED_LOCKERS else None,
            "email": f"person{number}@school.example" if staff else "", "active": True,
            "left_at": None, "created_at": created})
    _insert(connection, Person, rows)
    return rows


def _categories(count: int) -> list[Category]:
    """``count`` categories in ``MIX``'s proportions, staff taking the rounding."""
    others = {c: round(count * share) for c, share in MIX.items() if c != Category.STAFF}
    staff = count - sum(others.values())
    return [Category.STAFF] * staff + [c for c, n in others.items() for _ in range(n)]


def _devices(connection: Connection, rng: random.Random, people: list[dict[str, Any]],
             count: int, today: date, days: int) -> list[dict[str, Any]]:
    """``count`` phones: nine people in ten have one, and the rest go as second phones."""
    with_phone = people[:max(1, min(len(people), count, round(len(people) * 0.9)))]
    owners = [p["id"] for p in with_phone]
    owners += [rng.choice(with_phone)["id"] for _ in range(count - len(owners))]
    owners.sort()
    codes = _label_codes(rng, count)
    imeis = _imeis(rng, count * 2)
    start = datetime.combine(today - timedelta(days=days), time(8), tzinfo=UTC)
    rows = []
    for number, owner in enumerate(owners, start=1):
        make, model = rng.choice(PHONES)
        registered = start + timedelta(minutes=rng.randrange(days * 24 * 60))
        verified = rng.random() < 0.7
        rows.append({
            "id": number, "owner_id": owner, "imei": imeis[2 * number - 2],
            "imei2": imeis[2 * number - 1] if rng.random() < 0.15 else None,
            "make": make, "model": model, "label_code": codes[number - 1],
            "registered_at": registered, "registered_by": "office",
            "verified_at": registered + timedelta(hours=1) if verified else None,
            "verified_by": "office" if verified else None,
            "retired_at": None, "retired_reason": None})
    _insert(connection, Device, rows)
    return rows


def _label_codes(rng: random.Random, count: int) -> list[str]:
    codes: dict[str, None] = {}
    while len(codes) < count:
        codes[LABEL_PREFIX + "".join(rng.choice(_LABEL_ALPHABET) for _ in range(6))] = None
    return list(codes)


def _imeis(rng: random.Random, count: int) -> list[str]:
    bodies = rng.sample(range(10**12), count)  # unique: no two phones share an IMEI
    return [f"00{body:012d}" + str(luhn_check_digit(f"00{body:012d}")) for body in bodies]


def school_days(today: date, days: int) -> Iterator[date]:
    """Weekdays in the ``days`` before ``today`` that are not school holidays."""
    for offset in range(days, 0, -1):
        day = today - timedelta(days=offset)
        if day.weekday() < 5 and not any(
                (day.month, day.day) >= start and (day.month, day.day) <= end
                for start, end in HOLIDAYS):
            yield day


def _history(connection: Connection, rng: random.Random, people: list[dict[str, Any]],
             devices: list[dict[str, Any]], today: date, days: int) -> dict[str, int]:
    """Deposits, collections and duty periods: one of each per attendee per school day."""
    phones: dict[int, list[int]] = {}
    for device in devices:
        phones.setdefault(device["owner_id"], []).append(device["id"])
    attendees_pool = [p for p in people if p["id"] in phones]
    fixed = {p["id"]: p["fixed_locker_id"] for p in people if p["fixed_locker_id"]}
    fixed_lockers = set(fixed.values())
    banks = _banks_needed(len(people))
    shared = [n for n in range(1, banks * LOCKERS_PER_BANK + 1) if n not in fixed_lockers]
    kiosk_ids = dict(connection.execute(select(Kiosk.bank_id, Kiosk.id)).all())
    per_day = min(len(attendees_pool), math.ceil(len(people) * ATTENDANCE))
    deposits: list[dict[str, Any]] = []
    duties: list[dict[str, Any]] = []
    counts = {"school_days": 0, "deposits": 0, "duty_periods": 0}
    deposit_id = duty_id = 0
    for day in school_days(today, days):
        counts["school_days"] += 1
        free = iter(rng.sample(shared, len(shared)))
        for person in rng.sample(attendees_pool, per_day):
            locker = fixed.get(person["id"]) or next(free)
            kiosk = kiosk_ids[(locker - 1) // LOCKERS_PER_BANK + 1]
            arrived = _local(day, 7 * 60 + rng.randrange(120))
            left = _local(day, 15 * 60 + rng.randrange(150))
            deposit_id += 1
            duty_id += 1
            deposits.append({
                "id": deposit_id, "device_id": rng.choice(phones[person["id"]]),
                "locker_id": locker, "deposited_at": arrived, "deposit_kiosk_id": kiosk,
                "collected_at": left, "collect_kiosk_id": kiosk, "collected_by": None})
            duties.append({
                "id": duty_id, "person_id": person["id"], "started_at": arrived,
                "start_kind": "deposit", "ended_at": left, "end_kind": "collect",
                "kiosk_id": kiosk})
        if len(deposits) >= CHUNK:
            counts["deposits"] += _insert(connection, Deposit, deposits)
            counts["duty_periods"] += _insert(connection, DutyPeriod, duties)
            deposits, duties = [], []
    counts["deposits"] += _insert(connection, Deposit, deposits)
    counts["duty_periods"] += _insert(connection, DutyPeriod, duties)
    # A deposit and its collection are two events, the duty period a third.
    counts["events"] = 2 * counts["deposits"] + counts["duty_periods"]
    return counts


def _local(day: date, minutes: int) -> datetime:
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=LONDON)


def _insert(connection: Connection, model: type, rows: Sequence[dict[str, Any]]) -> int:
    for start in range(0, len(rows), CHUNK):
        connection.execute(insert(model), rows[start:start + CHUNK])
    return len(rows)


def _advance_sequences(connection: Connection) -> None:
    """Rows were inserted with their ids: move PostgreSQL's sequences past them, so the
    product's own inserts (a scan's deposit) do not collide."""
    for table in ("locker_banks", "lockers", "people", "devices", "deposits", "duty_periods"):
        connection.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"))


def main() -> None:
    import argparse
    import time as clock

    parser = argparse.ArgumentParser(prog="python -m bench.big_school",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("url", help="an empty database, e.g. sqlite:////tmp/big.sqlite3")
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--phones", type=int, default=2500)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    started = clock.perf_counter()
    school = build(args.url, args.people, args.phones, args.days)
    print(f"built in {clock.perf_counter() - started:.1f} s: {school.counts}")


if __name__ == "__main__":
    main()
