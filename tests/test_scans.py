"""Scans with idempotency keys, original scan times and kiosk events, at the service layer."""

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.answers import status_for
from register import kiosk_events, kiosk_link, lock_commands, people
from register.db import unit_of_work
from register.models import AuditEvent, Deposit, Kiosk, LockCommand, ScanReceipt
from register.scans import ScanRequest, set_asking
from tests.conftest import scan_code

LONDON = ZoneInfo("Europe/London")
T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def do(session, kiosk, code, now=T0, **options):
    """The scan use case, and the HTTP status the web layer gives its answer."""
    return answered(scan_code(session, kiosk.id, code, now, **options))


def answered(shown):
    shown.status = status_for(shown.reason)
    return shown


def count(session, model, *where) -> int:
    session.commit()
    return session.scalar(select(func.count()).select_from(model).where(*where))


def events(session, kiosk) -> list[kiosk_events.Event]:
    found, _cursor = kiosk_events.after(session, kiosk.id, 0)
    session.rollback()
    return found


# --- idempotency -------------------------------------------------------------------------------

def test_a_repeated_key_gets_the_first_answer_and_acts_no_more(session, school):
    code = school.alice_phone.label_code
    first = do(session, school.staff_kiosk, code, key="k1")
    again = do(session, school.staff_kiosk, code, key="k1", now=T0 + timedelta(seconds=3))
    assert (first.status, first.body["outcome"], first.repeated) == (200, "deposited", False)
    assert (again.status, again.body, again.repeated) == (200, first.body, True)
    assert count(session, Deposit) == 1
    assert count(session, LockCommand) == 1  # and the locker is opened once
    # A new key is a new scan: this one, past the second-scan guard, collects.
    assert do(session, school.staff_kiosk, code, key="k2",
              now=T0 + timedelta(seconds=61)).body["outcome"] == "collected"


def test_keys_belong_to_one_kiosk(session, school):
    assert do(session, school.staff_kiosk, school.alice.badge_id, key="same").status == 200
    other = do(session, school.reception_kiosk, school.bob_phone.label_code, key="same")
    assert (other.body["outcome"], other.repeated) == ("deposited", False)


def test_a_refusal_is_stored_too_and_repeated_as_it_was(session, school):
    for locker in school.staff_room.lockers:
        people.set_out_of_service(session, locker, True, "test")
    session.commit()
    first = do(session, school.staff_kiosk, school.alice.badge_id, key="full")
    assert (first.status, first.body["reason"]) == (409, "no_free_locker")
    people.set_out_of_service(session, school.staff_room.lockers[0], False, "test")
    session.commit()
    again = do(session, school.staff_kiosk, school.alice.badge_id, key="full")
    assert (again.status, again.body, again.repeated) == (409, first.body, True)
    assert count(session, Deposit) == 0


def test_without_a_key_nothing_is_stored(session, school):
    do(session, school.staff_kiosk, school.alice.badge_id)
    do(session, school.staff_kiosk, "0000009999")
    assert count(session, ScanReceipt) == 0


def test_stored_answers_older_than_a_day_are_forgotten(session, school):
    do(session, school.staff_kiosk, school.alice.badge_id, key="old")
    do(session, school.staff_kiosk, school.bob_phone.label_code, key="new",
       now=T0 + timedelta(days=1, minutes=1))
    assert session.scalars(select(ScanReceipt.key)).all() == ["new"]


def _send_twice_at_once(engine, kiosk_id: int, request: ScanRequest, now: datetime) -> list:
    """The same request from two threads at the same instant, each on its own connection."""
    barrier = threading.Barrier(2)
    answers: list[object] = [None, None]

    def worker(index: int) -> None:
        with Session(engine) as own:
            barrier.wait()
            answers[index] = answered(scan_code(own, kiosk_id, request.code, now,
                                                key=request.key))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return answers


def test_two_identical_requests_racing_act_once(engine, session, school):
    """The agent retries while its first request is still being answered: one deposit."""
    kiosk_id, code = school.staff_kiosk.id, school.alice_phone.label_code  # not from threads
    for attempt in range(5):
        key = f"race-{attempt}"
        first, second = _send_twice_at_once(engine, kiosk_id, ScanRequest(code, key=key),
                                            T0 + timedelta(minutes=attempt))
        assert first.body == second.body, (first, second)
        assert sorted([first.repeated, second.repeated]) == [False, True]
        outcome = "deposited" if attempt % 2 == 0 else "collected"
        assert first.body["outcome"] == outcome
        assert count(session, Deposit) == attempt // 2 + 1
        # The loser found the key claimed and acted no more: the phone is where the answer
        # says.
        assert count(session, Deposit, Deposit.collected_at.is_(None)) == (outcome == "deposited")
        assert count(session, ScanReceipt, ScanReceipt.key == key) == 1


# --- the time of the scan ------------------------------------------------------------------------

def test_a_replayed_scan_is_recorded_at_the_time_it_was_made(session, school):
    scanned = T0 - timedelta(hours=2)
    answer = do(session, school.staff_kiosk, school.alice.badge_id, scanned_at=scanned,
                source="rfid", key="replay")
    assert answer.body["at"] == scanned.isoformat()
    assert answer.body["time"] == "06:00"  # GMT in November
    session.expire_all()
    assert session.scalars(select(Deposit)).one().deposited_at == scanned


def test_a_replayed_scan_opens_no_locker_and_is_not_shown(session, school):
    do(session, school.staff_kiosk, school.alice.badge_id, source="rfid",
       scanned_at=T0 - timedelta(minutes=5))
    with unit_of_work(session):
        assert kiosk_link.heartbeat(session, school.staff_kiosk.id, {}, {}, T0) == []
    assert events(session, school.staff_kiosk) == []


def test_a_scan_a_little_late_or_early_is_fine(session, school):
    assert do(session, school.staff_kiosk, school.alice.badge_id,
              scanned_at=T0 + timedelta(seconds=30)).status == 200
    assert do(session, school.staff_kiosk, school.bob_phone.label_code,
              scanned_at=T0 - timedelta(hours=23)).status == 200


@pytest.mark.parametrize("offset", [timedelta(minutes=5), -timedelta(days=3)])
def test_an_implausible_scan_time_is_recorded_now_and_noted_never_dropped(
        session, school, offset):
    """A Pi without a battery clock may send any time until NTP answers: the scan still counts."""
    answer = do(session, school.staff_kiosk, school.alice.badge_id, scanned_at=T0 + offset,
                source="rfid", key="when")
    assert (answer.status, answer.body["outcome"]) == (200, "deposited")
    session.expire_all()
    assert session.scalars(select(Deposit)).one().deposited_at == T0
    note = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "scan.time_corrected")).one()
    assert (T0 + offset).isoformat() in note.detail


# --- events for the kiosk page -------------------------------------------------------------------

def test_scans_on_the_agents_readers_are_published_to_the_page(session, school):
    deposit = do(session, school.staff_kiosk, school.alice.badge_id, source="rfid", key="a")
    refused = do(session, school.staff_kiosk, "0000009999", source="scanner")
    do(session, school.staff_kiosk, school.bob_phone.label_code, source="page")
    do(session, school.staff_kiosk, school.alice.badge_id, source="rfid", key="a")  # a repeat
    published = events(session, school.staff_kiosk)
    assert [e.kind for e in published] == ["scan", "scan"]
    assert published[0].data == {**deposit.body, "source": "rfid"}
    assert published[1].data == {**refused.body, "source": "scanner"}
    assert events(session, school.reception_kiosk) == []


def test_the_page_asks_for_events_after_the_last_it_saw(session, school):
    for code in (school.alice.badge_id, school.bob_phone.label_code, school.carol.badge_id):
        do(session, school.staff_kiosk, code, source="rfid")
    first, second, third = events(session, school.staff_kiosk)
    found, cursor = kiosk_events.after(session, school.staff_kiosk.id, first.id)
    assert ([e.id for e in found], cursor) == ([second.id, third.id], third.id)
    assert kiosk_events.after(session, school.staff_kiosk.id, third.id) == ([], third.id)
    # A page that saw more than there is (the database was rebuilt) is brought back.
    assert kiosk_events.after(session, school.staff_kiosk.id, 9999) == ([], third.id)
    assert kiosk_events.latest_id(session, school.staff_kiosk.id) == third.id


def test_a_deposit_and_a_collection_each_open_the_locker(session, school):
    do(session, school.staff_kiosk, school.carol.badge_id)
    do(session, school.staff_kiosk, school.carol.badge_id, now=T0 + timedelta(seconds=80))
    commands = session.scalars(select(LockCommand).order_by(LockCommand.id)).all()
    assert [(c.kiosk_id, c.locker_number, c.purpose, c.created_at) for c in commands] == [
        (school.staff_kiosk.id, 3, lock_commands.DEPOSIT, T0),
        (school.staff_kiosk.id, 3, lock_commands.COLLECT, T0 + timedelta(seconds=80)),
    ]


# --- the page asking who is there ("I need my phone today") -----------------------------------

def asking(session, kiosk, on=True, now=T0):
    with unit_of_work(session):
        return set_asking(session, kiosk.id, on, now)


def asking_until(session, kiosk):
    session.commit()
    return session.scalar(select(Kiosk.asking_until).where(Kiosk.id == kiosk.id))


def test_while_the_page_asks_the_next_badge_read_by_the_agent_only_identifies(session, school):
    asking(session, school.staff_kiosk)
    answer = do(session, school.staff_kiosk, school.alice.badge_id, source="rfid", key="r1",
                now=T0 + timedelta(seconds=20))
    assert answer.status == 200
    assert answer.body["outcome"] == "identified"
    assert (answer.body["person"], answer.body["code"]) == ("Alice", school.alice.badge_id)
    assert count(session, Deposit) == 0 and count(session, LockCommand) == 0
    assert asking_until(session, school.staff_kiosk) is None  # the question is answered
    [event] = events(session, school.staff_kiosk)
    assert (event.kind, event.data["outcome"], event.data["code"], event.data["source"]) == (
        "scan", "identified", school.alice.badge_id, "rfid")
    # A retry of that scan gets the same answer and deposits nothing.
    again = do(session, school.staff_kiosk, school.alice.badge_id, source="rfid", key="r1",
               now=T0 + timedelta(seconds=21))
    assert (again.body, again.repeated) == (answer.body, True)
    assert count(session, Deposit) == 0
    # The question is answered: the next badge acts as usual.
    assert do(session, school.staff_kiosk, school.alice.badge_id, source="rfid",
              now=T0 + timedelta(seconds=30)).body["outcome"] == "deposited"


def test_a_label_read_by_the_agents_scanner_identifies_too(session, school):
    asking(session, school.staff_kiosk)
    answer = do(session, school.staff_kiosk, school.alice_phone.label_code, source="scanner")
    assert (answer.body["outcome"], answer.body["person"]) == ("identified", "Alice")
    assert count(session, Deposit) == 0


def test_an_imei_scanned_to_identify_is_never_kept_in_the_answer_or_event(session, school):
    asking(session, school.staff_kiosk)
    answer = do(session, school.staff_kiosk, "490154203237518", source="scanner", key="i1")
    assert (answer.body["outcome"], answer.body["person"]) == ("identified", "Alice")
    assert answer.body["code"] == school.alice.badge_id  # names her just as well
    [event] = events(session, school.staff_kiosk)
    assert "490154203237518" not in str(event.data)
    receipt = session.scalars(select(ScanReceipt)).one()
    assert "490154203237518" not in str(receipt.body)


def test_a_question_left_a_minute_has_expired_and_the_badge_deposits(session, school):
    asking(session, school.staff_kiosk)
    answer = do(session, school.staff_kiosk, school.alice.badge_id, source="rfid",
                now=T0 + timedelta(seconds=61))
    assert answer.body["outcome"] == "deposited"
    assert count(session, Deposit) == 1


def test_a_question_withdrawn_by_the_page_leaves_scans_acting(session, school):
    asking(session, school.staff_kiosk)
    asking(session, school.staff_kiosk, on=False, now=T0 + timedelta(seconds=5))
    assert asking_until(session, school.staff_kiosk) is None
    assert do(session, school.staff_kiosk, school.alice.badge_id, source="rfid",
              now=T0 + timedelta(seconds=6)).body["outcome"] == "deposited"


def test_the_pages_own_scans_and_replayed_scans_are_not_taken_as_the_answer(session, school):
    asking(session, school.staff_kiosk)
    typed = do(session, school.staff_kiosk, school.alice.badge_id, source="page",
               now=T0 + timedelta(seconds=1))
    replayed = do(session, school.staff_kiosk, school.bob_phone.label_code, source="rfid",
                  scanned_at=T0 - timedelta(minutes=5), now=T0 + timedelta(seconds=2))
    assert (typed.body["outcome"], replayed.body["outcome"]) == ("deposited", "deposited")
    assert asking_until(session, school.staff_kiosk) is not None  # still asking
    assert do(session, school.staff_kiosk, school.carol.badge_id, source="rfid",
              now=T0 + timedelta(seconds=3)).body["outcome"] == "identified"


def test_the_question_belongs_to_one_kiosk(session, school):
    asking(session, school.reception_kiosk)
    assert do(session, school.staff_kiosk, school.alice.badge_id,
              source="rfid").body["outcome"] == "deposited"


def test_an_unknown_badge_answers_the_question_with_a_refusal(session, school):
    asking(session, school.staff_kiosk)
    answer = do(session, school.staff_kiosk, "0000009999", source="rfid")
    assert (answer.status, answer.body["reason"]) == (404, "unknown")
    assert asking_until(session, school.staff_kiosk) is None
    [event] = events(session, school.staff_kiosk)
    assert event.data["reason"] == "unknown"
