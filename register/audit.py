"""The audit trail: who viewed, changed, printed or exported personal data, and when.

Entries are chained by hash: each entry's ``entry_hash`` is the SHA-256 of the previous
entry's hash followed by a canonical encoding of this entry's id, time (UTC), actor, action,
subject and detail. Changing, removing or slipping in an entry breaks the chain from that
point on, and ``verify`` (``flask --app kiosk audit-verify``) names the first entry where it
breaks. The chain runs in id order, not time order: a scan's time may be backdated.

Entries are added only by ``record``, which hands out ids itself so that each entry's hash can
cover its id: on PostgreSQL it first takes a transaction-level advisory lock, so concurrent
transactions chain one after another in commit order; on SQLite writers are serialised
already (``BEGIN IMMEDIATE`` and the writers' queue, register/db.py). PostgreSQL also refuses
any UPDATE or DELETE of an entry (the trigger in register/models.py), but for two narrow doors:

- **Retention** (``purge_before``): the oldest entries go, from the start of the trail, and
  the last one removed is kept as the anchor (``audit_purges``): the first entry kept must
  chain to its hash.
- **Erasure** (``redact``): an entry whose detail holds free text about an erased person
  (a reason) has that detail blanked; its hash stays as it was, so the entries after it still
  chain, and ``verify`` takes the blanked entry itself on trust, saying how many it did.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, text, update
from sqlalchemy.orm import Session, scoped_session

from register.db import execute
from register.models import AuditEvent, AuditPurge, AuditRedaction, utc_now

# pg_advisory_xact_lock's key for "appending to the audit trail" (ASCII "audit" as a number).
CHAIN_LOCK_KEY = 0x6175646974
# Entries are dated when they are written (a scan's own time is its deposit's, not its entry's);
# one dated further back than this before an earlier entry was put in afterwards.
BACKDATING_ALLOWED = timedelta(hours=25)
_CHAIN = "register_audit_chain"  # session.info key: (transaction, last id, last hash)
_LAST = select(AuditEvent.id, AuditEvent.entry_hash).order_by(AuditEvent.id.desc()).limit(1)
_PG_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_PG_NEXT_ID = "nextval(pg_get_serial_sequence('audit_events', 'id'))"
_PG_FIRST = text(f"SELECT {_PG_NEXT_ID}, "
                 "(SELECT entry_hash FROM audit_events ORDER BY id DESC LIMIT 1)")
_PG_NEXT = text(f"SELECT {_PG_NEXT_ID}")
REDACTED = "(erased)"  # what an erased entry's detail says


def canonical(ident: int, at: datetime, actor: str, action: str, subject: str,
              detail: str) -> str:
    """One entry as the text its hash covers: a JSON array, its time in UTC to the
    microsecond (what both databases keep)."""
    when = at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    return json.dumps([ident, when, actor, action, subject, detail],
                      ensure_ascii=False, separators=(",", ":"))


def chain_hash(previous_hash: str, ident: int, at: datetime, actor: str, action: str,
               subject: str, detail: str) -> str:
    """The hash an entry must carry after an entry whose hash is ``previous_hash`` ("" for
    the first entry)."""
    encoded = previous_hash + canonical(ident, at, actor, action, subject, detail)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def record(
    session: Session,
    actor: str,
    action: str,
    subject: str = "",
    detail: str = "",
    at: datetime | None = None,
) -> AuditEvent:
    """Add an entry to the caller's transaction, chained to the one before it. Name records by
    id; never write an IMEI."""
    if isinstance(session, scoped_session):  # the web app's db.session: the request's session
        session = session()
    at = at or utc_now()
    ident, previous_hash = _next_link(session)
    event = AuditEvent(id=ident, actor=actor, action=action, subject=subject, detail=detail,
                       at=at, entry_hash=chain_hash(previous_hash, ident, at, actor, action,
                                                    subject, detail))
    session.add(event)
    session.info[_CHAIN] = (session.get_transaction(), ident, event.entry_hash)
    return event


def _next_link(session: Session) -> tuple[int, str]:
    """This entry's id and the previous entry's hash. The first entry of a transaction reads
    the last one committed (after taking the chain's lock on PostgreSQL); later entries of the
    same transaction follow the one before them in memory (so no savepoint may roll back an
    entry: nothing here uses savepoints)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    chain = session.info.get(_CHAIN)
    if chain is not None and chain[0] is session.get_transaction():
        _transaction, last_id, last_hash = chain
        if postgres:
            return int(execute(session, _PG_NEXT).scalar_one()), last_hash
        return last_id + 1, last_hash
    if postgres:
        # Held until commit or rollback: the next writer reads this entry as its previous one.
        execute(session, _PG_LOCK, {"key": CHAIN_LOCK_KEY})
        ident, last_hash = tuple[Any, ...](execute(session, _PG_FIRST).one())
        return int(ident), last_hash or ""
    last = execute(session, _LAST).first()
    if last is None:  # nothing recorded yet, or (in principle) everything purged
        anchor = _anchor(session)
        return (1, "") if anchor is None else (anchor.through_id + 1, anchor.through_hash)
    return last.id + 1, last.entry_hash


def _anchor(session: Session) -> AuditPurge | None:
    """The newest purge's anchor: the last entry removed from the start of the trail."""
    return session.scalars(select(AuditPurge).order_by(AuditPurge.id.desc()).limit(1)).first()


# --- retention and erasure: the two narrow doors ---------------------------------------------

@dataclass(frozen=True)
class Purged:
    removed: int
    through_id: int | None  # the last entry removed (the trail starts after it)


def purgeable(session: Session, cutoff: datetime) -> tuple[int, int | None]:
    """How many entries a purge at ``cutoff`` would remove, and the last of them: the longest
    run from the start of the trail dated before ``cutoff`` (the chain runs in id order, so an
    old entry after a newer one waits for it)."""
    first_kept = session.scalar(select(func.min(AuditEvent.id)).where(AuditEvent.at >= cutoff))
    before = select(func.count(), func.max(AuditEvent.id))
    if first_kept is not None:
        before = before.where(AuditEvent.id < first_kept)
    count, through_id = session.execute(before).one()
    return int(count or 0), through_id


def purge_before(session: Session, cutoff: datetime, actor: str, now: datetime,
                 retention: str) -> Purged:
    """Remove the entries from the start of the trail dated before ``cutoff``, in the caller's
    transaction, and record it (that entry is kept: it is newer). ``retention`` says the
    period in words for the entry. The anchor lets ``verify`` check the first entry kept."""
    removed, through_id = purgeable(session, cutoff)
    if not removed or through_id is None:
        return Purged(0, None)
    through_hash = session.scalar(select(AuditEvent.entry_hash)
                                  .where(AuditEvent.id == through_id)) or ""
    record(session, actor, "audit.purge", "audit", (
        f"{removed} {'entry' if removed == 1 else 'entries'} older than {retention} removed, "
        f"to #{through_id}; the trail now starts after it"), at=now)
    session.add(AuditPurge(at=now, through_id=through_id, through_hash=through_hash,
                           removed=removed))
    with _door(session, "register.audit_purge"):
        execute(session, delete(AuditEvent).where(AuditEvent.id <= through_id))
    return Purged(removed, through_id)


def redact(session: Session, event_ids: Iterable[int], erasure: AuditEvent) -> int:
    """Blank the detail of these entries (their reasons named an erased person), in the
    caller's transaction, after ``erasure`` (the "person.erase" entry) was recorded in it."""
    ids = sorted(set(event_ids) - {erasure.id})
    if not ids:
        return 0
    session.flush()  # the erasure entry exists before the redactions point at it
    session.add_all(AuditRedaction(event_id=ident, at=erasure.at, erasure_event_id=erasure.id)
                    for ident in ids)
    session.flush()  # PostgreSQL's trigger opens the door only for listed entries
    with _door(session, "register.audit_redact"):
        execute(session, update(AuditEvent).where(AuditEvent.id.in_(ids))
                .values(detail=REDACTED))
    return len(ids)


class _door:
    """A PostgreSQL setting on for the rest of this statement's work, off again after: the
    append-only trigger lets the purge or the redaction through only while it is on."""

    def __init__(self, session: Session, name: str) -> None:
        self.session, self.name = session, name
        self.postgres = session.get_bind().dialect.name == "postgresql"

    def __enter__(self) -> None:
        if self.postgres:
            execute(self.session, text(f"SET LOCAL {self.name} = 'on'"))

    def __exit__(self, *_exc: object) -> None:
        if self.postgres:
            execute(self.session, text(f"SET LOCAL {self.name} = 'off'"))


# --- verifying the chain -------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """An entry as the chain sees it."""

    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    detail: str
    entry_hash: str

    def follows(self, previous_hash: str) -> bool:
        return self.entry_hash == chain_hash(previous_hash, self.id, self.at, self.actor,
                                             self.action, self.subject, self.detail)


@dataclass(frozen=True)
class Break:
    """The first entry where the chain breaks, and what is wrong there."""

    entry: Entry
    problem: str


@dataclass(frozen=True)
class Verification:
    count: int
    first: Entry | None
    last: Entry | None
    broken: Break | None
    purged_through: int | None = None  # the trail starts after this entry (a purge)
    redacted: int = 0  # entries blanked by an erasure, taken on trust

    @property
    def intact(self) -> bool:
        return self.broken is None


_GENESIS = Entry(0, datetime.min.replace(tzinfo=UTC), "", "", "", "", "")


def verify(session: Session) -> Verification:
    """Walk the chain in id order; stop at the first entry that does not follow from the one
    before it, or is dated well before an earlier entry, and say what most likely happened."""
    anchor = _anchor(session)
    start = _GENESIS if anchor is None else Entry(
        anchor.through_id, _GENESIS.at, "", "", "", "", anchor.through_hash)
    before_previous, previous, latest = _GENESIS, start, _GENESIS
    redacted = set(session.scalars(select(AuditRedaction.event_id)))
    count, first, trusted = 0, None, 0
    through = None if anchor is None else anchor.through_id
    for entry, following in _lookahead(_entries(session)):
        if entry.id in redacted and entry.detail == REDACTED:
            trusted += 1
            broken = None
        elif not entry.follows(previous.entry_hash):
            broken = _diagnose(before_previous, previous, entry, following)
        elif latest is not _GENESIS and entry.at < latest.at - BACKDATING_ALLOWED:
            broken = Break(entry, f"it was inserted out of order: it is dated "
                                  f"{_span(latest.at - entry.at)} before an earlier entry "
                                  f"(#{latest.id}), and entries are never dated more than a "
                                  "day back (unless the server's clock was put back)")
        else:
            broken = None
        if broken is None:
            count += 1
            first = first or entry
            before_previous, previous = previous, entry
            latest = entry if entry.at > latest.at else latest
            continue
        if broken.entry is previous:  # the break is the entry before: it is not a good one
            count, previous = count - 1, before_previous
        return Verification(count, first if count else None, previous if count else None,
                            broken, through, trusted)
    return Verification(count, first, previous if count else None, None, through, trusted)


def _span(delta: timedelta) -> str:
    days, hours = delta.days, delta.seconds // 3600
    if days:
        return f"{days} day{'s' if days != 1 else ''}" + (f" {hours} h" if hours else "")
    return f"{hours} hours"


def _entries(session: Session) -> Iterator[Entry]:
    columns = (AuditEvent.id, AuditEvent.at, AuditEvent.actor, AuditEvent.action,
               AuditEvent.subject, AuditEvent.detail, AuditEvent.entry_hash)
    rows = session.execute(select(*columns).order_by(AuditEvent.id).execution_options(
        yield_per=2000))
    for row in rows:
        yield Entry(*row)


def _lookahead(entries: Iterable[Entry]) -> Iterator[tuple[Entry, Entry | None]]:
    previous: Entry | None = None
    for entry in entries:
        if previous is not None:
            yield previous, entry
        previous = entry
    if previous is not None:
        yield previous, None


def _diagnose(before_previous: Entry, previous: Entry, entry: Entry, following: Entry | None,
              ) -> Break:
    """``entry`` does not follow ``previous``: tell insertion, deletion and alteration apart
    where the neighbours allow it."""
    start = previous is _GENESIS
    after = "the start of the trail" if start else f"#{previous.id}"
    before = "the start of the trail" if before_previous is _GENESIS else f"#{before_previous.id}"
    if entry.entry_hash == "":
        return Break(entry, "it has no hash: it was written straight into the table, not "
                            "through the audit trail (an entry inserted by hand)")
    if following is not None and following.follows(previous.entry_hash):
        return Break(entry, f"it was inserted out of order: the entry after it (#{following.id})"
                            f" chains straight to {after}")
    if not start and entry.follows(before_previous.entry_hash):
        return Break(previous, f"it was inserted out of order: the entry after it (#{entry.id})"
                               f" chains straight to {before}")
    if not start and previous.id == entry.id - 1 and entry.entry_hash == chain_hash(
            before_previous.entry_hash, entry.id - 1, entry.at, entry.actor, entry.action,
            entry.subject, entry.detail):
        return Break(previous, f"it was inserted out of order: the entries after it were "
                               f"renumbered to make room (#{entry.id} was #{entry.id - 1}, and "
                               f"chains to {before})")
    missing = entry.id - previous.id - 1
    if not start and missing > 0:
        ids = f"#{previous.id + 1}" if missing == 1 else f"#{previous.id + 1} to #{entry.id - 1}"
        return Break(entry, f"it does not chain to {after}, and the "
                            f"{'entry' if missing == 1 else 'entries'} between them ({ids}) "
                            f"{'is' if missing == 1 else 'are'} missing: deleted")
    if following is not None and following.follows(entry.entry_hash):
        return Break(entry, "it was altered: its time, who, what, record or detail no longer "
                            "match its hash, which the entry after it chains to"
                            + ("" if start else f" (or {after}, the entry before it, was "
                                                "replaced)"))
    return Break(entry, f"it does not chain to {after}: it was altered, an entry before it "
                        "was deleted or replaced, or it was inserted out of order")


# --- reading the trail ---------------------------------------------------------------------

@dataclass(frozen=True)
class AuditQuery:
    """What the admin page filters on; empty means any."""

    actor: str = ""
    action: str = ""
    subject: str = ""
    since: date | None = None  # local dates, both days included
    until: date | None = None

    def describe(self) -> str:
        """The filters in words, for the audit entry of the page's own view: never an IMEI,
        even if someone typed one into the record box."""
        parts = [f"{name} {_no_long_numbers(value)!r}" for name, value in (
            ("who", self.actor), ("what", self.action), ("record", self.subject)) if value]
        if self.since:
            parts.append(f"from {self.since.isoformat()}")
        if self.until:
            parts.append(f"to {self.until.isoformat()}")
        return ", ".join(parts) or "no filter"


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEvent]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search(session: Session, query: AuditQuery, zone: tzinfo, page: int = 1,
           per_page: int = 100) -> AuditPage:
    """Entries matching ``query``, newest first (by time, then id), one page of them."""
    conditions = _conditions(query, zone)
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(*conditions)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    entries = list(session.scalars(
        select(AuditEvent).where(*conditions)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .offset((page - 1) * per_page).limit(per_page)))
    return AuditPage(entries, total, page, per_page)


def _conditions(query: AuditQuery, zone: tzinfo) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if query.actor:
        conditions.append(func.lower(AuditEvent.actor).contains(query.actor.lower(),
                                                                autoescape=True))
    if query.action:
        conditions.append(AuditEvent.action == query.action)
    if query.subject:
        conditions.append(func.lower(AuditEvent.subject).contains(query.subject.lower(),
                                                                  autoescape=True))
    if query.since:
        conditions.append(AuditEvent.at >= _local_midnight(query.since, zone))
    if query.until:
        conditions.append(AuditEvent.at < _local_midnight(query.until + timedelta(days=1), zone))
    return conditions


def _local_midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def actions_present(session: Session) -> list[str]:
    """Every kind of entry the trail holds, for the page's choice of "what"."""
    return list(session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def recent(session: Session, limit: int = 200) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    return list(session.scalars(query))


def _no_long_numbers(value: str) -> str:
    return re.sub(r"\d{8,}", "(a long number)", value)


def backfill(rows: Iterable[Any], previous_hash: str = "") -> list[dict[str, Any]]:
    """Hashes for entries made before the chain existed, in id order, following an entry whose
    hash is ``previous_hash``: what the migration that added ``entry_hash`` writes (rows have
    id, at, actor, action, subject and detail)."""
    hashes = []
    for row in rows:
        previous_hash = chain_hash(previous_hash, row.id, _aware(row.at), row.actor, row.action,
                                   row.subject, row.detail)
        hashes.append({"entry_id": row.id, "entry_hash": previous_hash})
    return hashes


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
