"""People with no phone on the register sign in and out at the kiosk with their badge (issue
10), so the fire roll call knows they are on site."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from register import compliance, duty, people
from register.models import DutyPeriod, LockCommand
from tests.conftest import scan_code

LONDON = ZoneInfo("Europe/London")
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
BADGE = "0000000777"


@pytest.fixture
def governor(session, school):
    person = people.add_person(session, people.PersonDetails(
        name="Gwen Hale", category="governor", badge_id=BADGE), "test")
    session.commit()
    return person


def scan(session, school, when, code=BADGE, **options):
    return scan_code(session, school.staff_kiosk.id, code, when, LONDON, **options)


def test_a_badge_with_no_phone_signs_in_then_out(session, school, governor):
    signed_in = scan(session, school, T0)
    assert (signed_in.outcome, str(signed_in), signed_in.person, signed_in.locker) == (
        "signed_in_no_phone", "Signed in, no phone registered", "Gwen", None)
    period = duty.current(session, governor.id)
    assert period is not None and period.start_kind == "no_phone"
    assert session.query(LockCommand).count() == 0  # no locker opens
    again = scan(session, school, T0 + timedelta(seconds=5))
    assert (again.outcome, again.can_confirm) == ("already_signed_in", True)
    out = scan(session, school, T0 + timedelta(hours=2))
    assert (out.outcome, out.off_duty) == ("signed_out_no_phone", True)
    assert duty.current(session, governor.id) is None
    [closed] = session.query(DutyPeriod).all()
    assert (closed.started_at, closed.ended_at, closed.end_kind) == (
        T0, T0 + timedelta(hours=2), "sign_out")


def test_confirm_signs_out_inside_the_guard(session, school, governor):
    scan(session, school, T0)
    assert scan(session, school, T0 + timedelta(seconds=5), confirm=True).outcome == (
        "signed_out_no_phone")
    twice = scan(session, school, T0 + timedelta(seconds=6), confirm=True)
    assert (twice.outcome, twice.reason) == ("refused", "already_done")


def test_a_second_scan_soon_after_signing_out_does_not_sign_back_in(session, school, governor):
    scan(session, school, T0)
    scan(session, school, T0 + timedelta(hours=2))
    again = scan(session, school, T0 + timedelta(hours=2, seconds=2), source="rfid")
    assert (again.outcome, str(again), again.can_confirm, again.person) == (
        "already_signed_out", "Already signed out", True, "Gwen")
    assert duty.current(session, governor.id) is None
    back = scan(session, school, T0 + timedelta(hours=2, seconds=4), confirm=True)
    assert back.outcome == "signed_in_no_phone"
    assert duty.current(session, governor.id) is not None


def test_a_typed_badge_still_only_names_the_person(session, school, governor):
    typed = scan(session, school, T0, entry="typed")
    assert (typed.outcome, typed.reason) == ("refused", "typed_badge")
    assert duty.current(session, governor.id) is None


def test_a_phoneless_day_meets_the_policy_and_shows_on_slt_now(session, school, governor):
    scan(session, school, T0)
    [now] = [d for d in duty.on_duty_now(session, LONDON, T0 + timedelta(hours=1))]
    assert (now.without_phone, now.compliant) == (True, True)
    scan(session, school, T0 + timedelta(hours=2))
    day = compliance.compute(session, T0.date(), T0.date(), LONDON, T0 + timedelta(days=1))
    [row] = day.person_days
    assert (row.on_duty, row.uncovered, row.compliant, row.by_exception) == (
        timedelta(hours=2), timedelta(0), True, timedelta(0))
