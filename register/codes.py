"""What a scanned or typed code names: the one answer for the scan, the kiosk's "who is
there?" and a request made at the kiosk.

A code is tried, in this order, as a phone's label, a person's badge, then an IMEI (first or
second) read off the phone itself. Each refusal has one reason and one sentence, the same
wherever the code was scanned.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from register.errors import InvalidImei, ScanRefused
from register.imei import looks_like_imei, parse_imei
from register.models import Device, Person
from register.people import normalise_badge_id, normalise_code

EMPTY, UNKNOWN, INVALID_IMEI, UNREGISTERED, LEFT, RETIRED = (
    "empty", "unknown", "invalid_imei", "unregistered", "left", "retired")


_DEVICES = select(Device).options(joinedload(Device.owner))
_BY_LABEL = _DEVICES.where(Device.label_code == bindparam("code"))
_BY_IMEI = _DEVICES.where(or_(Device.imei == bindparam("imei"), Device.imei2 == bindparam("imei")))
_BY_BADGE = (select(Person).where(Person.badge_id == bindparam("badge"))
             .options(selectinload(Person.devices)))


@dataclass(frozen=True)
class Named:
    """Whoever a code names and, for a label or an IMEI, the phone it is on."""

    person: Person
    device: Device | None  # None for a badge: the person may have several phones


def resolve(session: Session, raw: str) -> Named:
    """The person (and phone) ``raw`` names; refusals raise ScanRefused. Reads only."""
    code = normalise_code(raw)
    if not code:
        raise ScanRefused(EMPTY, "Nothing was scanned. Please try again.")
    device = session.scalar(_BY_LABEL, {"code": code})
    if device is not None:
        return _current(Named(device.owner, device))
    person = session.scalar(_BY_BADGE, {"badge": normalise_badge_id(code)})
    if person is not None:
        return _current(Named(person, None))
    if not looks_like_imei(code):
        raise ScanRefused(
            UNKNOWN, "We don't recognise that code. Please try again or see the office.")
    try:
        imei = parse_imei(code).imei
    except InvalidImei:
        raise ScanRefused(
            INVALID_IMEI, "That number is not a valid IMEI. Check it with *#06# and try again.",
        ) from None
    device = session.scalar(_BY_IMEI, {"imei": imei})
    if device is None:
        raise ScanRefused(UNREGISTERED, "This phone is not on the register. Please see the office.")
    return _current(Named(device.owner, device))


def _current(named: Named) -> Named:
    """Refuse a code whose person has left or whose phone was retired."""
    person, device = named.person, named.device
    if not person.active:
        raise ScanRefused(
            LEFT, f"{person.first_name} is marked as having left. Please see the office.")
    if device is not None and device.retired_at is not None:
        raise ScanRefused(
            RETIRED, f"This {device.description} was retired from the register. "
            "Please see the office.")
    return named
