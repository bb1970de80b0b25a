"""The kiosk flow: a scan deposits a phone into a locker or collects it, and puts its owner on
or off duty. Someone holding an SLT-agreed exception goes on duty with their phone instead.

The edges of a real queue:

- **The guard.** A scan of the same phone within the guard (``settings.rescan_guard``, 60 s)
  of its deposit, or of going on duty under an exception, does not collect or sign out: it
  answers ``already_deposited`` / ``already_on_duty`` with ``can_confirm``, and the same scan
  sent again with ``confirm`` (a button on the screen) does it on purpose. A reader repeating a
  held card never sends ``confirm``, so its repeats change nothing.
- **The guard, the other way.** Likewise soon after collecting the phone (at this kiosk's
  bank) or signing out, a scan does not deposit it again or sign back in: it answers
  ``already_collected`` (the locker it came from) / ``already_signed_out`` with
  ``can_confirm``, and ``confirm`` puts it back or signs in on purpose. A confirm that finds
  the last change was itself made on purpose inside the guard (Take it out again, Sign out
  now, touched twice or sent again) is ``already_done``, and such a state offers no button.
- **Leaving is a choice when it is ambiguous.** On duty with the phone in hand after the
  exception has ended (none of their phones in a locker), a scan acts on nothing and answers
  ``leave_choice``; the same scan with ``choice`` ``going_home`` signs out, ``lock_away``
  deposits.
- **No phone.** Someone on the register with no current phone goes on and off duty with their
  badge (a duty period started ``no_phone``), so the fire roll call knows they are on site;
  the guard applies to signing out.

Every refusal is a ScanRefused whose message is the sentence the kiosk shows. What a code
names is decided in register.codes; register.scans runs a scan as one unit of work.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session, joinedload

from register import duty, exception_requests
from register.db import execute, lock
from register.errors import ScanRefused
from register.models import (
    Deposit,
    Device,
    DutyPeriod,
    ExceptionRequest,
    Kiosk,
    Locker,
    LockerBank,
    Person,
)
from register.settings import RESCAN_GUARD_RANGE

DEPOSITED, COLLECTED, CHOOSE = "deposited", "collected", "choose"
ON_DUTY, OFF_DUTY = "on_duty", "off_duty"  # with an agreed exception: no deposit
NO_PHONE, NO_FREE_LOCKER, OTHER_BANK = "no_phone", "no_free_locker", "other_bank"
# A second scan inside the guard: nothing done, the screen offers to do it on purpose.
ALREADY_DEPOSITED, ALREADY_ON_DUTY, ALREADY_SIGNED_IN = (
    "already_deposited", "already_on_duty", "already_signed_in")
ALREADY_COLLECTED, ALREADY_SIGNED_OUT = "already_collected", "already_signed_out"
MAX_GUARD = timedelta(seconds=RESCAN_GUARD_RANGE[1])
LEAVE_CHOICE = "leave_choice"  # on duty with the phone after the exception ended
GOING_HOME, LOCK_AWAY = "going_home", "lock_away"
LEAVE_CHOICES = (GOING_HOME, LOCK_AWAY)
SIGNED_IN_NO_PHONE, SIGNED_OUT_NO_PHONE = "signed_in_no_phone", "signed_out_no_phone"
ALREADY_DONE = "already_done"  # a confirm or a choice that finds it already done


@dataclass(frozen=True)
class Intent:
    """What the person said on the screen beyond the scan: ``confirm`` (take it out again,
    sign out on purpose, inside the guard) or a ``choice`` (going_home or lock_away); and how
    to read the guard, the school's setting (read only when a scan could be a repeat: a plain
    deposit costs no statement more)."""

    confirm: bool = False
    choice: str | None = None
    guard: Callable[[], timedelta] = lambda: timedelta(0)

    def guarded(self, since: datetime, now: datetime) -> bool:
        """Whether a scan at ``now`` of something done at ``since`` is held by the guard."""
        return not self.confirm and self.within(since, now)

    def within(self, since: datetime, now: datetime) -> bool:
        """Whether ``now`` is inside the guard after ``since``, confirmed or not. Past the
        longest guard an admin can set, the setting is not read (yesterday's collection costs
        a deposit no statement)."""
        return now - since < MAX_GUARD and now - since < self.guard()


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
    who: Person | None = None
    locker: int | None = None
    bank: str | None = None
    choices: list[PhoneChoice] = field(default_factory=list)
    exception: ExceptionNote | None = None
    off_duty: bool = False  # this scan took the person off duty
    can_confirm: bool = False  # held by the guard: the same scan with confirm does it

    @property
    def person(self) -> str | None:
        """First name only: the kiosk screen is public."""
        return self.who.first_name if self.who else None

    @property
    def holder(self) -> str | None:
        """Whom the answer is about, opaquely (neither id nor name): the page lets a person's
        newer result replace their older card, and two people may share a first name."""
        if self.who is None:
            return None
        return hashlib.sha256(f"kiosk-holder:{self.who.id}".encode()).hexdigest()[:12]


# The scan path's statements are built once (each costs about 0.1 ms of Python to build).
_OPEN = Deposit.collected_at.is_(None)
_OPEN_DEPOSIT = (select(Deposit).where(Deposit.device_id == bindparam("device_id"), _OPEN)
                 .options(joinedload(Deposit.locker).joinedload(Locker.bank)))
# The open deposit if there is one, else the last collected: the same one statement.
_LATEST_DEPOSIT = (select(Deposit).where(Deposit.device_id == bindparam("device_id"))
                   .order_by(Deposit.collected_at.is_not(None), Deposit.collected_at.desc())
                   .limit(1).options(joinedload(Deposit.locker).joinedload(Locker.bank)))
_LOCK_PERSON = select(Person.id).where(Person.id == bindparam("person_id")).with_for_update()
_LOCK_BANK = select(LockerBank.id).where(LockerBank.id == bindparam("bank_id")).with_for_update()
_USABLE = (select(Locker)
           .where(Locker.bank_id == bindparam("bank_id"), ~Locker.out_of_service,
                  Locker.id.not_in(select(Deposit.locker_id).where(_OPEN)))
           .order_by(Locker.number))
_OWN_LOCKER = _USABLE.where(Locker.id == bindparam("locker_id"))
_SHARED_LOCKER = _USABLE.where(Locker.id.not_in(
    select(Person.fixed_locker_id).where(Person.fixed_locker_id.is_not(None), Person.active),
)).limit(1)
_DEPOSIT = insert(Deposit).values(
    device_id=bindparam("device"), locker_id=bindparam("locker"),
    deposited_at=bindparam("now"), deposit_kiosk_id=bindparam("kiosk"))
_COLLECT = update(Deposit).where(Deposit.id == bindparam("deposit")).values(
    collected_at=bindparam("now"), collect_kiosk_id=bindparam("kiosk"))


def open_deposit(session: Session, device: Device) -> Deposit | None:
    return session.scalar(_OPEN_DEPOSIT, {"device_id": device.id})


def for_person(session: Session, person: Person, now: datetime) -> Device | ScanResult:
    """The phone a badge acts on, or the question "which phone?" when there are several (a
    person with none goes on or off duty without one: ``no_phone``)."""
    devices = person.current_devices
    assert devices, "people with no phone sign in and out without one"
    if len(devices) == 1:
        return devices[0]
    in_lockers = lockers_of(session, [d.id for d in devices])
    choices = [PhoneChoice(d.label_code, d.description, in_lockers.get(d.id)) for d in devices]
    return ScanResult(CHOOSE, f"{person.first_name}, which phone?", now,
                      who=person, choices=choices)


def toggle(session: Session, kiosk: Kiosk, device: Device, now: datetime,
           zone: tzinfo, intent: Intent = Intent()) -> ScanResult:
    """Deposit the phone if it is out, collect it if it is in; with an agreed exception, go on
    or off duty keeping it; inside the guard, or when leaving is ambiguous, ask first (see the
    module's docstring). Inside the caller's unit of work."""
    owner = device.owner
    # PostgreSQL: one person's scans queue here instead of racing (their phones, their duty
    # period); SQLite already holds the write lock. Lock order: person, then bank.
    lock(session, _LOCK_PERSON, {"person_id": owner.id})
    exception = exception_requests.active_for(session, owner.id, zone, now)
    note = _note(exception, now, zone) if exception else None
    last = session.scalar(_LATEST_DEPOSIT, {"device_id": device.id})
    deposit = last if last is not None and last.collected_at is None else None
    last_period = duty.latest(session, owner.id)
    period = last_period if last_period is not None and last_period.ended_at is None else None
    if intent.choice is not None:
        return _leave(session, kiosk, device, deposit, period, now, intent)
    if deposit is not None:
        if deposit.locker.bank_id == kiosk.bank_id and intent.guarded(deposit.deposited_at, now):
            return _already_in(deposit, now, note)
        return _collect(session, kiosk, deposit, now, note)
    after = _after_leaving(kiosk, owner, last, None if period is not None else last_period,
                           now, note, intent)
    if isinstance(after, ScanResult):
        return after
    if note is None:
        if intent.confirm and not after:
            raise _nothing_to_take_out(owner)
        if period is not None and duty.phones_locked(session, owner.id) == 0:
            return ScanResult(
                LEAVE_CHOICE, f"{owner.first_name}, your agreed time with your phone has ended. "
                "Are you going home, or locking your phone away?", now,
                who=owner)
        return _deposit(session, kiosk, device, now)
    if period is None:
        if intent.confirm and not after:
            raise _already_signed_out(owner)
        duty.start(session, owner.id, duty.EXCEPTION, kiosk.id, now)
        return ScanResult(
            ON_DUTY, f"{owner.first_name}, you are on duty with your phone until {note.until}, "
            f"as agreed by {note.approved_by}.", now, who=owner, exception=note)
    if period.start_kind == duty.EXCEPTION and intent.guarded(period.started_at, now):
        return ScanResult(
            ALREADY_ON_DUTY, f"Already on duty with your phone, until {note.until}", now,
            who=owner, exception=note, can_confirm=True)
    duty.end(session, owner.id, duty.SIGN_OUT, now)
    return ScanResult(OFF_DUTY, f"{owner.first_name}, you are signed out. Goodbye.", now,
                      who=owner, off_duty=True)


def _after_leaving(kiosk: Kiosk, owner: Person, last: Deposit | None, ended: DutyPeriod | None,
                   now: datetime, note: ExceptionNote | None, intent: Intent,
                   ) -> ScanResult | bool:
    """Soon after the phone was collected at this bank, or its owner signed out (``ended``:
    their last period, when off duty): the answer that holds the scan; else whether this
    confirm acts on purpose (False when nothing was just done, or what was just done was
    itself on purpose: a confirm then finds it already done)."""
    if (last is not None and last.collected_at is not None
            and last.locker.bank_id == kiosk.bank_id and intent.within(last.collected_at, now)):
        # Putting it back is a deposit; under an exception a scan now would sign out instead.
        acts = note is None and not intent.within(last.deposited_at, last.collected_at)
        return acts if intent.confirm else _already_collected(last, now, note, acts)
    if ended is not None and ended.ended_at is not None and intent.within(ended.ended_at, now):
        acts = not intent.within(ended.started_at, ended.ended_at)
        return acts if intent.confirm else _already_out(owner, now, note, acts)
    return False


def _leave(session: Session, kiosk: Kiosk, device: Device, deposit: Deposit | None,
           period: DutyPeriod | None, now: datetime, intent: Intent) -> ScanResult:
    """The person touched Going home or Lock my phone away. Sent twice (a second touch, or
    the answer came too late), it does not undo itself: what is already done is said so."""
    owner = device.owner
    if intent.choice == LOCK_AWAY:
        if deposit is not None:
            return _already_in(deposit, now, None)
        return _deposit(session, kiosk, device, now)
    if deposit is not None:  # going home with the phone in a locker: collecting is leaving
        return _collect(session, kiosk, deposit, now, None)
    if period is None:
        raise _already_signed_out(owner)
    duty.end(session, owner.id, duty.SIGN_OUT, now)
    return ScanResult(OFF_DUTY, f"{owner.first_name}, you are signed out. Goodbye.", now,
                      who=owner, off_duty=True)


def without_phone(session: Session, kiosk: Kiosk, person: Person, now: datetime,
                  intent: Intent = Intent()) -> ScanResult:
    """Someone with no phone on the register scanned their badge: on duty without one, or off
    duty (the guard holds a second scan soon after signing in, or out)."""
    lock(session, _LOCK_PERSON, {"person_id": person.id})
    last_period = duty.latest(session, person.id)
    period = last_period if last_period is not None and last_period.ended_at is None else None
    if period is None:
        after = _after_leaving(kiosk, person, None, last_period, now, None, intent)
        if isinstance(after, ScanResult):
            return _already_out(person, now, None, after.can_confirm, kiosk.bank.name)
        if intent.confirm and not after:
            raise _already_signed_out(person)
        duty.start(session, person.id, duty.NO_PHONE, kiosk.id, now)
        return ScanResult(SIGNED_IN_NO_PHONE, "Signed in, no phone registered", now,
                          who=person, bank=kiosk.bank.name)
    if intent.guarded(period.started_at, now):
        return ScanResult(ALREADY_SIGNED_IN, "Already signed in", now, who=person,
                          bank=kiosk.bank.name, can_confirm=True)
    duty.end(session, person.id, duty.SIGN_OUT, now)
    return ScanResult(SIGNED_OUT_NO_PHONE, "Signed out, no phone registered", now,
                      who=person, bank=kiosk.bank.name, off_duty=True)


def _already_in(deposit: Deposit, now: datetime, note: ExceptionNote | None) -> ScanResult:
    locker = deposit.locker
    return ScanResult(ALREADY_DEPOSITED, f"Already in locker {locker.number}", now,
                      who=deposit.device.owner, locker=locker.number,
                      bank=locker.bank.name, exception=note, can_confirm=True)


def _already_collected(deposit: Deposit, now: datetime, note: ExceptionNote | None,
                       can_confirm: bool) -> ScanResult:
    locker = deposit.locker
    return ScanResult(ALREADY_COLLECTED, f"Already collected from locker {locker.number}", now,
                      who=deposit.device.owner, locker=locker.number, bank=locker.bank.name,
                      exception=note, can_confirm=can_confirm)


def _already_out(person: Person, now: datetime, note: ExceptionNote | None,
                 can_confirm: bool, bank: str | None = None) -> ScanResult:
    return ScanResult(ALREADY_SIGNED_OUT, "Already signed out", now, who=person, bank=bank,
                      exception=note, can_confirm=can_confirm)


def _nothing_to_take_out(person: Person) -> ScanRefused:
    return ScanRefused(ALREADY_DONE, f"{person.first_name}, your phone is not in a locker: "
                       "nothing was taken out.")


def _already_signed_out(person: Person) -> ScanRefused:
    return ScanRefused(ALREADY_DONE, f"{person.first_name}, you are already signed out.")


def _note(exception: ExceptionRequest, now: datetime, zone: tzinfo,
          ) -> ExceptionNote:
    ends = exception_requests.Window.of(exception).today_ends(now, zone)
    until = "the end of the day" if ends.time() == ends.time().min else f"{ends:%H:%M}"
    return ExceptionNote(" and ".join(exception_requests.approved_by(exception)) or "SLT",
                         until, exception.conditions)


def _deposit(session: Session, kiosk: Kiosk, device: Device, now: datetime) -> ScanResult:
    # Kiosks at one bank take turns choosing a locker, so they never pick the same one.
    lock(session, _LOCK_BANK, {"bank_id": kiosk.bank_id})
    locker = _choose_locker(session, kiosk, device.owner)
    if locker is None:
        raise ScanRefused(NO_FREE_LOCKER, f"There is no free locker at {kiosk.bank.name}. "
                          "Please see the office.")
    # The partial unique indexes speak here (one open deposit per phone, one phone a locker).
    execute(session, _DEPOSIT, {"device": device.id, "locker": locker.id, "now": now,
                               "kiosk": kiosk.id})
    owner = device.owner
    duty.start(session, owner.id, duty.DEPOSIT, kiosk.id, now)
    return ScanResult(
        DEPOSITED,
        f"{owner.first_name}, put your phone in locker {locker.number} and close the door.",
        now, who=owner, locker=locker.number, bank=kiosk.bank.name,
    )


def _collect(session: Session, kiosk: Kiosk, deposit: Deposit, now: datetime,
             note: ExceptionNote | None) -> ScanResult:
    locker = deposit.locker
    owner = deposit.device.owner
    if locker.bank_id != kiosk.bank_id:
        raise ScanRefused(
            OTHER_BANK, f"{owner.first_name}, this phone is already in locker {locker.number} "
            f"at {locker.bank.name}. Please collect it there.")
    execute(session, _COLLECT, {"deposit": deposit.id, "now": now, "kiosk": kiosk.id})
    take = (f"{owner.first_name}, your phone is in locker {locker.number}. "
            "Take it and close the door.")
    if note is not None:  # an agreed exception: still on duty, with the phone
        message = f"{take} You may keep it until {note.until}, as agreed by {note.approved_by}."
    else:  # people leave early: collecting without an exception means going off duty
        duty.end(session, owner.id, duty.COLLECT, now)
        message = f"{take} You are now off duty."
    return ScanResult(COLLECTED, message, now, who=owner, locker=locker.number,
                      bank=locker.bank.name, exception=note, off_duty=note is None)


def _choose_locker(session: Session, kiosk: Kiosk, owner: Person) -> Locker | None:
    """The owner's own locker at this bank if it is free, else the lowest free shared one."""
    fixed = owner.fixed_locker_id
    if fixed is not None:
        own = session.scalar(_OWN_LOCKER, {"bank_id": kiosk.bank_id, "locker_id": fixed})
        if own is not None:
            return own
    return session.scalar(_SHARED_LOCKER, {"bank_id": kiosk.bank_id})


def lockers_of(session: Session, device_ids: list[int]) -> dict[int, int]:
    """Where these phones are now: device id to locker number, for those deposited."""
    rows = session.execute(
        select(Deposit.device_id, Locker.number).join(Locker)
        .where(Deposit.device_id.in_(device_ids), Deposit.collected_at.is_(None)))
    return {device_id: number for device_id, number in rows}


def lockers_in_use(session: Session, bank_id: int) -> dict[int, Deposit]:
    """Open deposits at a bank, by locker number."""
    rows = session.scalars(
        select(Deposit).join(Locker)
        .where(Locker.bank_id == bank_id, Deposit.collected_at.is_(None))
    )
    return {deposit.locker.number: deposit for deposit in rows}
