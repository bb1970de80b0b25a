"""The kiosk flow: a scan deposits a phone into a locker or collects it.

Every refusal is a ScanRefused whose message is the sentence the kiosk shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from register.db import in_write_transaction
from register.errors import InvalidImei, ScanRefused
from register.imei import looks_like_imei, parse_imei
from register.models import Deposit, Device, Kiosk, Locker, LockerBank, Person, utc_now
from register.people import normalise_badge_id, normalise_code

DEPOSITED, COLLECTED, CHOOSE = "deposited", "collected", "choose"


@dataclass(frozen=True)
class PhoneChoice:
    code: str  # the device's label code: scanning it acts on that phone
    description: str
    locker: int | None  # where it is now, if deposited


@dataclass(frozen=True)
class ScanResult:
    outcome: str
    message: str
    at: datetime
    person: str | None = None
    locker: int | None = None
    bank: str | None = None
    choices: list[PhoneChoice] = field(default_factory=list)


def handle_scan(
    session: Session, kiosk_id: int, code: str, now: datetime | None = None
) -> ScanResult:
    """Act on whatever was scanned at ``kiosk``: a phone label, a badge, or an IMEI."""
    now = now or utc_now()
    # Refusals and "which phone?" only read: answer them without queueing for the write lock.
    try:
        found = identify(session, code, now)
    finally:
        session.rollback()
    if isinstance(found, ScanResult):
        return found
    return in_write_transaction(
        session, lambda s: toggle(s, s.get_one(Kiosk, kiosk_id), s.get_one(Device, found), now)
    )


def identify(session: Session, code: str, now: datetime) -> int | ScanResult:
    """The id of the phone a scan acts on, or the question to ask; refusals raise."""
    code = normalise_code(code)
    if not code:
        raise ScanRefused("empty", "Nothing was scanned. Please try again.", status=400)
    device = session.scalar(select(Device).where(Device.label_code == code))
    if device is None:
        person = session.scalar(select(Person).where(Person.badge_id == normalise_badge_id(code)))
        if person is not None:
            return _for_person(session, person, now)
        if not looks_like_imei(code):
            raise ScanRefused(
                "unknown", "We don't recognise that code. Please try again or see the office.",
                status=404,
            )
        device = _device_by_imei(session, code)
    _require_current(device)
    return device.id


def _device_by_imei(session: Session, code: str) -> Device:
    try:
        imei = parse_imei(code).imei
    except InvalidImei:
        raise ScanRefused(
            "invalid_imei",
            "That number is not a valid IMEI. Check it with *#06# and try again.",
            status=422,
        ) from None
    device = session.scalar(
        select(Device).where((Device.imei == imei) | (Device.imei2 == imei))
    )
    if device is None:
        raise ScanRefused(
            "unregistered", "This phone is not on the register. Please see the office.",
            status=404,
        )
    return device


def _for_person(session: Session, person: Person, now: datetime) -> int | ScanResult:
    _require_active(person)
    devices = person.current_devices
    if not devices:
        raise ScanRefused(
            "no_phone", f"{person.first_name}, no phone is registered to you. "
            "Please see the office.", status=404,
        )
    if len(devices) == 1:
        return devices[0].id
    choices = []
    for device in devices:
        deposit = open_deposit(session, device)
        choices.append(PhoneChoice(device.label_code, device.description,
                                   deposit.locker.number if deposit else None))
    return ScanResult(CHOOSE, f"{person.first_name}, which phone?", now,
                      person=person.name, choices=choices)


def _require_active(person: Person) -> None:
    if not person.active:
        raise ScanRefused(
            "left", f"{person.name} is marked as having left. Please see the office.",
            status=403,
        )


def open_deposit(session: Session, device: Device) -> Deposit | None:
    return session.scalar(
        select(Deposit).where(Deposit.device_id == device.id, Deposit.collected_at.is_(None))
    )


def _require_current(device: Device) -> None:
    if device.retired_at is not None:
        raise ScanRefused(
            "retired", f"This {device.description} was retired from the register. "
            "Please see the office.", status=409,
        )
    _require_active(device.owner)


def toggle(session: Session, kiosk: Kiosk, device: Device, now: datetime) -> ScanResult:
    """Deposit the phone if it is out, collect it if it is in. Call inside a write transaction."""
    _require_current(device)  # again: the office may have retired it a moment ago
    # PostgreSQL: concurrent scans of one phone queue here instead of racing (SQLite already
    # holds the database write lock). Lock order is always phone, then bank.
    session.execute(select(Device.id).where(Device.id == device.id).with_for_update())
    deposit = open_deposit(session, device)
    if deposit is None:
        return _deposit(session, kiosk, device, now)
    return _collect(kiosk, deposit, now)


def _deposit(session: Session, kiosk: Kiosk, device: Device, now: datetime) -> ScanResult:
    # Kiosks at one bank take turns choosing a locker, so they never pick the same one.
    session.execute(select(LockerBank.id).where(LockerBank.id == kiosk.bank_id).with_for_update())
    locker = _choose_locker(session, kiosk, device.owner)
    if locker is None:
        raise ScanRefused(
            "no_free_locker", f"There is no free locker at {kiosk.bank.name}. "
            "Please see the office.", status=409,
        )
    session.add(Deposit(device=device, locker=locker, deposited_at=now, deposit_kiosk_id=kiosk.id))
    session.flush()  # the unique indexes speak here, inside the transaction
    owner = device.owner
    return ScanResult(
        DEPOSITED,
        f"{owner.first_name}, put your phone in locker {locker.number} and close the door.",
        now, person=owner.name, locker=locker.number, bank=kiosk.bank.name,
    )


def _collect(kiosk: Kiosk, deposit: Deposit, now: datetime) -> ScanResult:
    locker = deposit.locker
    owner = deposit.device.owner
    if locker.bank_id != kiosk.bank_id:
        raise ScanRefused(
            "other_bank", f"{owner.first_name}, this phone is already in locker {locker.number} "
            f"at {locker.bank.name}. Please collect it there.", status=409,
        )
    deposit.collected_at = now
    deposit.collect_kiosk_id = kiosk.id
    return ScanResult(
        COLLECTED, f"{owner.first_name}, your phone is in locker {locker.number}. "
        "Take it and close the door.",
        now, person=owner.name, locker=locker.number, bank=locker.bank.name,
    )


def _choose_locker(session: Session, kiosk: Kiosk, owner: Person) -> Locker | None:
    """The owner's own locker at this bank if it is free, else the lowest free shared one."""
    occupied = select(Deposit.locker_id).where(Deposit.collected_at.is_(None))
    usable = (
        select(Locker)
        .where(Locker.bank_id == kiosk.bank_id, ~Locker.out_of_service, Locker.id.not_in(occupied))
        .order_by(Locker.number)
    )
    fixed = owner.fixed_locker_id
    if fixed is not None:
        own = session.scalar(usable.where(Locker.id == fixed))
        if own is not None:
            return own
    reserved = select(Person.fixed_locker_id).where(
        Person.fixed_locker_id.is_not(None), Person.active
    )
    return session.scalar(usable.where(Locker.id.not_in(reserved)).limit(1))


def lockers_in_use(session: Session, bank_id: int) -> dict[int, Deposit]:
    """Open deposits at a bank, by locker number."""
    rows = session.scalars(
        select(Deposit).join(Locker)
        .where(Locker.bank_id == bank_id, Deposit.collected_at.is_(None))
    )
    return {deposit.locker.number: deposit for deposit in rows}
