"""A scan as the kiosk page and the kiosk agent send it: idempotent, timed, shown, unlocking.

- With an idempotency key, the first answer (status and body) is stored per kiosk and key, in
  the same transaction as the deposit it reports. A repeat gets that answer back and acts no
  more; of two identical requests racing, the unique constraint lets one store its answer and
  rolls the other back, whose retry then finds the first answer.
- ``scanned_at`` is when the person scanned: the agent replays its queue after an outage, and
  the deposit or collection is recorded at that time; an implausible time (a Pi's clock before
  NTP answers) is replaced by ours and noted in the audit trail, never refused.
- A deposit or collection queues "open locker N" for the kiosk, dated at the scan, so a
  replayed scan opens nothing (the command has already expired).
- Scans made on the agent's readers are published to the kiosk page, unless they are old.
- While the page asks who is there ("I need my phone today", ``set_identifying``), the next
  scan on the agent's readers only identifies: no deposit, no collection, no locker opened; the
  answer (outcome ``identified``, with the person and the code) is published for the page, which
  goes on to the request form, and the kiosk stops asking. The page's own scans never identify
  here (the page knows what it is asking and calls ``/kiosk/identify`` itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from register import audit, exception_requests, kiosk_events, locks
from register.db import in_write_transaction
from register.deposits import COLLECTED, DEPOSITED, ScanResult, identify, toggle
from register.errors import ScanRefused
from register.imei import looks_like_imei
from register.models import Device, Kiosk, Person, ScanReceipt, utc_now

PAGE, SCANNER, RFID = "page", "scanner", "rfid"
SOURCES = (PAGE, SCANNER, RFID)
AGENT_SOURCES = (SCANNER, RFID)
MAX_CLOCK_AHEAD = timedelta(minutes=1)  # an agent's clock a little ahead of ours is fine
MAX_SCAN_AGE = timedelta(hours=24)
SHOW_ON_PAGE_FOR = timedelta(seconds=60)  # older replays are recorded, not shown
# At least MAX_SCAN_AGE: a retry accepted as recent enough always finds its first answer.
KEEP_RECEIPTS_FOR = timedelta(days=1)
MAX_KEY_LENGTH = 64
IDENTIFIED = "identified"
IDENTIFY_FOR = timedelta(seconds=60)  # the page asks again while its question stays up


@dataclass(frozen=True)
class ScanRequest:
    code: str
    key: str | None = None
    scanned_at: datetime | None = None
    source: str = PAGE


@dataclass(frozen=True)
class Answer:
    """The HTTP status and JSON body for a scan; ``repeated`` when it is a stored answer."""

    status: int
    body: dict[str, Any]
    repeated: bool = False


def scan(session: Session, kiosk_id: int, request: ScanRequest, zone: tzinfo,
         now: datetime | None = None) -> Answer:
    """Act on one scan at most once per key; ``zone`` is the school's, for the shown time."""
    now = now or utc_now()
    if request.key:
        stored = _stored(session, kiosk_id, request.key)
        session.rollback()
        if stored is not None:
            return stored
    when = _scan_time(request.scanned_at, now)
    if request.scanned_at is not None and when != request.scanned_at:
        sent = request.scanned_at
        in_write_transaction(session, lambda s: _note_corrected_time(s, kiosk_id, sent, now))
    asking = request.source in AGENT_SOURCES and _identifying(session, kiosk_id, when, now)
    session.rollback()  # a read only: the write transaction below looks again, under lock
    if asking:
        identified = in_write_transaction(
            session, lambda s: _identify_only(s, kiosk_id, request, when, now, zone))
        if identified is not None:
            return identified
    found: int | ScanResult | ScanRefused
    try:
        found = identify(session, request.code, when)  # refusals and questions only read
    except ScanRefused as refused:
        found = refused
    finally:
        session.rollback()
    if isinstance(found, int):
        device_id = found
        try:
            return in_write_transaction(
                session, lambda s: _act(s, kiosk_id, device_id, request, when, now, zone))
        except ScanRefused as refused:
            found = refused  # no free locker, phone at another bank: nothing was written
    answer = _answer(found, zone)
    if request.key or _shown_on_page(request, found, now):
        return in_write_transaction(
            session, lambda s: _stored_or_remember(s, kiosk_id, request, answer, found, now))
    return answer


def set_identifying(session: Session, kiosk_id: int, on: bool,
                    now: datetime | None = None) -> datetime | None:
    """The kiosk page starts (or stops) asking who is there; in the caller's write transaction.
    Returns until when the next agent scan only identifies (None: it acts as usual)."""
    until = (now or utc_now()) + IDENTIFY_FOR if on else None
    session.execute(update(Kiosk).where(Kiosk.id == kiosk_id).values(identify_until=until))
    return until


def _identifying(session: Session, kiosk_id: int, when: datetime, now: datetime) -> bool:
    """Whether the page is asking who is there, and this scan came after it started to."""
    until = session.scalar(select(Kiosk.identify_until).where(Kiosk.id == kiosk_id))
    return until is not None and now < until and when >= until - IDENTIFY_FOR


def _identify_only(session: Session, kiosk_id: int, request: ScanRequest, when: datetime,
                   now: datetime, zone: tzinfo) -> Answer | None:
    """Answer the page's question with this agent scan, once: None if the page has stopped
    asking (or another scan answered it first), and the scan then acts as usual."""
    if request.key:
        stored = _stored(session, kiosk_id, request.key)
        if stored is not None:
            return stored
    kiosk_events.lock_kiosk(session, kiosk_id)  # two badges at once: one answers the question
    if not _identifying(session, kiosk_id, when, now):
        return None
    session.execute(update(Kiosk).where(Kiosk.id == kiosk_id).values(identify_until=None))
    try:
        person = exception_requests.person_for_code(session, request.code)
    except ScanRefused as refused:  # the page shows why, and stops asking
        return _remember(session, kiosk_id, request, _answer(refused, zone), refused, now)
    answer = Answer(200, {
        "outcome": IDENTIFIED, "code": _shareable_code(request.code, person),
        "person": person.name,
        "first_name": person.first_name, "locker": None,
        "message": f"{person.first_name}, tell us why you need your phone today.",
    })
    return _remember(session, kiosk_id, request, answer, person, now)


def _shareable_code(code: str, person: Person) -> str:
    """A code that names the same person for the page, never an IMEI: answers and events are
    kept for a day, and an IMEI is the one thing the register keeps out of such records."""
    if not looks_like_imei(code):
        return code
    return person.badge_id or next((d.label_code for d in person.devices), "")


def _act(session: Session, kiosk_id: int, device_id: int, request: ScanRequest, when: datetime,
         now: datetime, zone: tzinfo) -> Answer:
    """Deposit or collect, queue the locker's opening, publish, and store the answer: one
    transaction, so a stored answer always matches what was done."""
    if request.key:
        stored = _stored(session, kiosk_id, request.key)
        if stored is not None:  # an identical request got here first (or this is a retry)
            return stored
    kiosk = session.get_one(Kiosk, kiosk_id)
    result = toggle(session, kiosk, session.get_one(Device, device_id), when, zone)
    if result.locker is not None and result.outcome in (DEPOSITED, COLLECTED):
        purpose = locks.DEPOSIT if result.outcome == DEPOSITED else locks.COLLECT
        locks.queue_open(session, kiosk_id, result.locker, purpose, min(when, now))
    return _remember(session, kiosk_id, request, _answer(result, zone), result, now)


def _stored_or_remember(session: Session, kiosk_id: int, request: ScanRequest, answer: Answer,
                        found: ScanResult | ScanRefused, now: datetime) -> Answer:
    """For an answer that changed nothing: a stored one wins, as nothing need be undone."""
    stored = _stored(session, kiosk_id, request.key) if request.key else None
    return stored or _remember(session, kiosk_id, request, answer, found, now)


def _remember(session: Session, kiosk_id: int, request: ScanRequest, answer: Answer,
              found: object, now: datetime) -> Answer:
    """Store the answer under its key and publish it. No check for a stored answer here: after
    acting, only the unique constraint may decide (PostgreSQL: an identical request can commit
    while this one waited for the phone's row lock; the insert then fails and the whole
    transaction, deposit included, rolls back and is retried, finding that answer)."""
    if request.key:
        session.execute(delete(ScanReceipt).where(ScanReceipt.created_at < now - KEEP_RECEIPTS_FOR))
        session.add(ScanReceipt(kiosk_id=kiosk_id, key=request.key, status=answer.status,
                                body=answer.body, created_at=now))
        session.flush()  # the unique constraint speaks here: a lost race rolls back and retries
    if _shown_on_page(request, found, now):
        kiosk_events.publish(session, kiosk_id, kiosk_events.SCAN,
                             {**answer.body, "source": request.source}, now)
    return answer


def _stored(session: Session, kiosk_id: int, key: str) -> Answer | None:
    receipt = session.scalar(
        select(ScanReceipt).where(ScanReceipt.kiosk_id == kiosk_id, ScanReceipt.key == key))
    if receipt is None:
        return None
    return Answer(receipt.status, dict(receipt.body), repeated=True)


def _shown_on_page(request: ScanRequest, found: object, now: datetime) -> bool:
    if request.source not in AGENT_SOURCES:
        return False
    when = request.scanned_at or now
    return now - when <= SHOW_ON_PAGE_FOR


def _scan_time(scanned_at: datetime | None, now: datetime) -> datetime:
    """When the scan happened: the sender's time if it is plausible, else ours.

    A Pi has no battery clock: until NTP answers it may be days out. A scan is never dropped
    for that (the person did scan); it is recorded now, and the audit trail says so.
    """
    if scanned_at is None:
        return now
    if scanned_at.tzinfo is None:
        raise ValueError("scanned_at must carry a time zone")
    if now - MAX_SCAN_AGE <= scanned_at <= now + MAX_CLOCK_AHEAD:
        return scanned_at
    return now


def _note_corrected_time(session: Session, kiosk_id: int, sent: datetime, now: datetime) -> None:
    audit.record(session, f"kiosk:{kiosk_id}", "scan.time_corrected", f"kiosk:{kiosk_id}",
                 f"sent as {sent.isoformat()}; recorded at {now.isoformat()}", at=now)


def _answer(found: ScanResult | ScanRefused, zone: tzinfo) -> Answer:
    if isinstance(found, ScanRefused):
        return Answer(found.status, {
            "outcome": "refused", "reason": found.reason, "message": str(found),
            "locker": None, "person": None,
        })
    return Answer(200, {
        "outcome": found.outcome,
        "message": found.message,
        "locker": found.locker,
        "bank": found.bank,
        "person": found.person,
        "at": found.at.isoformat(),
        "time": found.at.astimezone(zone).strftime("%H:%M"),
        "choices": [
            {"code": c.code, "description": c.description, "locker": c.locker}
            for c in found.choices
        ],
        "exception": None if found.exception is None else {
            "approved_by": found.exception.approved_by, "until": found.exception.until,
            "conditions": found.exception.conditions,
        },
        "off_duty": found.off_duty,
    })
