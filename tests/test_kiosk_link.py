"""The kiosk agent's heartbeat: readers, doors, lock commands, and what people are shown."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from register import kiosk_events, kiosk_link, lock_commands
from register.db import unit_of_work
from register.errors import NotFound
from register.kiosk_link import ReaderReport, kiosk_status
from register.models import Deposit, LockCommand
from tests.conftest import scan_code

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
BOTH_READERS = {"rfid": ReaderReport(True), "scanner": ReaderReport(True)}
NO_BADGES = {"rfid": ReaderReport(False, "/dev/ttyS0: no such device"),
             "scanner": ReaderReport(True)}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def warnings(session, kiosk, now) -> list[str]:
    status = kiosk_status(session, kiosk.id, now)
    session.rollback()
    return [alert.message for alert in status.alerts]


def published(session, kiosk) -> list[kiosk_events.Event]:
    found, _cursor = kiosk_events.after(session, kiosk.id, 0)
    session.rollback()
    return found


def deposit(session, school, code, now=T0):
    return scan_code(session, school.staff_kiosk.id, code, now)


def heartbeat(session, *args):
    """The heartbeat use case in its own unit of work, as the agent API runs it."""
    with unit_of_work(session):
        return kiosk_link.heartbeat(session, *args)


def record_result(session, *args, **options):
    with unit_of_work(session):
        return lock_commands.record_result(session, *args, **options)


# --- readers -----------------------------------------------------------------------------------

def test_a_kiosk_without_an_agent_shows_no_reader_status(session, school):
    status = kiosk_status(session, school.staff_kiosk.id, T0)
    assert (status.has_agent, status.readers, status.alerts) == (False, [], [])


def test_a_disconnected_badge_reader_is_shown_until_it_returns(session, school):
    kiosk = school.staff_kiosk
    heartbeat(session, kiosk.id, BOTH_READERS, {}, T0)
    assert warnings(session, kiosk, at(1)) == []
    heartbeat(session, kiosk.id, NO_BADGES, {}, at(2))
    heartbeat(session, kiosk.id, NO_BADGES, {}, at(3))
    status = kiosk_status(session, kiosk.id, at(3))
    assert [r.as_dict() for r in status.readers] == [
        {"name": "rfid", "label": "badge reader", "connected": False,
         "detail": "/dev/ttyS0: no such device"},
        {"name": "scanner", "label": "label scanner", "connected": True, "detail": ""},
    ]
    [alert] = status.alerts
    assert (alert.kind, alert.message) == (
        "reader_disconnected", "Badge reader disconnected — please see the office")
    assert alert.since == at(2)  # when it went, not the latest heartbeat
    assert warnings(session, school.reception_kiosk, at(3)) == []
    heartbeat(session, kiosk.id, BOTH_READERS, {}, at(4))
    assert warnings(session, kiosk, at(4)) == []


def test_an_agent_that_stops_sending_heartbeats_counts_as_disconnected(session, school):
    kiosk = school.staff_kiosk
    heartbeat(session, kiosk.id, BOTH_READERS, {}, T0)
    assert warnings(session, kiosk, T0 + kiosk_link.HEARTBEAT_STALE) == []
    [alert] = kiosk_status(session, kiosk.id, at(6)).alerts
    assert alert.kind == "agent_silent"
    assert alert.message == (
        "Badge reader and label scanner disconnected — please see the office")
    assert alert.summary == "kiosk agent not responding (readers and locks)"
    heartbeat(session, kiosk.id, BOTH_READERS, {}, at(7))
    assert warnings(session, kiosk, at(7)) == []


def test_slt_sees_every_kiosk_that_needs_attention(session, school):
    heartbeat(session, school.staff_kiosk.id, NO_BADGES, {}, T0)
    heartbeat(session, school.reception_kiosk.id, BOTH_READERS, {1: "open"}, at(-40))
    heartbeat(session, school.reception_kiosk.id, BOTH_READERS, {1: "open"}, at(-1))
    alerts = kiosk_link.attention(session, T0)
    assert [(a.kiosk, a.bank, a.summary) for a in alerts] == [
        ("Staff kiosk", "Staff room", "badge reader disconnected"),
        ("Front kiosk", "Reception", "locker 1 open"),
    ]


# --- lock commands -------------------------------------------------------------------------

def test_a_deposit_opens_its_locker_on_the_next_heartbeat_once(session, school):
    deposit(session, school, school.alice.badge_id)
    [order] = heartbeat(session, school.staff_kiosk.id, {}, {}, at(1))
    assert (order.action, order.locker) == ("open", 1)
    assert order.as_dict() == {"id": order.id, "action": "open", "locker": 1}
    assert heartbeat(session, school.staff_kiosk.id, {}, {}, at(2)) == []
    assert heartbeat(session, school.reception_kiosk.id, {}, {}, at(2)) == []


def test_commands_older_than_ten_seconds_are_never_handed_out(session, school):
    """The agent was off when the phone was deposited: on power-up no locker opens by itself."""
    deposit(session, school, school.alice.badge_id)
    assert heartbeat(session, school.staff_kiosk.id, {}, {}, at(10)) == []
    session.expire_all()
    command = session.scalars(select(LockCommand)).one()
    assert lock_commands.status(command, at(10)) == "expired"
    assert lock_commands.status(command, at(9)) == "pending"


def test_two_heartbeats_at_once_hand_a_command_out_once(engine, session, school):
    deposit(session, school, school.alice.badge_id)
    kiosk_id = school.staff_kiosk.id
    barrier = threading.Barrier(2)
    handed: list[list[lock_commands.Order]] = [[], []]

    def agent(index: int) -> None:
        with Session(engine) as own:
            barrier.wait()
            handed[index] = heartbeat(own, kiosk_id, {}, {}, at(1))

    threads = [threading.Thread(target=agent, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(len(orders) for orders in handed) == [0, 1]


def test_a_lock_that_did_not_open_tells_the_kiosk(session, school):
    deposit(session, school, school.alice.badge_id)
    [order] = heartbeat(session, school.staff_kiosk.id, {}, {}, at(1))
    assert record_result(session, school.staff_kiosk.id, order.id, False,
                               "no reply from lock board", at(2)) == "failed"
    # A repeated report changes nothing and tells nobody twice.
    again = record_result(session, school.staff_kiosk.id, order.id, True, now=at(3))
    assert again == "failed"
    [event] = published(session, school.staff_kiosk)
    assert event.kind == "lock_failed"
    assert event.data["message"] == "Locker 1 did not open. Please see the office."
    assert event.data["locker"] == 1
    command = session.get(LockCommand, order.id)
    assert (command.ok, command.error) == (False, "no reply from lock board")


def test_an_opened_lock_is_recorded_quietly(session, school):
    deposit(session, school, school.alice.badge_id)
    [order] = heartbeat(session, school.staff_kiosk.id, {}, {}, at(1))
    assert record_result(session, school.staff_kiosk.id, order.id, True, now=at(2)) == "done"
    assert published(session, school.staff_kiosk) == []


def test_a_kiosk_cannot_report_on_another_kiosks_command(session, school):
    deposit(session, school, school.alice.badge_id)
    [order] = heartbeat(session, school.staff_kiosk.id, {}, {}, at(1))
    with pytest.raises(NotFound):
        record_result(session, school.reception_kiosk.id, order.id, True, now=at(2))
    with pytest.raises(NotFound):
        record_result(session, school.staff_kiosk.id, order.id + 100, True, now=at(2))


# --- doors ---------------------------------------------------------------------------------

def test_a_door_left_open_for_thirty_seconds_is_a_warning(session, school):
    kiosk = school.staff_kiosk
    heartbeat(session, kiosk.id, {}, {1: "closed", 7: "open"}, T0)  # locker 7: not in this bank
    heartbeat(session, kiosk.id, {}, {1: "open"}, at(1))
    heartbeat(session, kiosk.id, {}, {1: "open"}, at(30))
    assert warnings(session, kiosk, at(30)) == []
    assert published(session, kiosk) == []
    heartbeat(session, kiosk.id, {}, {1: "open"}, at(31))
    assert warnings(session, kiosk, at(31)) == ["Locker 1 is open: please close the door"]
    [event] = published(session, kiosk)
    assert (event.kind, event.data["locker"]) == ("door_open", 1)
    heartbeat(session, kiosk.id, {}, {1: "open"}, at(32))
    assert len(published(session, kiosk)) == 1  # published once per opening
    heartbeat(session, kiosk.id, {}, {1: "closed"}, at(33))
    assert warnings(session, kiosk, at(33)) == []


def test_several_doors_left_open_are_one_warning_on_the_kiosk(session, school):
    kiosk = school.staff_kiosk
    heartbeat(session, kiosk.id, {}, {2: "open", 4: "open", 3: "unknown"}, T0)
    heartbeat(session, kiosk.id, {}, {}, at(40))
    assert warnings(session, kiosk, at(40)) == ["Lockers 2 and 4 are open: please close the doors"]
    # Only while the agent is heard from: a silent agent's doors are not known.
    assert warnings(session, kiosk, at(50)) == [
        "The kiosk's locks are not responding — please see the office"]


def test_a_deposit_is_complete_when_its_door_is_seen_closed(session, school):
    kiosk = school.staff_kiosk
    heartbeat(session, kiosk.id, {}, {1: "closed"}, at(-5))
    deposit(session, school, school.alice.badge_id)
    heartbeat(session, kiosk.id, {}, {1: "closed"}, at(1))  # not opened yet: not complete
    session.expire_all()
    assert session.scalars(select(Deposit)).one().door_closed_at is None
    heartbeat(session, kiosk.id, {}, {1: "open"}, at(2))
    heartbeat(session, kiosk.id, {}, {1: "closed"}, at(9))
    session.expire_all()
    assert session.scalars(select(Deposit)).one().door_closed_at == at(9)
    heartbeat(session, kiosk.id, {}, {1: "open"}, at(20))  # opened again: the first close stands
    heartbeat(session, kiosk.id, {}, {1: "closed"}, at(25))
    session.expire_all()
    assert session.scalars(select(Deposit)).one().door_closed_at == at(9)


def test_heartbeat_refuses_a_door_state_it_does_not_know(session, school):
    from register.errors import ValidationError
    with pytest.raises(ValidationError):
        heartbeat(session, school.staff_kiosk.id, {}, {1: "ajar"}, T0)
