"""A scan as the kiosk page and the kiosk agent send it: one unit of work that resolves the
code, decides, writes and answers.

- With an idempotency key the scan first claims its key (``INSERT ... ON CONFLICT DO NOTHING``):
  of two identical requests racing, one claims it and acts; the other waits for it to commit,
  finds the key taken and returns the stored answer. A repeat acts no more. Callers may look
  for a stored answer first in a read-only unit of work (``stored_answer``), so a replay never
  queues for the write lock.
- ``scanned_at`` is when the person scanned: the agent replays its queue after an outage, and
  the deposit or collection is recorded at that time; an implausible time (a Pi's clock before
  NTP answers) is replaced by ours and noted in the audit trail, never refused. A time before
  the phone's last deposit or collection (a replay after the phone was used at the page) is
  moved to just after it, and noted too: a collection never comes before its deposit, and two
  deposits of one phone never overlap.
- A deposit or collection queues "open locker N" for the kiosk, dated at the scan, so a
  replayed scan opens nothing (the command has already expired).
- Scans made on the agent's readers are published to the kiosk page, unless they are old.
- While the page asks who is there ("I need my phone today", ``set_asking``), the next scan on
  the agent's readers only names the person: no deposit, no collection, no locker opened; the
  answer (outcome ``identified``) is published for the page, which goes on to the request
  form, and the kiosk stops asking. The page's own scans never do this (the page knows what it
  is asking and calls ``/kiosk/identify`` itself).
- A second scan inside the guard, leaving after an exception ended and people with no phone
  are register.deposits' (its docstring): the request's ``confirm`` and ``choice`` carry what
  the person touched on the screen.
- Decisions reach the requester: the answer to a scan that names someone carries ``notice``,
  once, when SLT have decided a request of theirs since the kiosk last told them
  (register.exception_requests.tell_requester; first names only, never the reason).
- The policy, acknowledged: the answer to a scan that acted for someone who has not
  acknowledged the current version of the phone policy also carries ``policy`` (its summary and
  a short-lived token for **I have read it**; register.policy). The scan does what it always
  does: the question never holds it up. The current version's id is read with the kiosk, so
  this costs one indexed statement, and none before a version is published.
- Presence: a badge number acts only when a reader read it (the agent's readers, or a
  keyboard-mode scanner typing into the page: ``entry`` ``scanner``). Typed by hand or on the
  keypad it only names the person (``typed_badge``, first name only); a phone's label or IMEI
  typed still acts, since it is read off the phone in hand.

Refusals are raised before anything is written, and answered like any other outcome: stored
under the key and published, with a ``reason`` the web layer maps to an HTTP status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session, joinedload

from register import (
    audit,
    codes,
    deposits,
    exception_requests,
    kiosk_events,
    lock_commands,
    policy,
)
from register import settings as school_settings
from register.db import execute, insert_unless_present
from register.deposits import (
    CHOOSE,
    COLLECTED,
    DEPOSITED,
    LEAVE_CHOICE,
    LEAVE_CHOICES,
    Intent,
    ScanResult,
    for_person,
    toggle,
)
from register.errors import REFUSED, ScanRefused, refusal
from register.imei import looks_like_imei
from register.models import Deposit, Device, Kiosk, Person, ScanReceipt, utc_now

PAGE, SCANNER, RFID = "page", "scanner", "rfid"
SOURCES = (PAGE, SCANNER, RFID)
AGENT_SOURCES = (SCANNER, RFID)
# How a code reached the kiosk page (``entry``): a keyboard-mode scanner or badge reader
# typing into it, a person typing on a keyboard, or the on-screen keypad. The page tells them
# apart by the time between keys.
TYPED, KEYPAD = "typed", "keypad"
ENTRIES = (SCANNER, TYPED, KEYPAD)
TYPED_BADGE = "typed_badge"
MAX_CLOCK_AHEAD = timedelta(minutes=1)  # an agent's clock a little ahead of ours is fine
MAX_SCAN_AGE = timedelta(hours=24)
SHOW_ON_PAGE_FOR = timedelta(seconds=60)  # older replays are recorded, not shown
# At least MAX_SCAN_AGE: a retry accepted as recent enough always finds its first answer.
KEEP_RECEIPTS_FOR = timedelta(days=1)
MAX_KEY_LENGTH = 64
IDENTIFIED = "identified"
ASK_FOR = timedelta(seconds=60)  # the page asks again while its question stays up
AFTER_LAST_EVENT = timedelta(seconds=1)  # a clamped scan time, after the phone's last event


@dataclass(frozen=True)
class ScanRequest:
    """``entry`` is how the code reached the page: the web layer says ``typed`` when the page
    does not say, and a scan from the agent's readers (``source``) is always a reader's."""

    code: str
    key: str | None = None
    scanned_at: datetime | None = None
    source: str = PAGE
    entry: str = SCANNER
    confirm: bool = False  # "Take it out again": past the guard, on purpose
    choice: str | None = None  # "going_home" or "lock_away", after a leave_choice answer

    @property
    def read_by_a_reader(self) -> bool:
        """Read off the badge or phone by a device, not typed by a person."""
        return self.source in AGENT_SOURCES or self.entry == SCANNER


@dataclass(frozen=True)
class ScanAnswer:
    """What a scan did, as the kiosk shows it; ``repeated`` when it is a stored answer."""

    body: dict[str, Any]
    repeated: bool = False

    @property
    def outcome(self) -> str:
        return str(self.body["outcome"])

    @property
    def reason(self) -> str | None:
        """Why nothing was done (a refusal), else None."""
        return self.body.get("reason") if self.outcome == REFUSED else None


# The scan path's statements are built once (each costs about 0.1 ms of Python to build).
_STORED = select(ScanReceipt.body).where(ScanReceipt.kiosk_id == bindparam("kiosk_id"),
                                         ScanReceipt.key == bindparam("key"))
_FORGET_RECEIPTS = delete(ScanReceipt).where(ScanReceipt.created_at < bindparam("before"))
_ANSWER = update(ScanReceipt).where(ScanReceipt.id == bindparam("receipt_id")).values(
    body=bindparam("body"))
# The kiosk, and the current policy version's id (None before one is published) with it.
_KIOSK = (select(Kiosk, policy.CURRENT_VERSION_ID).where(Kiosk.id == bindparam("kiosk_id"))
          .options(joinedload(Kiosk.bank)))
_LAST_DEPOSIT = (select(Deposit.deposited_at, Deposit.collected_at)
                 .where(Deposit.device_id == bindparam("device_id"))
                 .order_by(Deposit.deposited_at.desc()).limit(1))


def stored_answer(session: Session, kiosk_id: int, key: str) -> ScanAnswer | None:
    body = execute(session, _STORED, {"kiosk_id": kiosk_id, "key": key}).scalar()
    return None if body is None else ScanAnswer(dict(body), repeated=True)


def scan(session: Session, kiosk_id: int, request: ScanRequest, zone: tzinfo,
         now: datetime | None = None, asks: policy.AskTokens | None = None) -> ScanAnswer:
    """Act on one scan, at most once per key, inside the caller's unit of work. ``zone`` is
    the school's, for the time shown; ``asks`` signs the policy question's token (without it
    the question carries none)."""
    now = now or utc_now()
    receipt_id = None
    if request.key:
        receipt_id = _claim(session, kiosk_id, request.key, now)
        if receipt_id is None:  # an identical request has answered (or just has)
            stored = stored_answer(session, kiosk_id, request.key)
            assert stored is not None, "a claimed key always holds its answer"
            return stored
    if request.source in AGENT_SOURCES:  # PostgreSQL: one answer to the page's question
        kiosk_events.lock_kiosk(session, kiosk_id)
    found = session.execute(_KIOSK, {"kiosk_id": kiosk_id}).first()
    assert found is not None, "the caller checked the kiosk's token"
    kiosk, policy_id = found
    when = _scan_time(request, kiosk_id, now, session)
    body = _decide(session, kiosk, request, when, _Teller(session, kiosk_id, zone, now,
                                                          policy_id, asks))
    if receipt_id is not None:
        execute(session, _ANSWER, {"receipt_id": receipt_id, "body": body})
    if _shown_on_page(request, now):
        kiosk_events.publish(session, kiosk_id, kiosk_events.SCAN,
                             {**body, "source": request.source}, now)
    return ScanAnswer(body)


def _decide(session: Session, kiosk: Kiosk, request: ScanRequest, when: datetime,
            told: _Teller) -> dict[str, Any]:
    now, zone = told.now, told.zone
    asking = request.source in AGENT_SOURCES and _asking(kiosk, when, now)
    if asking:  # this scan answers the page's question, whoever it names
        kiosk.asking_until = None
    try:
        named = codes.resolve(session, request.code)
        if asking:
            return told(named.person, _identified(request.code, named.person))
        if named.device is None and not request.read_by_a_reader:
            return _typed_badge(named.person)
        intent = Intent(request.confirm, request.choice,
                        lambda: school_settings.rescan_guard(session))
        if named.device is None and not named.person.current_devices:
            result = deposits.without_phone(session, kiosk, named.person, when, intent)
            return told(named.person, _body(result, zone))
        found = named.device or for_person(session, named.person, when)
        if isinstance(found, ScanResult):  # "which phone?"
            return told(named.person, _body(found, zone))
        if request.scanned_at is not None and when < now:  # a plain scan reads nothing more
            when = _after_last_event(session, kiosk.id, found, when, now)
        result = toggle(session, kiosk, found, when, zone, intent)
    except ScanRefused as refused:
        return refusal(refused.reason, str(refused))
    if result.locker is not None and result.outcome in (DEPOSITED, COLLECTED):
        purpose = lock_commands.DEPOSIT if result.outcome == DEPOSITED else lock_commands.COLLECT
        lock_commands.queue_open(session, kiosk.id, result.locker, purpose, min(when, now))
    return told(named.person, _body(result, zone))


# Answers that wait for the person's choice (or only name them) ask nothing more: the scan or
# tap that follows does.
_NO_POLICY_QUESTION = frozenset({IDENTIFIED, CHOOSE, LEAVE_CHOICE})


@dataclass(frozen=True)
class _Teller:
    """What an answer naming someone also tells them: SLT's decision on a request of theirs
    that they have not been told, once; and the policy's summary while they have not
    acknowledged its current version (``policy_id``: None when none is published)."""

    session: Session
    kiosk_id: int
    zone: tzinfo
    now: datetime
    policy_id: int | None
    asks: policy.AskTokens | None

    def __call__(self, person: Person, body: dict[str, Any]) -> dict[str, Any]:
        notice = exception_requests.tell_requester(self.session, person, self.zone, self.now)
        if notice:
            body = {**body, "notice": notice}
        if self.policy_id is not None and body["outcome"] not in _NO_POLICY_QUESTION:
            ask = policy.unread(self.session, person.id, self.policy_id)
            if ask is not None:
                token = None if self.asks is None else self.asks.issue(
                    person.id, ask.version_id, self.kiosk_id, self.now)
                body = {**body, "policy": policy.ask_body(ask, token)}
        return body


def set_asking(session: Session, kiosk_id: int, on: bool,
               now: datetime | None = None) -> datetime | None:
    """The kiosk page starts (or stops) asking who is there, in the caller's unit of work.
    Returns until when the next agent scan only names the person (None: it acts as usual)."""
    until = (now or utc_now()) + ASK_FOR if on else None
    session.execute(update(Kiosk).where(Kiosk.id == kiosk_id).values(asking_until=until))
    return until


def _asking(kiosk: Kiosk, when: datetime, now: datetime) -> bool:
    """Whether the page is asking who is there, and this scan came after it started to."""
    until = kiosk.asking_until
    return until is not None and now < until and when >= until - ASK_FOR


def _typed_badge(person: Person) -> dict[str, Any]:
    """A badge number typed by hand proves nothing about who is at the kiosk: it names the
    person (first name only) and does nothing. A label or an IMEI typed is on the phone in
    hand, and acts."""
    return refusal(TYPED_BADGE, f"Hello {person.first_name}: badge numbers typed by hand "
                   "cannot collect or deposit. Please tap your badge or scan your phone's "
                   "label.")


def _identified(code: str, person: Person) -> dict[str, Any]:
    return {
        "outcome": IDENTIFIED, "code": _shareable_code(code, person),
        "person": person.first_name,
        "first_name": person.first_name, "locker": None,
        "message": f"{person.first_name}, tell us why you need your phone today.",
    }


def _shareable_code(code: str, person: Person) -> str:
    """A code that names the same person for the page, never an IMEI: answers and events are
    kept for a day, and an IMEI is the one thing the register keeps out of such records."""
    if not looks_like_imei(code):
        return code
    return person.badge_id or next((d.label_code for d in person.devices), "")


def _claim(session: Session, kiosk_id: int, key: str, now: datetime) -> int | None:
    """Take the key for this scan (its answer is filled in before commit); None if taken.
    Forgets day-old keys first."""
    execute(session, _FORGET_RECEIPTS, {"before": now - KEEP_RECEIPTS_FOR})
    claim = insert_unless_present(
        session, ScanReceipt, {"kiosk_id": kiosk_id, "key": key, "body": {}, "created_at": now},
        ("kiosk_id", "key"), returning=ScanReceipt.id)
    receipt_id: int | None = claim.scalar()
    return receipt_id


def _shown_on_page(request: ScanRequest, now: datetime) -> bool:
    if request.source not in AGENT_SOURCES:
        return False
    when = request.scanned_at or now
    return now - when <= SHOW_ON_PAGE_FOR


def _scan_time(request: ScanRequest, kiosk_id: int, now: datetime, session: Session,
               ) -> datetime:
    """When the scan happened: the sender's time if it is plausible, else ours (and the audit
    trail says so). A Pi has no battery clock: until NTP answers it may be days out, and a
    scan is never dropped for that (the person did scan)."""
    sent = request.scanned_at
    if sent is None:
        return now
    if sent.tzinfo is None:
        raise ValueError("scanned_at must carry a time zone")
    if now - MAX_SCAN_AGE <= sent <= now + MAX_CLOCK_AHEAD:
        return sent
    audit.record(session, f"kiosk:{kiosk_id}", "scan.time_corrected", f"kiosk:{kiosk_id}",
                 f"sent as {sent.isoformat()}; recorded at {now.isoformat()}", at=now)
    return now


def _after_last_event(session: Session, kiosk_id: int, device: Device, when: datetime,
                      now: datetime) -> datetime:
    """``when``, or just after the phone's last deposit or collection if it is not after it
    (and the audit trail says so): a backdated scan goes after what already happened."""
    last_deposit = execute(session, _LAST_DEPOSIT, {"device_id": device.id}).first()
    if last_deposit is None:
        return when
    put_in: datetime = last_deposit.deposited_at
    taken_out: datetime | None = last_deposit.collected_at
    last = taken_out or put_in
    if when > last:
        return when
    moved = min(last + AFTER_LAST_EVENT, now) if last < now else last + AFTER_LAST_EVENT
    audit.record(session, f"kiosk:{kiosk_id}", "scan.time_clamped", f"device:{device.id}",
                 f"sent as {when.isoformat()}; recorded at {moved.isoformat()}, after the "
                 f"phone's last {'collection' if taken_out else 'deposit'}", at=now)
    return moved


def _body(found: ScanResult, zone: tzinfo) -> dict[str, Any]:
    return {
        "outcome": found.outcome,
        "message": found.message,
        "locker": found.locker,
        "bank": found.bank,
        "person": found.person,
        "holder": found.holder,
        "at": found.at.isoformat(),
        "time": found.at.astimezone(zone).strftime("%H:%M"),
        "choices": list(LEAVE_CHOICES) if found.outcome == LEAVE_CHOICE else [
            {"code": c.code, "description": c.description, "locker": c.locker}
            for c in found.choices
        ],
        "exception": None if found.exception is None else {
            "approved_by": found.exception.approved_by, "until": found.exception.until,
            "conditions": found.exception.conditions,
        },
        "off_duty": found.off_duty,
        "can_confirm": found.can_confirm,
        "notice": None,
        "policy": None,
    }
