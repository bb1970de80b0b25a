"""The kiosk flow at the service layer, on a real database."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from register import people
from register.deposits import open_deposit
from register.models import Deposit, DutyPeriod
from tests.conftest import Shown, scan_code


def scan(session, kiosk, code, now=None) -> Shown:
    return scan_code(session, kiosk.id, code, now)


def later(minutes: int = 2) -> datetime:
    """Past the second-scan guard (60 s): a scan that collects on purpose."""
    return datetime.now(UTC) + timedelta(minutes=minutes)


def refusal(session, kiosk, code) -> Shown:
    answer = scan(session, kiosk, code)
    assert answer.outcome == "refused", answer
    return answer


def open_deposits(session) -> int:
    session.commit()  # end any read snapshot: count what other connections have committed
    return session.scalar(
        select(func.count()).select_from(Deposit).where(Deposit.collected_at.is_(None)))


def test_phone_label_deposits_then_collects(session, school):
    first = scan(session, school.staff_kiosk, school.alice_phone.label_code)
    assert (first.outcome, first.locker, first.person) == ("deposited", 1, "Alice")
    assert "locker 1" in first.message
    second = scan(session, school.staff_kiosk, school.alice_phone.label_code, later())
    assert (second.outcome, second.locker) == ("collected", 1)
    assert open_deposits(session) == 0


def test_label_code_is_read_whatever_the_case_and_spacing(session, school):
    code = school.alice_phone.label_code.lower()
    assert scan(session, school.staff_kiosk, f" {code[:4]} {code[4:]}\n").outcome == "deposited"


def test_badge_with_one_phone_acts_on_it(session, school):
    assert scan(session, school.staff_kiosk, school.alice.badge_id).outcome == "deposited"
    assert open_deposit(session, school.alice_phone) is not None


def test_badge_with_two_phones_asks_which(session, school):
    result = scan(session, school.staff_kiosk, school.bob.badge_id)
    assert result.outcome == "choose"
    assert {c.code for c in result.choices} == {
        school.bob_phone.label_code, school.bob_work_phone.label_code}
    assert open_deposits(session) == 0  # asking writes nothing
    scan(session, school.staff_kiosk, school.bob_phone.label_code)
    again = scan(session, school.staff_kiosk, school.bob.badge_id)
    lockers = {c.code: c.locker for c in again.choices}
    assert lockers == {school.bob_phone.label_code: 1, school.bob_work_phone.label_code: None}


def test_raw_imei_and_second_imei_identify_the_phone(session, school):
    people.update_device(session, school.bob_work_phone, people.DeviceDetails(
        imei="352099001761481", imei2="26053179311383 7"), "test")
    session.commit()
    assert scan(session, school.staff_kiosk, "49-015420-323751-8").person == "Alice"
    assert scan(session, school.staff_kiosk, "260531793113837").person == "Bob"


def test_fixed_locker_is_used_and_never_given_to_others(session, school):
    # Carol owns locker 3; three others fill 1, 2 and 4, then the bank is full.
    assert scan(session, school.staff_kiosk, school.carol_phone.label_code).locker == 3
    lockers = [scan(session, school.staff_kiosk, d.label_code).locker
               for d in (school.alice_phone, school.bob_phone, school.bob_work_phone)]
    assert lockers == [1, 2, 4]


def test_fixed_locker_stays_free_for_its_owner(session, school):
    for device in (school.alice_phone, school.bob_phone, school.bob_work_phone):
        scan(session, school.staff_kiosk, device.label_code)
    extra = people.add_person(session, people.PersonDetails("Dan Dale", "staff", "555"), "t")
    phone = people.register_device(session, extra, people.DeviceDetails("356868000041418"), "t")
    session.commit()
    refused = refusal(session, school.staff_kiosk, phone.label_code)
    assert refused.reason == "no_free_locker"
    assert "see the office" in str(refused)
    assert scan(session, school.staff_kiosk, school.carol.badge_id).locker == 3


def test_out_of_service_lockers_are_skipped(session, school):
    people.set_out_of_service(session, school.staff_room.lockers[0], True, "test")
    session.commit()
    assert scan(session, school.staff_kiosk, school.alice.badge_id).locker == 2


def test_phone_in_another_bank_must_be_collected_there(session, school):
    scan(session, school.reception_kiosk, school.alice.badge_id)
    refused = refusal(session, school.staff_kiosk, school.alice.badge_id)
    assert refused.reason == "other_bank"
    assert "locker 1 at Reception" in str(refused)
    assert scan(session, school.reception_kiosk, school.alice.badge_id,
                later()).outcome == "collected"


@pytest.mark.parametrize(("code", "reason", "words"), [
    ("0000009999", "unknown", "don't recognise"),
    ("490154203237517", "invalid_imei", "not a valid IMEI"),
    ("356868000041418", "unregistered", "not on the register"),
    ("   ", "empty", "Nothing was scanned"),
])
def test_bad_scans_are_refused_clearly(session, school, code, reason, words):
    refused = refusal(session, school.staff_kiosk, code)
    assert refused.reason == reason
    assert words in str(refused)
    assert open_deposits(session) == 0


def test_retired_phone_is_refused(session, school):
    people.retire_device(session, school.alice_phone, "test", "lost")
    session.commit()
    refused = refusal(session, school.staff_kiosk, school.alice_phone.label_code)
    assert refused.reason == "retired"
    # Her badge now finds no current phone at all: she signs in without one.
    assert scan(session, school.staff_kiosk,
                school.alice.badge_id).outcome == "signed_in_no_phone"


def test_person_who_left_is_refused(session, school):
    people.mark_left(session, school.alice, "test")
    session.commit()
    assert refusal(session, school.staff_kiosk, school.alice.badge_id).reason == "left"
    assert refusal(session, school.staff_kiosk, school.alice_phone.label_code).reason == "left"


def test_database_refuses_a_second_open_deposit_for_one_phone(session, school):
    """The invariant holds even for code that skips the service layer."""
    lockers = school.staff_room.lockers
    session.add(Deposit(device_id=school.alice_phone.id, locker_id=lockers[0].id))
    session.commit()
    session.add(Deposit(device_id=school.alice_phone.id, locker_id=lockers[1].id))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()
    session.add(Deposit(device_id=school.bob_phone.id, locker_id=lockers[0].id))
    with pytest.raises(IntegrityError):
        session.commit()


def test_times_are_stored_in_utc_across_the_october_clock_change(session, school):
    # 25 October 2026: clocks go back from 02:00 BST to 01:00 GMT.
    before = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 01:30 BST
    after = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 01:30 GMT, an hour later
    scan(session, school.staff_kiosk, school.alice.badge_id, now=before)
    scan(session, school.staff_kiosk, school.alice.badge_id, now=after)
    session.expire_all()
    deposit = session.scalars(select(Deposit)).one()
    assert deposit.deposited_at == before and deposit.collected_at == after
    assert deposit.collected_at - deposit.deposited_at == after - before  # one hour, not zero
    from zoneinfo import ZoneInfo
    london = ZoneInfo("Europe/London")
    assert deposit.deposited_at.astimezone(london).strftime("%H:%M %Z") == "01:30 BST"
    assert deposit.collected_at.astimezone(london).strftime("%H:%M %Z") == "01:30 GMT"


def _race(engine, kiosk_id: int, codes: list[str]) -> list[object]:
    """Scan ``codes`` at the same instant from separate threads, each its own connection."""
    barrier = threading.Barrier(len(codes))
    results: list[object] = [None] * len(codes)

    def worker(index: int) -> None:
        with Session(engine) as session:
            barrier.wait()
            results[index] = scan_code(session, kiosk_id, codes[index])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(codes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_two_kiosks_racing_for_the_last_locker(engine, session, school):
    for locker in school.staff_room.lockers[:2]:
        people.set_out_of_service(session, locker, True, "test")
    session.commit()  # free now: locker 4 (locker 3 is Carol's)
    for _attempt in range(5):
        results = _race(engine, school.staff_kiosk.id,
                        [school.alice_phone.label_code, school.bob_phone.label_code])
        won = [r for r in results if r.outcome != "refused"]
        lost = [r for r in results if r.outcome == "refused"]
        assert len(won) == 1 and len(lost) == 1, results
        assert won[0].locker == 4
        assert lost[0].reason == "no_free_locker"
        assert open_deposits(session) == 1
        session.execute(Deposit.__table__.delete())
        session.execute(DutyPeriod.__table__.delete())
        session.commit()


def test_two_kiosks_racing_for_one_phone(engine, session, school):
    results = _race(engine, school.staff_kiosk.id, [school.alice_phone.label_code] * 2)
    outcomes = sorted(r.outcome for r in results)
    # Serialised: one deposits, the other then sees it just deposited (the second-scan guard:
    # it collects nothing). Never two deposits.
    assert outcomes == ["already_deposited", "deposited"]
    session.commit()
    assert session.scalar(select(func.count()).select_from(Deposit)) == 1
