"""Emergency opening of whole locker banks, at the service layer."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from register import lock_commands
from register.db import unit_of_work
from register.errors import ValidationError
from register.kiosk_link import heartbeat
from register.models import AuditEvent, LockCommand

T0 = datetime(2026, 11, 25, 10, 15, tzinfo=UTC)


def test_emergency_open_queues_every_locker_and_is_audited(session, school):
    [opening] = lock_commands.emergency_open(
        session, [school.staff_room.id], "  Fire alarm:\n evacuation ", "head", T0)
    session.commit()
    assert opening == lock_commands.EmergencyOpening("Staff room", lockers=4, kiosks=1)
    commands = session.scalars(select(LockCommand).order_by(LockCommand.locker_number)).all()
    assert [(c.kiosk_id, c.locker_number, c.purpose) for c in commands] == [
        (school.staff_kiosk.id, n, "emergency") for n in (1, 2, 3, 4)]
    [entry] = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "lockers.emergency_open")).all()
    assert (entry.actor, entry.at, entry.subject) == ("head", T0, f"bank:{school.staff_room.id}")
    assert entry.detail == (
        "Staff room: 4 lockers, 1 kiosk asked to open them. Reason: Fire alarm: evacuation")
    with unit_of_work(session):
        orders = heartbeat(session, school.staff_kiosk.id, {}, {}, T0)
    assert sorted(order.locker for order in orders) == [1, 2, 3, 4]


def test_emergency_open_of_several_banks_audits_each(session, school):
    openings = lock_commands.emergency_open(session, [school.staff_room.id, school.reception.id],
                                    "Whole-school evacuation drill", "head", T0)
    session.commit()
    assert [o.bank for o in openings] == ["Reception", "Staff room"]
    subjects = session.scalars(select(AuditEvent.subject).where(
        AuditEvent.action == "lockers.emergency_open").order_by(AuditEvent.subject)).all()
    assert subjects == sorted([f"bank:{school.staff_room.id}", f"bank:{school.reception.id}"])


@pytest.mark.parametrize(("banks", "reason", "words"), [
    ([1], "", "Say why"),
    ([1], " ok ", "Say why"),
    ([], "Fire alarm", "Choose at least one"),
    ([999], "Fire alarm", "Choose at least one"),
])
def test_emergency_open_needs_a_bank_and_a_reason(session, school, banks, reason, words):
    with pytest.raises(ValidationError, match=words):
        lock_commands.emergency_open(session, banks, reason, "head", T0)
    session.rollback()
    assert session.scalars(select(LockCommand)).all() == []
