"""The evidence pack: one printable report, for an inspector or the annual review, of how the
phone policy was kept over a period, drawn from the everyday records.

- **The policy**: the current version and who has acknowledged it, by stakeholder category
  (``policy.coverage``: as it stands now, whatever the period).
- **Compliance by week**: ``compliance.evidence``, the same figures as the office's summaries,
  weeks kept as totals after a purge included.
- **Exceptions by category and outcome**: ``policy_report.build``'s categories and totals.
- **Incidents by kind and outcome**: those that happened in the period, open or closed now.
- **Hardware faults**: locker commands that failed, by kiosk. Lock commands are kept for a day
  only (``lock_commands.KEEP_COMMANDS_FOR``), so the pack says so: incidents of kind
  "locker fault" are the lasting record.

Counts only: the pack names nobody, and viewing or printing it is audited with counts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from register import audit, compliance, incidents, policy, policy_report
from register.lock_commands import KEEP_COMMANDS_FOR
from register.models import AuditEvent, Incident, Kiosk, LockCommand, PolicyVersion

NAME = "evidence"  # the report's name in the audit trail
FAULTS_KEPT_NOTE = ("Lock faults are kept for a day; incidents of kind locker fault are the "
                    "lasting record.")


@dataclass(frozen=True)
class IncidentRow:
    kind: str
    label: str
    open: int
    closed: int

    @property
    def total(self) -> int:
        return self.open + self.closed


@dataclass(frozen=True)
class FaultRow:
    kiosk: str
    failed: int


@dataclass(frozen=True)
class EvidencePack:
    starts_on: date
    ends_on: date
    generated_at: datetime
    policy_version: PolicyVersion | None
    coverage: policy.Coverage
    weeks: list[compliance.Tally]
    overall: compliance.Tally
    exceptions: list[policy_report.CategoryRow]
    exception_totals: policy_report.Outcomes
    incidents: list[IncidentRow]
    faults: list[FaultRow]
    faults_held_since: datetime  # lock commands older than this are gone

    @property
    def span(self) -> str:
        return f"{self.starts_on.isoformat()} to {self.ends_on.isoformat()}"

    @property
    def incidents_total(self) -> IncidentRow:
        return IncidentRow("", "All", sum(r.open for r in self.incidents),
                           sum(r.closed for r in self.incidents))

    @property
    def faults_total(self) -> int:
        return sum(row.failed for row in self.faults)

    @property
    def faults_cover_the_period(self) -> bool:
        """Whether the lock commands still held reach back to the period's start."""
        return self.faults_held_since.date() <= self.starts_on


def build(session: Session, starts_on: date, ends_on: date, zone: tzinfo,
          now: datetime) -> EvidencePack:
    """The pack for ``starts_on`` to ``ends_on`` (the school's dates), as of ``now``."""
    first = datetime.combine(starts_on, time(0), zone)
    after = datetime.combine(ends_on + timedelta(days=1), time(0), zone)
    report = policy_report.build(session, starts_on, ends_on, zone, now)
    coverage = policy.coverage(session)
    return EvidencePack(
        starts_on=starts_on, ends_on=ends_on, generated_at=now,
        policy_version=coverage.version, coverage=coverage,
        weeks=report.compliance.weeks(), overall=report.compliance.overall(),
        exceptions=report.categories,
        exception_totals=report.totals,
        incidents=_incidents(session, first, after), faults=_faults(session, first, after),
        faults_held_since=(now - KEEP_COMMANDS_FOR).astimezone(zone),
    )


def _incidents(session: Session, first: datetime, after: datetime) -> list[IncidentRow]:
    """Every kind in the log's order, open and closed, by when it happened."""
    counted = Counter({(kind, status): n for kind, status, n in session.execute(
        select(Incident.kind, Incident.status, func.count(Incident.id))
        .where(Incident.occurred_at >= first, Incident.occurred_at < after)
        .group_by(Incident.kind, Incident.status))})
    return [IncidentRow(kind, label, counted[kind, incidents.OPEN], counted[kind, incidents.CLOSED])
            for kind, label in incidents.KINDS.items()]


def _faults(session: Session, first: datetime, after: datetime) -> list[FaultRow]:
    """Lock commands the agent reported as failed, by kiosk."""
    rows = session.execute(
        select(Kiosk.name, func.count(LockCommand.id))
        .join(Kiosk, Kiosk.id == LockCommand.kiosk_id)
        .where(LockCommand.ok.is_(False), LockCommand.created_at >= first,
               LockCommand.created_at < after)
        .group_by(Kiosk.name).order_by(Kiosk.name))
    return [FaultRow(name, failed) for name, failed in rows]


def record_access(session: Session, pack: EvidencePack, actor: str, printed: bool = False,
                  at: datetime | None = None) -> AuditEvent:
    """Who viewed or printed the pack, for which period, and what it counted: no names."""
    return audit.record(
        session, actor, f"report.{NAME}.{'print' if printed else 'view'}", f"report:{NAME}",
        f"{pack.span}; {pack.overall.on_duty} staff-days, "
        f"{pack.exception_totals.requested} requests, {pack.incidents_total.total} incidents, "
        f"{pack.faults_total} lock faults", at=at)
