"""A person with every kind of record the register keeps, for the subject access and erasure
tests: Bob Brown of the test school (two phones, one retired), a deposit collected with its
door closed, duty periods, an approved request and a declined one, a policy acknowledgement,
audit entries about him, and a linked office account with a session and entries by it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from register import audit, exception_requests, people, sessions
from register.models import (
    Deposit,
    DepositDoor,
    PolicyAcknowledgement,
    PolicyVersion,
    User,
)
from tests.conftest import FAST_HASH, School, scan_code, set_rescan_guard

BOB_ACCOUNT = "b.user"  # not his name: the username stays after an erasure
REQUEST_REASON = "Caring for a parent after an operation"
DECLINED_NOTE = "Not needed on a training day"


@dataclass(frozen=True)
class Everything:
    now: datetime
    person_id: int
    account_id: int
    slt_id: int
    request_ids: list[int]


def give_bob_everything(session: Session, school: School) -> Everything:
    """Every kind of record about Bob, committed. Scans go through the real use case."""
    now = datetime.now(UTC).replace(microsecond=0)
    set_rescan_guard(session, 0)
    bob = school.bob
    people.verify_device(session, school.bob_phone, "office", now - timedelta(days=3))
    people.retire_device(session, school.bob_work_phone, "office", "replaced by a new phone",
                         now - timedelta(days=2))
    slt = User(username="deputy", password_hash=FAST_HASH, role="slt")
    account = User(username=BOB_ACCOUNT, password_hash=FAST_HASH, role="office",
                   person_id=bob.id, email="b.user@example.org")
    session.add_all([slt, account])
    session.commit()

    # From a reader (as the kiosk agent sends them): a stored answer and a page event each.
    scan_code(session, school.staff_kiosk.id, school.bob_phone.label_code,
              now=now - timedelta(hours=3), key="deposit-1", source="scanner")
    deposit = session.scalars(select(Deposit)).one()
    session.add(DepositDoor(deposit_id=deposit.id,
                            door_closed_at=now - timedelta(hours=3) + timedelta(seconds=20)))
    session.commit()
    scan_code(session, school.staff_kiosk.id, school.bob_phone.label_code,
              now=now - timedelta(hours=1), key="collect-1", source="scanner")

    window = exception_requests.Window(date.today(), date.today() + timedelta(days=7))
    agreed = exception_requests.request_exception(
        session, bob, "caring", REQUEST_REASON, window, "office", "office", UTC, now=now)
    exception_requests.approve(session, agreed, slt, "Kept on silent", now=now)
    declined = exception_requests.request_exception(
        session, bob, "other", "Training day", window, "office", "office", UTC, now=now)
    exception_requests.decline(session, declined, slt, DECLINED_NOTE, now=now)

    policy = PolicyVersion(title="Mobile phone policy", version="2026-1",
                           adopted_on=date(2026, 9, 1), summary="Phones in lockers.",
                           text="The whole policy.", published_by="admin")
    session.add(policy)
    session.flush()
    session.add(PolicyAcknowledgement(person_id=bob.id, policy_version_id=policy.id, at=now,
                                      via="kiosk", kiosk_id=school.staff_kiosk.id,
                                      recorded_by=f"kiosk:{school.staff_kiosk.id}"))
    audit.record(session, "office", "person.view", f"person:{bob.id}")
    sessions.start(session, account, "10.0.0.9", now - timedelta(minutes=30))
    audit.record(session, BOB_ACCOUNT, "register.search", detail="3 people listed")
    session.commit()
    return Everything(now, bob.id, account.id, slt.id, [agreed.id, declined.id])
