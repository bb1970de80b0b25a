"""SLT exceptions at the service layer: the request's life, who may decide, and the kiosk."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from register import duty, exception_requests, settings
from register.errors import ValidationError
from register.exception_requests import DecisionRefused, Window
from register.models import AuditEvent, ExceptionDecision, User
from tests.conftest import scan_code

LONDON = ZoneInfo("Europe/London")
# Tuesday 24 November 2026, 07:50 in London (GMT: the same as UTC).
T0 = datetime(2026, 11, 24, 7, 50, tzinfo=UTC)
TODAY = date(2026, 11, 24)


@pytest.fixture
def slt(session, school):
    """Two senior leaders: Carol (a stakeholder too) and the head, plus an office user."""
    carol = User(username="carol", password_hash="x", role="slt", person_id=school.carol.id)
    head = User(username="head", password_hash="x", role="slt")
    office = User(username="office", password_hash="x", role="office")
    session.add_all([carol, head, office])
    session.commit()
    return carol, head, office


def ask(session, person, window=None, category="emergency", now=T0):
    window = window or Window(TODAY, TODAY, None, time(15, 30))
    request = exception_requests.request_exception(
        session, person, category, "Child in hospital", window, "kiosk:Staff kiosk", "kiosk",
        LONDON, now)
    session.commit()
    return request


def scan(session, school, code, now):
    return scan_code(session, school.staff_kiosk.id, code, now, LONDON)


def test_a_request_is_pending_until_decided_and_recorded(session, school):
    request = ask(session, school.alice)
    assert request.status == "pending"
    note = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "exception.request")).one()
    assert note.actor == "kiosk:Staff kiosk"
    assert "Family or medical emergency" in note.detail and "until 15:30" in note.detail


def test_approve_with_conditions(session, school, slt):
    _, head, _ = slt
    request = ask(session, school.alice)
    exception_requests.approve(session, request, head, "Silent; staff room only", T0)
    session.commit()
    assert request.status == "approved"
    assert request.conditions == "Silent; staff room only"
    assert exception_requests.approved_by(request) == ["head"]


def test_decline_needs_a_reason(session, school, slt):
    _, head, _ = slt
    request = ask(session, school.alice)
    with pytest.raises(DecisionRefused, match="Give a reason for declining"):
        exception_requests.decline(session, request, head, "  ", T0)
    exception_requests.decline(session, request, head, "Cover can be arranged", T0)
    assert request.status == "declined"
    with pytest.raises(DecisionRefused, match="already declined"):
        exception_requests.approve(session, request, head, "", T0)


def test_nobody_decides_their_own_request(session, school, slt):
    carol, head, _ = slt
    request = ask(session, school.carol)
    with pytest.raises(DecisionRefused, match="Nobody decides their own request"):
        exception_requests.approve(session, request, carol, "", T0)
    exception_requests.approve(session, request, head, "", T0)
    assert request.status == "approved"


def test_office_cannot_decide(session, school, slt):
    _, _, office = slt
    with pytest.raises(DecisionRefused, match="Only senior leaders"):
        exception_requests.approve(session, ask(session, school.alice), office, "", T0)


def test_chosen_categories_need_two_different_approvers(session, school, slt):
    carol, head, _ = slt
    settings.put(session, settings.SECOND_APPROVER_CATEGORIES, "caring,on_call", "admin")
    request = ask(session, school.alice, category="caring")
    assert request.approvals_needed == 2
    exception_requests.approve(session, request, head, "", T0)
    assert request.status == "pending"
    with pytest.raises(DecisionRefused, match="already approved"):
        exception_requests.approve(session, request, head, "", T0)
    exception_requests.approve(session, request, carol, "", T0)
    assert request.status == "approved"
    assert exception_requests.approved_by(request) == ["head", "Carol Clark"]
    assert ask(session, school.bob, category="emergency").approvals_needed == 1


def test_revoke_early_with_a_reason(session, school, slt):
    _, head, _ = slt
    request = ask(session, school.alice)
    exception_requests.approve(session, request, head, "", T0)
    exception_requests.revoke(session, request, head, "Situation resolved", T0 + timedelta(hours=1))
    assert request.status == "revoked"
    assert exception_requests.active_for(session, school.alice.id, LONDON,
                                         T0 + timedelta(hours=2)) is None


def test_expiry_of_approved_and_undecided_requests_is_recorded(session, school, slt):
    _, head, _ = slt
    approved = ask(session, school.alice)
    exception_requests.approve(session, approved, head, "", T0)
    undecided = ask(session, school.bob)
    assert exception_requests.expire_due(session, LONDON, T0 + timedelta(hours=7)) == []
    expired = exception_requests.expire_due(session, LONDON, datetime(2026, 11, 24, 15, 30,
                                                                      tzinfo=UTC))
    assert {r.id for r in expired} == {approved.id, undecided.id}
    assert approved.status == undecided.status == "expired"
    actions = session.scalars(select(ExceptionDecision.action)).all()
    assert actions.count("expire") == 2
    assert session.scalars(select(AuditEvent).where(
        AuditEvent.action == "exception.expire")).all()


@pytest.mark.parametrize(("window", "message"), [
    (Window(TODAY, TODAY - timedelta(days=1)), "last day is before the first"),
    (Window(TODAY - timedelta(days=3), TODAY - timedelta(days=1)), "already ended"),
    (Window(TODAY, TODAY, time(12), time(9)), "end time is before the start"),
    (Window(TODAY, TODAY + timedelta(days=300)), "at most one term"),
    (Window(TODAY, TODAY, weekdays=""), "at least one day"),
])
def test_impossible_windows_are_refused(session, school, window, message):
    with pytest.raises(ValidationError, match=message):
        ask(session, school.alice, window)


def test_recurring_window_every_tuesday_this_term(session, school):
    window = Window(date(2026, 9, 1), date(2026, 12, 18), time(7, 30), time(17, 0), "1")
    assert window.describe() == "Tuesdays, Tue 1 Sep to Fri 18 Dec, 07:30 to 17:00"
    tuesday = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert window.covers(tuesday, LONDON)
    assert not window.covers(tuesday + timedelta(days=1), LONDON)  # Wednesday
    assert not window.covers(datetime(2026, 11, 24, 17, 0, tzinfo=UTC), LONDON)  # 17:00
    assert window.last_moment(LONDON) == datetime(2026, 12, 15, 17, 0, tzinfo=LONDON)


def test_window_across_the_october_clock_change(session, school):
    # On call 08:00-18:00 local from Sat 24 to Mon 26 October 2026; clocks go back on the 25th.
    window = Window(date(2026, 10, 24), date(2026, 10, 26), time(8), time(18))
    assert window.covers(datetime(2026, 10, 24, 7, 0, tzinfo=UTC), LONDON)  # 08:00 BST
    assert not window.covers(datetime(2026, 10, 24, 6, 59, tzinfo=UTC), LONDON)
    assert window.covers(datetime(2026, 10, 26, 8, 0, tzinfo=UTC), LONDON)  # 08:00 GMT
    assert not window.covers(datetime(2026, 10, 26, 7, 59, tzinfo=UTC), LONDON)
    assert window.last_moment(LONDON) == datetime(2026, 10, 26, 18, 0, tzinfo=UTC)


def test_kiosk_honours_an_active_exception(session, school, slt):
    _, head, _ = slt
    request = ask(session, school.alice)
    exception_requests.approve(session, request, head, "Silent", T0)
    session.commit()
    result = scan(session, school, school.alice.badge_id, T0 + timedelta(minutes=5))
    assert result.outcome == "on_duty"
    assert result.locker is None
    assert result.exception.approved_by == "head"
    assert result.exception.until == "15:30"
    assert result.exception.conditions == "Silent"
    assert "on duty with your phone until 15:30, as agreed by head" in result.message
    assert duty.current(session, school.alice.id).start_kind == "exception"
    leaving = scan(session, school, school.alice.badge_id, T0 + timedelta(hours=6))
    assert leaving.outcome == "off_duty" and leaving.off_duty
    assert duty.current(session, school.alice.id) is None


def test_a_pending_request_changes_nothing_at_the_kiosk(session, school):
    ask(session, school.alice)
    assert scan(session, school, school.alice.badge_id, T0).outcome == "deposited"


def test_collecting_without_an_exception_goes_off_duty(session, school):
    scan(session, school, school.alice.badge_id, T0)
    assert duty.current(session, school.alice.id).start_kind == "deposit"
    result = scan(session, school, school.alice.badge_id, T0 + timedelta(hours=3))
    assert result.outcome == "collected" and result.off_duty
    assert result.message.endswith("You are now off duty.")
    assert duty.current(session, school.alice.id) is None


def test_collecting_under_an_exception_stays_on_duty(session, school, slt):
    _, head, _ = slt
    scan(session, school, school.alice.badge_id, T0)  # deposited at 07:50
    request = ask(session, school.alice, now=T0 + timedelta(hours=2))
    exception_requests.approve(session, request, head, "", T0 + timedelta(hours=2))
    session.commit()
    result = scan(session, school, school.alice.badge_id, T0 + timedelta(hours=2, minutes=5))
    assert result.outcome == "collected" and not result.off_duty
    assert "You may keep it until 15:30" in result.message
    assert duty.current(session, school.alice.id) is not None


def test_expiry_while_on_duty_shows_as_due_to_deposit(session, school, slt):
    _, head, _ = slt
    request = ask(session, school.alice)
    exception_requests.approve(session, request, head, "", T0)
    session.commit()
    scan(session, school, school.alice.badge_id, T0 + timedelta(minutes=5))
    scan(session, school, school.bob_phone.label_code, T0)  # Bob locks his phone away
    during = {d.person.name: d for d in duty.on_duty_now(session, LONDON, T0 + timedelta(hours=1))}
    assert during["Alice Adams"].compliant and during["Alice Adams"].exception is not None
    assert during["Bob Brown"].lockers == [1]
    after = duty.on_duty_now(session, LONDON, datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    alice = next(d for d in after if d.person.name == "Alice Adams")
    assert not alice.compliant and alice.due_to_deposit
    # Locking the phone away (the kiosk asks: going home, or locking it away?) closes the gap.
    assert scan_code(session, school.staff_kiosk.id, school.alice.badge_id,
                     datetime(2026, 11, 24, 16, 5, tzinfo=UTC), LONDON,
                     choice="lock_away").outcome == "deposited"
    later = duty.on_duty_now(session, LONDON, datetime(2026, 11, 24, 16, 10, tzinfo=UTC))
    assert next(d for d in later if d.person.name == "Alice Adams").compliant
