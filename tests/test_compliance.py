"""Compliance with the phone policy, day by day: duty time covered by a phone in a locker or by
an exception in force, with ten minutes' grace.

The fortnight below is a small school (Alice, Bob, Carol) across the October clock change,
built through the kiosk and exception services with explicit times. Everyone deposits at 08:00
and collects at 16:00 local time every weekday, except:

- Bob is on call every Tuesday 12:00-16:00 (approved Mon 19): he deposits at 08:00, collects
  at 12:00 under the exception and signs out at 15:59. Half deposit, half exception, both weeks.
- Alice, Wed 21: exception until 12:00, on duty with her phone at 08:00, deposits at 12:08
  (8 minutes uncovered: within the grace). Thu 22: the same, deposits at 12:11 (11: a gap).
- Bob, Thu 22: asks at 08:05 for today until 14:00; declined at 08:35.
- Carol, Mon 26: asks at 09:00; nobody decides; it lapses.
- Alice, Tue 27: off-site all day, approved at 07:00, on duty with her phone at 08:00, revoked
  at 13:00, deposits at 13:20 (20 minutes uncovered: a gap).
- Carol, Thu 29: exception until 11:00, on duty with her phone at 08:00; it expires at 11:00 and
  she keeps the phone until she deposits at 15:00 (4 hours uncovered), collects at 15:30.
- Alice, Fri 30: asks for Monday 2 November; still pending.

30 staff-days on duty; 27 met the policy (90%).
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from register import compliance, exception_requests, people
from register.compliance import GRACE, Term, compute
from register.db import configure_engine
from register.exception_requests import Window
from register.models import (
    Base,
    Deposit,
    Device,
    DutyPeriod,
    ExceptionDecision,
    ExceptionRequest,
    Locker,
    Person,
    User,
)
from tests.conftest import build_school, scan_code

LONDON = ZoneInfo("Europe/London")
FIRST, LAST = date(2026, 10, 19), date(2026, 10, 30)  # Mon to Fri; clocks go back Sun 25
AFTER = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # when the report is run


def at(day: int, hour: int, minute: int = 0, month: int = 10) -> datetime:
    """A local wall-clock time in London (BST until 25 October, GMT after)."""
    return datetime(2026, month, day, hour, minute, tzinfo=LONDON)


def build_fortnight(session, school) -> None:
    """The fortnight, through the kiosk and exception services. Requests' reasons name them."""
    head = User(username="head", password_hash="x", role="slt")
    session.add(head)
    session.commit()
    requests: dict[str, ExceptionRequest] = {}

    def scan(code: str, when: datetime, **options) -> str:
        return scan_code(session, school.staff_kiosk.id, code, when, LONDON, **options).outcome

    def lock_away(code: str, when: datetime) -> str:
        """After an exception ended, still on duty: the kiosk asks, and the person chooses."""
        assert scan(code, when) == "leave_choice"
        return scan(code, when, choice="lock_away")

    def ask(key, person, category, window, when):
        requests[key] = exception_requests.request_exception(
            session, person, category, f"Reason {key}", window, "office", "office", LONDON, when)
        session.commit()
        return requests[key]

    def approve(key, when):
        exception_requests.approve(session, requests[key], head, "", when)
        session.commit()

    alice, bob, carol = school.alice.badge_id, school.bob_phone.label_code, school.carol.badge_id
    for offset in range(12):
        day = FIRST + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        d = day.day
        if d == 19:
            ask("bob_on_call", school.bob, "on_call",
                Window(date(2026, 10, 19), date(2026, 10, 27), time(12), time(16), "1"), at(19, 7))
            approve("bob_on_call", at(19, 7, 30))
        if d in (21, 22):
            ask(f"alice_{d}", school.alice, "emergency", Window(day, day, None, time(12)),
                at(d, 7, 40))
            approve(f"alice_{d}", at(d, 7, 55 if d == 21 else 50))
        if d == 27:
            approve("alice_27", at(27, 7))
        if d == 29:
            ask("carol_29", school.carol, "emergency", Window(day, day, None, time(11)),
                at(29, 7, 30))
            approve("carol_29", at(29, 7, 50))

        # Arrivals at 08:00.
        for code in (alice, bob, carol):
            outcome = scan(code, at(d, 8))
            exceptional = (code == alice and d in (21, 22, 27)) or (code == carol and d == 29)
            assert outcome == ("on_duty" if exceptional else "deposited"), (code, d, outcome)

        if d == 22:
            ask("bob_22", school.bob, "caring", Window(day, day, None, time(14)), at(22, 8, 5))
            exception_requests.decline(session, requests["bob_22"], head, "Cover arranged",
                                       at(22, 8, 35))
            session.commit()
        if d == 26:
            ask("carol_26", school.carol, "other", Window(day, day, None, time(15)), at(26, 9))
        if d in (20, 27):  # Bob's Tuesday on call
            assert scan(bob, at(d, 12)) == "collected"
        if d in (21, 22):
            assert lock_away(alice, at(d, 12, 8 if d == 21 else 11)) == "deposited"
        if d == 27:
            exception_requests.revoke(session, requests["alice_27"], head, "Trip cancelled",
                                      at(27, 13))
            session.commit()
            assert lock_away(alice, at(27, 13, 20)) == "deposited"
        if d == 29:
            assert lock_away(carol, at(29, 15)) == "deposited"
            assert scan(carol, at(29, 15, 30)) == "collected"
        if d == 30:
            ask("alice_30", school.alice, "caring",
                Window(date(2026, 11, 2), date(2026, 11, 2), None, time(10)), at(30, 10))

        # Departures at 16:00 (Bob signs out at 15:59, still covered by his exception).
        if d in (20, 27):
            assert scan(bob, at(d, 15, 59)) == "off_duty"
        else:
            assert scan(bob, at(d, 16)) == "collected"
        assert scan(alice, at(d, 16)) == "collected"
        if d != 29:
            assert scan(carol, at(d, 16)) == "collected"
        if d == 26:  # asked for the day after
            ask("alice_27", school.alice, "offsite", Window(date(2026, 10, 27),
                                                            date(2026, 10, 27)), at(26, 16, 30))
        exception_requests.expire_due(session, LONDON, at(d, 18))
        session.commit()


@functools.cache
def fortnight_rows() -> dict[str, list[dict[str, object]]]:
    """The fortnight built once per run through the services (on SQLite in memory), kept as
    rows: each test loads them into its own database in milliseconds instead of replaying
    about a hundred scans and decisions. test_the_services_build_the_same_fortnight_here
    replays them on this run's database (PostgreSQL too) and checks the figures agree."""
    engine = create_engine("sqlite://", poolclass=StaticPool)
    configure_engine(engine)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        build_fortnight(session, build_school(session))
    with engine.connect() as connection:
        rows = {table.name: [dict(row._mapping) for row in connection.execute(select(table))]
                for table in Base.metadata.sorted_tables}
    engine.dispose()
    return rows


def load_fortnight(session: Session, rows: dict[str, list[dict[str, object]]]) -> None:
    """Insert the fortnight's rows as they were, ids and all, into an empty database."""
    for table in Base.metadata.sorted_tables:
        if rows[table.name]:
            session.execute(insert(table), rows[table.name])
    if session.get_bind().dialect.name == "postgresql":  # the next ids follow on
        for table in Base.metadata.sorted_tables:
            if rows[table.name] and "id" in table.c and table.c.id.autoincrement is not False:
                session.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"(SELECT max(id) FROM {table.name}))"))
    session.commit()


@pytest.fixture
def fortnight(session) -> None:
    load_fortnight(session, fortnight_rows())


def status_of(session, key: str) -> str:
    return session.scalars(select(ExceptionRequest.status).where(
        ExceptionRequest.reason == f"Reason {key}")).one()


def day_of(result, day: int, name: str) -> compliance.PersonDay:
    return next(r for r in result.person_days if r.day.day == day and r.name == name)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


# --- the fortnight ---------------------------------------------------------------------------

def test_fortnight_across_the_clock_change_gives_exact_rates(session, fortnight):
    result = compute(session, FIRST, LAST, LONDON, AFTER)
    assert len(result.person_days) == 30
    days = {d.starts_on.day: (d.on_duty, d.compliant) for d in result.days()}
    assert days == {19: (3, 3), 20: (3, 3), 21: (3, 3), 22: (3, 2), 23: (3, 3),
                    26: (3, 3), 27: (3, 2), 28: (3, 3), 29: (3, 2), 30: (3, 3)}
    assert [(w.starts_on, w.ends_on, w.on_duty, w.compliant, w.with_exception)
            for w in result.weeks()] == [
        (date(2026, 10, 19), date(2026, 10, 25), 15, 14, 3),
        (date(2026, 10, 26), date(2026, 10, 30), 15, 13, 3)]
    overall = result.overall()
    assert (overall.on_duty, overall.compliant, overall.gaps) == (30, 27, 3)
    assert overall.rate == 0.9
    # An ordinary day, in summer time and in winter time: eight hours, all in a locker.
    for day in (19, 30):
        ordinary = day_of(result, day, "Carol Clark")
        assert ordinary.on_duty == ordinary.by_deposit == timedelta(hours=8)
        assert ordinary.uncovered == timedelta() and ordinary.compliant


def test_the_services_build_the_same_fortnight_here(session, school):
    build_fortnight(session, school)
    result = compute(session, FIRST, LAST, LONDON, AFTER)
    assert [(d.starts_on.day, d.on_duty, d.compliant, d.with_exception) for d in result.days()] \
        == [(d.starts_on.day, d.on_duty, d.compliant, d.with_exception)
            for d in compute_rows(fortnight_rows()).days()]
    assert (result.overall().on_duty, result.overall().compliant) == (30, 27)


def compute_rows(rows) -> compliance.Compliance:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as other:
        load_fortnight(other, rows)
        return compute(other, FIRST, LAST, LONDON, AFTER)


def test_the_grace_is_ten_minutes_in_the_day(session, fortnight):
    result = compute(session, FIRST, LAST, LONDON, AFTER)
    walked = day_of(result, 21, "Alice Adams")
    assert walked.by_exception == timedelta(hours=4)
    assert walked.uncovered == minutes(8) and walked.compliant
    dawdled = day_of(result, 22, "Alice Adams")
    assert dawdled.uncovered == minutes(11) and not dawdled.compliant
    # The grace is a parameter: with fifteen minutes both days pass.
    generous = compute(session, FIRST, LAST, LONDON, AFTER, grace=minutes(15))
    assert day_of(generous, 22, "Alice Adams").compliant
    assert minutes(10) == GRACE


def test_half_by_deposit_and_half_by_exception_is_compliant_in_both_clock_regimes(
        session, fortnight):
    result = compute(session, FIRST, LAST, LONDON, AFTER)
    for day in (20, 27):  # BST, then GMT: the window is local time both weeks
        bob = day_of(result, day, "Bob Brown")
        assert bob.on_duty == timedelta(hours=7, minutes=59)
        assert bob.by_deposit == timedelta(hours=4)
        assert bob.by_exception == timedelta(hours=3, minutes=59)
        assert bob.uncovered == timedelta() and bob.compliant


def test_an_exception_that_expires_mid_duty_without_a_deposit_is_a_gap(session, fortnight):
    assert status_of(session, "carol_29") == "expired"
    carol = day_of(compute(session, FIRST, LAST, LONDON, AFTER), 29, "Carol Clark")
    assert carol.by_exception == timedelta(hours=3)  # 08:00 to 11:00
    assert carol.uncovered == timedelta(hours=4)  # 11:00 to 15:00, phone in hand
    assert carol.by_deposit == minutes(30)
    assert not carol.compliant


def test_a_revoked_exception_covers_only_until_it_was_revoked(session, fortnight):
    assert status_of(session, "alice_27") == "revoked"
    alice = day_of(compute(session, FIRST, LAST, LONDON, AFTER), 27, "Alice Adams")
    assert alice.by_exception == timedelta(hours=5)  # 08:00 to the revocation at 13:00
    assert alice.uncovered == minutes(20) and not alice.compliant


def test_summaries_for_a_day_a_week_and_a_term(session, fortnight):
    [day] = compliance.daily(session, date(2026, 10, 29), date(2026, 10, 29), LONDON, AFTER)
    assert (day.on_duty, day.compliant, day.with_exception) == (3, 2, 1)
    [week] = compliance.weekly(session, date(2026, 10, 26), date(2026, 11, 1), LONDON, AFTER)
    assert (week.on_duty, week.compliant) == (15, 13)
    term = compliance.termly(session, Term("autumn", 2026), LONDON, AFTER)
    assert (term.starts_on, term.ends_on) == (date(2026, 9, 1), date(2026, 12, 31))
    assert (term.on_duty, term.compliant) == (30, 27)
    people = {p.name: (p.on_duty, p.gaps, p.uncovered) for p in
              compute(session, FIRST, LAST, LONDON, AFTER).people()}
    assert people == {"Alice Adams": (10, 2, minutes(39)), "Bob Brown": (10, 0, timedelta()),
                      "Carol Clark": (10, 1, timedelta(hours=4))}


def test_a_range_with_no_duty(session, fortnight):
    result = compute(session, date(2026, 10, 24), date(2026, 10, 25), LONDON, AFTER)
    assert result.days() == [] and result.weeks() == []
    assert result.overall().rate is None and result.overall().on_duty == 0


# --- rules, on rows written directly ---------------------------------------------------------

@pytest.fixture
def dana(session):
    """A person with one phone and a locker bank, nothing else."""
    person = Person(name="Dana Dale", category="agency")
    session.add(person)
    session.flush()
    bank = people.add_bank(session, "Hall", 2, "test")
    phone = Device(owner=person, imei="490154203237518", label_code="PHDANA01")
    session.add(phone)
    session.commit()
    return person, phone, bank.lockers[0]


def duty(session, person, start, end=None):
    session.add(DutyPeriod(person_id=person.id, started_at=start, start_kind="exception",
                           ended_at=end, end_kind="collect" if end else None))


def exception(session, person, window, status, decisions, needed=1):
    request = ExceptionRequest(
        person_id=person.id, category="other", reason="r", starts_on=window.starts_on,
        ends_on=window.ends_on, day_from=window.day_from, day_until=window.day_until,
        weekdays=window.weekdays, status=status, approvals_needed=needed,
        requested_at=at(2, 7, month=11), requested_by="t", requested_via="office",
        decided_at=decisions[-1][1] if decisions else None)
    session.add(request)
    session.flush()
    for action, when in decisions:
        session.add(ExceptionDecision(request_id=request.id, action=action, at=when))
    return request


MONDAY = date(2026, 11, 2)
WHOLE_DAY = Window(MONDAY, MONDAY)


def test_an_exception_covers_nothing_before_its_approval(session, dana):
    person, _, _ = dana
    duty(session, person, at(2, 8, month=11), at(2, 12, month=11))
    exception(session, person, WHOLE_DAY, "approved", [("approve", at(2, 10, month=11))])
    session.commit()
    [row] = compute(session, MONDAY, MONDAY, LONDON, AFTER + timedelta(days=1)).person_days
    assert row.by_exception == timedelta(hours=2) and row.uncovered == timedelta(hours=2)
    assert row.category_label == "Agency staff"


def test_pending_and_declined_requests_cover_nothing(session, dana):
    person, _, _ = dana
    duty(session, person, at(2, 8, month=11), at(2, 9, month=11))
    exception(session, person, WHOLE_DAY, "pending", [])
    exception(session, person, WHOLE_DAY, "declined", [("decline", at(2, 7, month=11))])
    exception(session, person, WHOLE_DAY, "expired", [("expire", at(2, 7, month=11))])  # lapsed
    session.commit()
    [row] = compute(session, MONDAY, MONDAY, LONDON, AFTER + timedelta(days=1)).person_days
    assert row.uncovered == timedelta(hours=1) and not row.compliant


def test_two_approver_exceptions_cover_from_the_second_approval(session, dana):
    person, _, _ = dana
    duty(session, person, at(2, 8, month=11), at(2, 12, month=11))
    exception(session, person, WHOLE_DAY, "approved",
              [("approve", at(2, 7, month=11)), ("approve", at(2, 11, month=11))], needed=2)
    session.commit()
    [row] = compute(session, MONDAY, MONDAY, LONDON, AFTER + timedelta(days=1)).person_days
    assert row.by_exception == timedelta(hours=1) and row.uncovered == timedelta(hours=3)


def test_duty_left_open_counts_to_midnight_of_its_day_only(session, dana):
    person, phone, locker = dana
    duty(session, person, at(2, 15, month=11))  # never closed
    session.add(Deposit(device_id=phone.id, locker_id=locker.id, deposited_at=at(2, 15, month=11),
                        collected_at=at(2, 16, month=11)))
    session.commit()
    later = at(5, 12, month=11)
    result = compute(session, MONDAY, date(2026, 11, 5), LONDON, later)
    [row] = result.person_days
    assert row.day == MONDAY and row.unclosed
    assert row.on_duty == timedelta(hours=9) and row.uncovered == timedelta(hours=8)


def test_today_counts_up_to_now(session, dana):
    person, phone, locker = dana
    duty(session, person, at(2, 8, month=11))
    session.add(Deposit(device_id=phone.id, locker_id=locker.id, deposited_at=at(2, 8, month=11)))
    session.commit()
    [row] = compute(session, MONDAY, MONDAY, LONDON, at(2, 10, 30, month=11)).person_days
    assert row.on_duty == row.by_deposit == timedelta(hours=2, minutes=30)
    assert row.compliant and not row.unclosed


def test_window_spans_agree_with_window_covers_across_both_clock_changes():
    """The interval arithmetic and Window.covers (the kiosk's rule) say the same, minute by
    minute, over the weekends the clocks change."""
    days = compliance._Days(LONDON)
    windows = [
        Window(date(2026, 10, 23), date(2026, 10, 27), time(7, 30), time(17)),
        Window(date(2026, 10, 23), date(2026, 10, 27), None, time(12), "0246"),
        Window(date(2026, 10, 23), date(2026, 10, 27), time(9), None, "56"),
        Window(date(2026, 3, 27), date(2026, 3, 30)),
    ]
    for window in windows:
        spans = compliance._InForce(window, 0.0, compliance.FOREVER)
        for first in (date(2026, 10, 23), date(2026, 3, 27)):
            for offset in range(4):
                day = first + timedelta(days=offset)
                span = spans.on(day, days)
                start, end = days.bounds(day)
                moment = start
                while moment < end:
                    instant = datetime.fromtimestamp(moment, UTC)
                    inside = span is not None and span[0] <= moment < span[1]
                    assert inside == window.covers(instant, LONDON), (window, instant)
                    moment += 15 * 60
    # The day the clocks go back has 25 hours, the day they go forward 23.
    assert days.bounds(date(2026, 10, 25))[1] - days.bounds(date(2026, 10, 25))[0] == 25 * 3600
    assert days.bounds(date(2026, 3, 29))[1] - days.bounds(date(2026, 3, 29))[0] == 23 * 3600


def test_terms_and_school_years():
    assert Term.containing(date(2026, 11, 25)) == Term("autumn", 2026)
    assert Term.containing(date(2027, 1, 1)).name == "Spring term 2027"
    assert Term.containing(date(2027, 3, 31)).season == "spring"
    assert Term.containing(date(2027, 8, 20)).ends_on == date(2027, 8, 31)
    assert Term("spring", 2027).previous() == Term("autumn", 2026)
    assert Term("autumn", 2026).previous() == Term("summer", 2026)
    assert compliance.school_year_containing(date(2027, 2, 3)) == (date(2026, 9, 1),
                                                                   date(2027, 8, 31))


# --- speed -----------------------------------------------------------------------------------

def test_a_term_for_a_hundred_staff_counts_every_person_day(session):
    """An autumn term: 100 people, 78 school days, a duty period and a deposit each day."""
    staff = [Person(name=f"Staff {n:03d}", category="staff") for n in range(100)]
    session.add_all(staff)
    session.flush()
    phones = [Device(owner_id=p.id, imei=f"{n:015d}", label_code=f"PH{n:06d}")
              for n, p in enumerate(staff)]
    bank = people.add_bank(session, "Big", 1, "test")
    session.add_all(phones)
    session.flush()
    locker_id = session.get(Locker, bank.lockers[0].id).id
    school_days = [date(2026, 9, 1) + timedelta(days=n) for n in range(120)]
    school_days = [d for d in school_days if d.weekday() < 5][:78]
    duties, deposits = [], []
    for n, (person, phone) in enumerate(zip(staff, phones, strict=True)):
        for day in school_days:
            start = datetime.combine(day, time(8, n % 30), LONDON)
            end = datetime.combine(day, time(16, n % 20), LONDON)
            duties.append({"person_id": person.id, "started_at": start, "ended_at": end,
                           "start_kind": "deposit", "end_kind": "collect"})
            late = timedelta(minutes=15) if (n + day.toordinal()) % 25 == 0 else timedelta()
            deposits.append({"device_id": phone.id, "locker_id": locker_id,
                             "deposited_at": start + late, "collected_at": end})
    session.execute(insert(DutyPeriod), duties)
    session.execute(insert(Deposit), deposits)
    session.commit()

    # How long this takes is measured in bench/, never asserted in a test.
    result = compute(session, date(2026, 9, 1), date(2026, 12, 31), LONDON,
                     datetime(2027, 1, 4, tzinfo=UTC))
    assert len(result.person_days) == 7800
    assert result.overall().gaps == sum((n + d.toordinal()) % 25 == 0
                                        for n in range(100) for d in school_days)
