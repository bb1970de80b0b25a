"""Leaving is a choice when it is ambiguous (issue 10): on duty with the phone after the
exception ended, a scan acts on nothing until the person says going home or lock it away."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from register import duty, exception_requests
from register.exception_requests import Window
from register.models import Deposit, User
from tests.conftest import scan_code

LONDON = ZoneInfo("Europe/London")
DAY = datetime(2026, 11, 25, tzinfo=UTC)  # a Wednesday; GMT, so UTC is local


def at(hour: int, minute: int = 0) -> datetime:
    return DAY.replace(hour=hour, minute=minute)


@pytest.fixture
def on_duty_until_1530(session, school):
    """Alice, on duty with her phone since 08:00 under an exception until 15:30."""
    head = User(username="head", password_hash="x", role="slt")
    session.add(head)
    request = exception_requests.request_exception(
        session, school.alice, "emergency", "Son ill",
        Window(DAY.date(), DAY.date(), None, time(15, 30)), "office", "office", LONDON, at(7))
    exception_requests.approve(session, request, head, "", at(7, 30))
    session.commit()
    assert scan(session, school, at(8)).outcome == "on_duty"


def scan(session, school, when, **options):
    return scan_code(session, school.staff_kiosk.id, school.alice.badge_id, when, LONDON,
                     **options)


def deposits(session) -> int:
    session.commit()
    return session.scalar(select(func.count()).select_from(Deposit))


def test_a_scan_after_the_exception_ended_asks_and_does_nothing(session, school,
                                                                  on_duty_until_1530):
    asked = scan(session, school, at(15, 45))
    assert (asked.outcome, asked.choices, asked.locker) == (
        "leave_choice", ["going_home", "lock_away"], None)
    assert asked.person == "Alice" and "Adams" not in str(asked.body)
    assert deposits(session) == 0
    assert duty.current(session, school.alice.id) is not None


def test_going_home_signs_out(session, school, on_duty_until_1530):
    gone = scan(session, school, at(15, 45), choice="going_home")
    assert (gone.outcome, gone.off_duty, gone.locker) == ("off_duty", True, None)
    assert duty.current(session, school.alice.id) is None
    assert deposits(session) == 0
    # Touched twice: already signed out, and nothing is deposited.
    twice = scan(session, school, at(15, 45), choice="going_home")
    assert (twice.outcome, twice.reason) == ("refused", "already_done")
    assert deposits(session) == 0


def test_lock_away_deposits_and_stays_on_duty(session, school, on_duty_until_1530):
    locked = scan(session, school, at(15, 45), choice="lock_away")
    assert (locked.outcome, locked.locker) == ("deposited", 1)
    assert duty.current(session, school.alice.id) is not None
    again = scan(session, school, at(15, 45), choice="lock_away")
    assert again.outcome == "already_deposited"
    assert deposits(session) == 1


def test_while_the_exception_lasts_the_scan_signs_out_as_before(session, school,
                                                                 on_duty_until_1530):
    assert scan(session, school, at(12)).outcome == "off_duty"


def test_someone_with_a_phone_in_a_locker_is_not_asked(session, school):
    """Bob has two phones; one is in a locker, so his second is simply deposited."""
    scan_code(session, school.staff_kiosk.id, school.bob_phone.label_code, at(8), LONDON)
    second = scan_code(session, school.staff_kiosk.id, school.bob_work_phone.label_code, at(9),
                       LONDON)
    assert second.outcome == "deposited"


def test_a_choice_through_the_api_is_checked(client, web_school):
    bearer = {"Authorization": f"Bearer {web_school.staff_kiosk_token}"}
    for bad in ({"choice": "stay"}, {"confirm": "yes"}):
        response = client.post("/api/v1/scan", json={"code": web_school.alice.badge_id, **bad},
                               headers=bearer)
        assert (response.status_code, response.json["reason"]) == (400, "bad_request")
