"""The audit trail's two narrow doors: the retention purge removes the oldest entries and
leaves an anchor the first kept entry chains to; an erasure blanks reasons about a person and
the chain still holds. Both on SQLite and PostgreSQL (whose trigger opens only these doors)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from register import audit, exception_requests, forget
from register.models import (
    AuditEvent,
    Deposit,
    Device,
    DutyPeriod,
    ExceptionRequest,
    Person,
)
from tests.conftest import scan_code

NOW = datetime.now(UTC).replace(microsecond=0)
LONG_AGO = NOW - timedelta(days=3 * 365)


def _entries(session) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_a_purge_removes_the_oldest_entries_and_the_trail_still_verifies(session):
    for number in range(5):
        audit.record(session, "office", "person.view", f"person:{number}",
                     at=LONG_AGO + timedelta(minutes=number))
    audit.record(session, "office", "person.view", "person:99", at=NOW - timedelta(days=1))
    session.commit()
    assert audit.purgeable(session, NOW - timedelta(days=730)) == (5, 5)

    purged = audit.purge_before(session, NOW - timedelta(days=730), "purge", NOW, "2 years")
    session.commit()

    assert purged.removed == 5
    kept = _entries(session)
    assert [(e.subject, e.action) for e in kept] == [("person:99", "person.view"),
                                                     ("audit", "audit.purge")]
    assert "5 entries older than 2 years removed, to #5" in kept[1].detail
    result = audit.verify(session)
    assert result.intact and result.count == 2 and result.purged_through == 5
    # A second purge finds nothing more, and says nothing.
    assert audit.purge_before(session, NOW - timedelta(days=730), "purge", NOW,
                              "2 years").removed == 0
    audit.record(session, "office", "person.view", "person:100", at=NOW)
    session.commit()
    assert audit.verify(session).intact


def test_an_old_entry_after_a_newer_one_waits_for_it(session):
    audit.record(session, "office", "a", at=LONG_AGO)
    audit.record(session, "office", "b", at=NOW)
    audit.record(session, "office", "c", at=LONG_AGO)  # backdated: the chain runs by id
    session.commit()
    assert audit.purgeable(session, NOW - timedelta(days=730)) == (1, 1)


def test_deleting_the_first_kept_entry_after_a_purge_is_still_caught(session):
    for number in range(3):
        audit.record(session, "office", "person.view", f"person:{number}", at=LONG_AGO)
    for number in range(3):
        audit.record(session, "office", "person.view", f"person:{number}", at=NOW)
    session.commit()
    audit.purge_before(session, NOW - timedelta(days=730), "purge", NOW, "2 years")
    session.commit()
    first_kept = _entries(session)[0].id
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL session_replication_role = replica"))
    session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": first_kept})
    session.commit()
    broken = audit.verify(session).broken
    assert broken is not None and "does not chain to #3" in broken.problem


def test_postgresql_refuses_a_purge_of_recent_entries_even_with_the_door_open(session):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("the trigger is PostgreSQL's")
    audit.record(session, "office", "person.view", "person:1", at=NOW - timedelta(days=200))
    session.commit()
    session.execute(text("SET LOCAL register.audit_purge = 'on'"))
    with pytest.raises(DBAPIError, match="cannot be changed or deleted"):
        session.execute(text("DELETE FROM audit_events"))
    session.rollback()
    session.execute(text("SET LOCAL register.audit_redact = 'on'"))
    with pytest.raises(DBAPIError, match="cannot be changed or deleted"):
        session.execute(text("UPDATE audit_events SET detail = ''"))  # not listed as redacted
    session.rollback()


def test_forgetting_a_person_removes_their_records_and_blanks_reasons_about_them(
        session, school):
    now = datetime.now(UTC)
    scan_code(session, school.staff_kiosk.id, school.bob_phone.label_code, now=now)
    request = exception_requests.request_exception(
        session, school.bob, "caring", "Bob's insulin pump app", exception_requests.Window(
            date.today(), date.today()), "office", "office", UTC, now=now)
    request_id = request.id
    session.commit()
    bob_id = school.bob.id

    erase = audit.record(session, "admin", "person.erase", f"person:{bob_id}", "asked by Bob")
    found = forget.forget(session, school.bob, redact_with=erase)
    session.commit()

    assert found.counts()["phones"] == 2 and found.counts()["exception requests"] == 1
    assert session.get(Person, bob_id) is None
    assert session.scalars(select(Device).where(Device.owner_id == bob_id)).all() == []
    assert session.scalars(select(DutyPeriod).where(DutyPeriod.person_id == bob_id)).all() == []
    assert session.get(ExceptionRequest, request_id) is None
    assert session.scalars(select(Deposit)).all() == []
    details = [e.detail for e in _entries(session)]
    assert not any("insulin" in detail for detail in details)
    entry = session.scalars(select(AuditEvent).where(
        AuditEvent.subject == f"exception:{request_id}")).one()
    assert entry.detail == audit.REDACTED and entry.action == "exception.request"
    result = audit.verify(session)
    assert result.intact and result.redacted >= 1
    assert session.get(Person, school.alice.id) is not None  # nobody else
