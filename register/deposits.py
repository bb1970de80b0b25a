"""The kiosk flow: a scan deposits a phone into a locker or collects it, and puts its owner on
or off duty. Someone holding an SLT-agreed exception goes on duty with their phone instead.

Every refusal is a ScanRefused whose message is the sentence the kiosk shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from register import duty, exception_requests
from register.db import in_write_transaction
from register.errors import InvalidImei, ScanRefused
from register.imei import looks_like_imei, parse_imei
from register.models import Deposit, Device, Kiosk, Locker, LockerBank, Person, utc_now
from register.people import normalise_badge_id, normalise_code

DEPOSITED, COLLECTED, CHOOSE = "deposited", "collected", "choose"
ON_DUTY, OFF_DUTY = "on_duty", "off_duty"  # with an agreed exception: no deposit
LONDON = ZoneInfo("Europe/London")


@dataclass(frozen=True)
class ExceptionNote:
    """What the kiosk shows of an agreed exception."""

    approved_by: str
    until: str  # local time today, e.g. "15:30", or "end of day"
    conditions: str


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
    exception: ExceptionNote | None = None
    off_duty: bool = False  # this scan took the person off duty


def handle_scan(
    session: Session, kiosk_id: int, code: str, now: datetime | None = None,
    zone: tzinfo = LONDON,
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
        session,
        lambda s: toggle(s, s.get_one(Kiosk, kiosk_id), s.get_one(Device, found), now, zone),
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


def toggle(session: Session, kiosk: Kiosk, device: Device, now: datetime,
           zone: tzinfo = LONDON) -> ScanResult:
    """Deposit the phone if it is out, collect it if it is in; with an agreed exception, go on
    or off duty keeping it. Call inside a write transaction."""
    _require_current(device)  # again: the office may have retired it a moment ago
    # PostgreSQL: concurrent scans of one phone queue here instead of racing (SQLite already
    # holds the database write lock). Lock order is always phone, then bank.
    session.execute(select(Device.id).where(Device.id == device.id).with_for_update())
    owner = device.owner
    exception = exception_requests.active_for(session, owner.id, zone, now)
    note = _note(exception, now, zone) if exception else None
    deposit = open_deposit(session, device)
    if deposit is not None:
        return _collect(session, kiosk, deposit, now, note)
    if note is None:
        return _deposit(session, kiosk, device, now)
    if duty.current(session, owner.id) is None:
        duty.start(session, owner, duty.EXCEPTION, kiosk.id, now)
        return ScanResult(
            ON_DUTY, f"{owner.first_name}, you are on duty with your phone until {note.until}, "
            f"as agreed by {note.approved_by}.", now, person=owner.name, exception=note)
    duty.end(session, owner.id, duty.SIGN_OUT, now)
    return ScanResult(OFF_DUTY, f"{owner.first_name}, you are signed out. Goodbye.", now,
                      person=owner.name, off_duty=True)


def _note(exception: exception_requests.ExceptionRequest, now: datetime, zone: tzinfo,
          ) -> ExceptionNote:
    ends = exception_requests.Window.of(exception).today_ends(now, zone)
    until = "the end of the day" if ends.time() == ends.time().min else f"{ends:%H:%M}"
    return ExceptionNote(" and ".join(exception_requests.approved_by(exception)) or "SLT",
                         until, exception.conditions)


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
    duty.start(session, owner, duty.DEPOSIT, kiosk.id, now)
    return ScanResult(
        DEPOSITED,
        f"{owner.first_name}, put your phone in locker {locker.number} and close the door.",
        now, person=owner.name, locker=locker.number, bank=kiosk.bank.name,
    )


def _collect(session: Session, kiosk: Kiosk, deposit: Deposit, now: datetime,
             note: ExceptionNote | None) -> ScanResult:
    locker = deposit.locker
    owner = deposit.device.owner
    if locker.bank_id != kiosk.bank_id:
        raise ScanRefused(
            "other_bank", f"{owner.first_name}, this phone is already in locker {locker.number} "
            f"at {locker.bank.name}. Please collect it there.", status=409,
        )
    deposit.collected_at = now
    deposit.collect_kiosk_id = kiosk.id
    take = (f"{owner.first_name}, your phone is in locker {locker.number}. "
            "Take it and close the door.")
    if note is not None:  # an agreed exception: still on duty, with the phone
        message = f"{take} You may keep it until {note.until}, as agreed by {note.approved_by}."
    else:  # people leave early: collecting without an exception means going off duty
        duty.end(session, owner.id, duty.COLLECT, now)
        message = f"{take} You are now off duty."
    return ScanResult(COLLECTED, message, now, person=owner.name, locker=locker.number,
                      bank=locker.bank.name, exception=note, off_duty=note is None)


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
