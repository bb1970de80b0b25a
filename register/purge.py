"""The retention purge: every kind of record removed once it is older than the school keeps it
(register/retention.py), in one unit of work that the caller opens (``flask --app kiosk
purge``, nightly from a timer).

What goes, by kind:

- **deposits**: deposits whose phone was taken out before the cutoff, with their door
  records; duty periods started before it. A deposit still open (a phone still in a locker) is
  never touched. A duty period still open after so long was never closed at the kiosk (nobody
  is on duty for a year): it goes like a closed one, unless its person still has a phone in a
  locker, which keeps it until the phone is collected.
- **exceptions**: requests made before the cutoff whose window ended before the cutoff's
  date (no longer in force), with their decisions.
- **incidents**: incidents closed before the cutoff, with their links to the people and
  devices involved. An incident still open is never removed, however old.
- **leavers**: people marked as left before the cutoff, with everything about them
  (``register.forget``); the details of audit entries about their records are blanked, with
  this purge's own entry as the reason. Someone whose phone is still in a locker waits.
- **login_failures**: failed sign-in records, and the sign-in counters no longer holding
  anyone (``register.throttle.purge``); sign-in sessions that ended (or were last used)
  before the cutoff, with their network addresses.
- **operational**: scan receipts, kiosk events and lock commands older than a day, as their
  modules forget them while they work (``scans.KEEP_RECEIPTS_FOR`` and the like).
- **audit**: entries older than the audit retention, from the start of the trail, leaving the
  anchor the first kept entry chains to (``register.audit.purge_before``).

Before anything goes, the weeks' figures are kept as totals (register/archive.py). The purge
records one audit entry, "retention.purge", with the counts, when it removed or kept anything;
a run that finds nothing changes nothing, so a second run at the same time is a no-op. A dry
run counts what would go, in a read-only unit of work, and records nothing: it changes
nothing and shows no personal data, only counts.

On SQLite, after the unit of work, ``reclaim_space`` checkpoints the WAL (the last copies of
deleted rows were there) and gives free pages back to the filesystem after a large purge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, Engine, delete, exists, func, select
from sqlalchemy.orm import Session

from register import archive, audit, forget, retention, throttle
from register.db import deleted
from register.kiosk_events import KEEP_EVENTS_FOR
from register.lock_commands import KEEP_COMMANDS_FOR
from register.models import (
    AuditEvent,
    Base,
    Deposit,
    DepositDoor,
    Device,
    DutyPeriod,
    ExceptionDecision,
    ExceptionRequest,
    Incident,
    KioskEvent,
    LockCommand,
    Person,
    ScanReceipt,
    UserSession,
    incident_devices,
    incident_people,
)
from register.scans import KEEP_RECEIPTS_FOR

ACTION, SUBJECT = "retention.purge", "retention"
OPERATIONAL = "operational"
LARGE_PURGE = 1000  # rows: past this, free pages go back to the filesystem too
PLURALS = {"person": "people", "entry": "entries"}


def counted(count: int, noun: str) -> str:
    """``1 deposit``, ``3 people``, ``1,204 entries``."""
    return f"{count:,} {noun if count == 1 else PLURALS.get(noun, noun + 's')}"


@dataclass(frozen=True)
class KindPurged:
    """What went (or would go) of one kind, by record, and from before when."""

    key: str  # a retention kind's key, or "operational"
    label: str
    kept_for: str  # "13 months"
    before: datetime
    removed: dict[str, int]  # singular noun -> count, in the order they are said
    waiting: str = ""  # records of this kind past keeping that stay, and why

    @property
    def total(self) -> int:
        return sum(self.removed.values())

    def counts(self) -> str:
        said = [counted(n, noun) for noun, n in self.removed.items() if n]
        return ", ".join(said) or "nothing"

    def line(self, dry_run: bool, zone: tzinfo) -> str:
        """One line, as the command prints it and a journal keeps it."""
        verb = "would remove" if dry_run else "removed"
        since = f"before {self.before.astimezone(zone):%-d %b %Y %H:%M}"
        return (f"{self.key}: {verb} {self.counts()} (kept {self.kept_for}: {since})"
                + (f"; {self.waiting}" if self.waiting else ""))


@dataclass(frozen=True)
class PurgeReport:
    at: datetime
    dry_run: bool
    kinds: list[KindPurged]
    archived: archive.Archived
    entry_id: int | None = None  # the "retention.purge" audit entry; None if none recorded

    @property
    def removed(self) -> int:
        return sum(kind.total for kind in self.kinds)

    def kind(self, key: str) -> KindPurged:
        return next(kind for kind in self.kinds if kind.key == key)

    def lines(self, zone: tzinfo) -> list[str]:
        return [kind.line(self.dry_run, zone) for kind in self.kinds] + [
            f"totals: {self.archived.describe(self.dry_run)}"]

    def summary(self) -> str:
        """The audit entry's detail: counts only."""
        return "; ".join([f"{kind.key}: {kind.counts()}" for kind in self.kinds]
                         + [self.archived.describe()])


@dataclass
class _Plan:
    """What is past keeping, found before anything is removed."""

    cutoffs: dict[str, datetime]
    kinds: dict[str, dict[str, int]] = field(default_factory=dict)
    waiting: dict[str, str] = field(default_factory=dict)
    leavers: list[Person] = field(default_factory=list)
    requests_going: set[int] = field(default_factory=set)


def purge(session: Session, now: datetime, zone: tzinfo, actor: str = "cli",
          dry_run: bool = False) -> PurgeReport:
    """Apply the retention settings to every kind of record, in the caller's unit of work (a
    dry run: in a read-only one, changing nothing). ``now`` is the purge's clock."""
    rules = retention.retention(session)
    plan = _plan(session, rules, now, zone)
    archived = archive.archive(session, now, zone, plan.requests_going, dry_run)
    if dry_run:
        return _report(plan, rules, now, archived, dry_run=True)

    removed = _remove_events(session, plan, zone, now)
    plan.kinds.update(removed)
    report = _report(plan, rules, now, archived, dry_run=False)
    if not report.removed and not archived.compliance_weeks and not archived.exception_weeks:
        return report  # nothing to do: nothing changes, not even the audit trail
    entry = audit.record(session, actor, ACTION, SUBJECT, report.summary(), at=now)
    for person in plan.leavers:
        forget.forget(session, person, redact_with=entry)
    audit.purge_before(session, plan.cutoffs["audit"], actor, now, rules.describe("audit"))
    return PurgeReport(now, False, report.kinds, archived, entry.id)


def last_run(session: Session) -> AuditEvent | None:
    """The latest purge that removed or kept anything (its audit entry), if there is one."""
    return session.scalars(select(AuditEvent).where(AuditEvent.action == ACTION)
                           .order_by(AuditEvent.id.desc()).limit(1)).first()


# --- finding what is past keeping ----------------------------------------------------------------

def _plan(session: Session, rules: retention.Retention, now: datetime, zone: tzinfo) -> _Plan:
    cutoffs = {kind.key: rules.cutoff(kind.key, now) for kind in retention.KINDS}
    plan = _Plan(cutoffs)
    events = _event_conditions(cutoffs, zone)
    plan.kinds["deposits"] = {"deposit": _count(session, Deposit, events["deposit"]),
                              "duty period": _count(session, DutyPeriod, events["duty period"])}
    plan.kinds["exceptions"] = {"request": _count(session, ExceptionRequest, events["request"]),
                                "decision": _count(session, ExceptionDecision,
                                                   events["decision"])}
    plan.requests_going = set(session.scalars(select(ExceptionRequest.id)
                                              .where(events["request"])))
    plan.kinds["incidents"] = {"incident": _count(session, Incident,
                                                  _old_incident(cutoffs["incidents"]))}
    _plan_leavers(session, plan, zone)
    counters = throttle.purge(session, now, cutoffs["login_failures"], dry_run=True)
    plan.kinds["login_failures"] = {
        "failed sign-in": counters.failures,
        "ended sign-in session": _count(session, UserSession,
                                        _old_session(cutoffs["login_failures"]))}
    plan.kinds[OPERATIONAL] = {
        noun: _count(session, table, column < now - kept)
        for noun, table, column, kept in _operational()}
    plan.kinds[OPERATIONAL]["sign-in counter"] = counters.counters
    plan.kinds["audit"] = {"entry": audit.purgeable(session, cutoffs["audit"])[0]}
    return plan


def _plan_leavers(session: Session, plan: _Plan, zone: tzinfo) -> None:
    left = list(session.scalars(select(Person).where(Person.left_at.is_not(None),
                                                     Person.left_at < plan.cutoffs["leavers"])
                                .order_by(Person.id)))
    waiting = set(session.scalars(select(Device.owner_id).join(Deposit).where(
        Device.owner_id.in_([p.id for p in left]), Deposit.collected_at.is_(None))))
    plan.leavers = [person for person in left if person.id not in waiting]
    found = [forget.footprint(session, person) for person in plan.leavers]
    ids = {noun: [i for f in found for i in getattr(f, attribute)] for noun, attribute in (
        ("phone", "device_ids"), ("deposit", "deposit_ids"), ("duty period", "duty_period_ids"),
        ("request", "request_ids"), ("decision", "decision_ids"),
        ("policy acknowledgement", "acknowledgement_ids"))}
    # Their records old enough to go anyway are counted with their own kind, not twice.
    events = _event_conditions(plan.cutoffs, zone)
    for noun, table in (("deposit", Deposit), ("duty period", DutyPeriod),
                        ("request", ExceptionRequest), ("decision", ExceptionDecision)):
        if ids[noun]:
            ids[noun] = list(set(ids[noun]) - set(session.scalars(
                select(table.id).where(table.id.in_(ids[noun]), events[noun]))))
    plan.kinds["leavers"] = {"person": len(found), **{noun: len(i) for noun, i in ids.items()}}
    plan.requests_going.update(i for f in found for i in f.request_ids)
    if waiting:
        plan.waiting["leavers"] = (f"{counted(len(waiting), 'person')} with a phone still in a "
                                   "locker kept until it is collected")


def _event_conditions(cutoffs: dict[str, datetime], zone: tzinfo,
                      ) -> dict[str, ColumnElement[bool]]:
    """The deposits kind's and the exceptions kind's records past keeping, as conditions."""
    deposits_before, requests_before = cutoffs["deposits"], cutoffs["exceptions"]
    old_deposit = Deposit.collected_at < deposits_before  # a phone still in a locker: NULL
    phone_in_a_locker = exists().where(Device.owner_id == DutyPeriod.person_id,
                                       Deposit.device_id == Device.id,
                                       Deposit.collected_at.is_(None))
    old_request = ((ExceptionRequest.requested_at < requests_before)
                   & (ExceptionRequest.ends_on < requests_before.astimezone(zone).date()))
    return {
        "deposit": old_deposit,
        "door": DepositDoor.deposit_id.in_(select(Deposit.id).where(old_deposit)),
        "duty period": (DutyPeriod.started_at < deposits_before)
        & (DutyPeriod.ended_at.is_not(None) | ~phone_in_a_locker),
        "request": old_request,
        "decision": ExceptionDecision.request_id.in_(select(ExceptionRequest.id)
                                                     .where(old_request)),
    }


def _old_incident(cutoff: datetime) -> ColumnElement[bool]:
    """Incidents closed before the cutoff; one still open (closed_at NULL) stays."""
    return (Incident.status == "closed") & (Incident.closed_at < cutoff)


def _remove_incidents(session: Session, cutoff: datetime) -> int:
    going = select(Incident.id).where(_old_incident(cutoff))
    for links in (incident_people, incident_devices):
        deleted(session, delete(links).where(links.c.incident_id.in_(going)))
    return deleted(session, delete(Incident).where(_old_incident(cutoff)))


def _old_session(cutoff: datetime) -> ColumnElement[bool]:
    """Sign-ins that ended before the cutoff, or were last used before it (none lasts more
    than a day): their times and network address are of no more use than a failed one's."""
    return func.coalesce(UserSession.ended_at, UserSession.last_seen_at) < cutoff


def _operational() -> list[tuple[str, type[Base], Any, timedelta]]:
    return [("scan receipt", ScanReceipt, ScanReceipt.created_at, KEEP_RECEIPTS_FOR),
            ("kiosk event", KioskEvent, KioskEvent.created_at, KEEP_EVENTS_FOR),
            ("lock command", LockCommand, LockCommand.created_at, KEEP_COMMANDS_FOR)]


def _count(session: Session, table: type[Base], condition: ColumnElement[bool]) -> int:
    return session.scalar(select(func.count()).select_from(table).where(condition)) or 0


# --- removing ------------------------------------------------------------------------------------

def _remove_events(session: Session, plan: _Plan, zone: tzinfo, now: datetime,
                   ) -> dict[str, dict[str, int]]:
    """Everything but the leavers and the audit trail (which need this purge's entry first);
    the counts as removed."""
    events = _event_conditions(plan.cutoffs, zone)

    def gone(table: type[Base], condition: ColumnElement[bool]) -> int:
        return deleted(session, delete(table).where(condition))

    session.flush()
    gone(DepositDoor, events["door"])
    removed = {"deposits": {"deposit": gone(Deposit, events["deposit"]),
                            "duty period": gone(DutyPeriod, events["duty period"])}}
    decisions = gone(ExceptionDecision, events["decision"])
    removed["exceptions"] = {"request": gone(ExceptionRequest, events["request"]),
                             "decision": decisions}
    removed["incidents"] = {"incident": _remove_incidents(session, plan.cutoffs["incidents"])}
    counters = throttle.purge(session, now, plan.cutoffs["login_failures"])
    removed["login_failures"] = {
        "failed sign-in": counters.failures,
        "ended sign-in session": gone(UserSession, _old_session(plan.cutoffs["login_failures"]))}
    removed[OPERATIONAL] = {noun: gone(table, column < now - kept)
                            for noun, table, column, kept in _operational()}
    removed[OPERATIONAL]["sign-in counter"] = counters.counters
    return removed


def _report(plan: _Plan, rules: retention.Retention, now: datetime, archived: archive.Archived,
            dry_run: bool) -> PurgeReport:
    kinds = [KindPurged(kind.key, kind.label, rules.describe(kind.key), plan.cutoffs[kind.key],
                        plan.kinds[kind.key], plan.waiting.get(kind.key, ""))
             for kind in retention.KINDS]
    kinds.insert(-1, KindPurged(OPERATIONAL, "Scan receipts, kiosk events and lock commands",
                                "a day", now - KEEP_RECEIPTS_FOR, plan.kinds[OPERATIONAL]))
    return PurgeReport(now, dry_run, kinds, archived)


# --- SQLite: the space the deleted rows took -----------------------------------------------------

@dataclass(frozen=True)
class SpaceWork:
    """What was done to the SQLite file after the purge's unit of work committed."""

    checkpointed: bool = False  # the WAL copied into the file and emptied
    wal_busy: bool = False  # a reader held the WAL: the checkpoint could not finish
    pages_freed: int = 0  # free pages given back to the filesystem
    converted: bool = False  # a full VACUUM turned on incremental auto-vacuum

    def describe(self) -> str:
        if not (self.checkpointed or self.converted):
            return "nothing to do"
        said = []
        if self.converted:
            said.append("the file was rebuilt once (VACUUM) so that later purges can give "
                        "space back (auto_vacuum is now incremental)")
        if self.pages_freed:
            said.append(f"{counted(self.pages_freed, 'free page')} given back to the "
                        "filesystem (incremental vacuum)")
        said.append("write-ahead log checkpointed and emptied" if not self.wal_busy else
                    "write-ahead log checkpointed, but a reader held it: it empties at the "
                    "next checkpoint")
        return "; ".join(said)


AUTO_VACUUM_NONE, AUTO_VACUUM_INCREMENTAL = 0, 2


def reclaim_space(engine: Engine, removed: int) -> SpaceWork | None:
    """After the purge committed (never inside a transaction): on SQLite, rewrite a file made
    before auto_vacuum was set (once), give free pages back after a large purge, and
    checkpoint the WAL so no copy of a deleted row is left in it. None on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return None
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        converted = pages = 0
        mode = cursor.execute("PRAGMA auto_vacuum").fetchone()[0]
        if mode == AUTO_VACUUM_NONE:
            # Each connection asks for incremental (register/db.py); VACUUM makes it so.
            cursor.execute(f"PRAGMA auto_vacuum={AUTO_VACUUM_INCREMENTAL}")
            cursor.execute("VACUUM")
            converted = 1
        elif removed > LARGE_PURGE:
            pages = cursor.execute("PRAGMA freelist_count").fetchone()[0]
            cursor.execute("PRAGMA incremental_vacuum").fetchall()
            pages -= cursor.execute("PRAGMA freelist_count").fetchone()[0]
        if not (removed or converted):
            return SpaceWork()
        busy, _, _ = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        cursor.close()
    finally:
        connection.close()
    return SpaceWork(True, bool(busy), pages, bool(converted))
