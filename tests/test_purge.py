"""The retention purge (register/purge.py) with a frozen clock, on SQLite and PostgreSQL: what
goes, what stays, twice in a row, changed settings, a dry run, the audit trail's own retention,
and on SQLite the file itself (no name left in its bytes, space given back)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, insert, select
from sqlalchemy.orm import Session

from register import audit, purge, retention
from register.db import configure_engine, read_only, unit_of_work
from register.models import (
    AuditEvent,
    Base,
    ComplianceWeek,
    Deposit,
    Device,
    DutyPeriod,
    ExceptionRequest,
    ExceptionWeek,
    KioskEvent,
    LoginFailure,
    Person,
    User,
    UserSession,
)
from register.people import add_bank
from tests.test_compliance import LONDON, fortnight_rows, load_fortnight

# A Wednesday more than a year after the fortnight (19 to 30 October 2026): deposits and
# requests are kept 13 months, so all of the fortnight's are past keeping (before 15 Nov 2026).
NOW = datetime(2027, 12, 15, 9, 0, tzinfo=UTC)
LONG_AGO = datetime(2026, 6, 1, 7, 0, tzinfo=UTC)
REAL_NOW = datetime.now(UTC).replace(microsecond=0)


def days_ago(days: float, now: datetime = NOW) -> datetime:
    return now - timedelta(days=days)


def person(session: Session, name: str, left: datetime | None = None) -> Person:
    someone = Person(name=name, category="staff", left_at=left, active=left is None)
    session.add(someone)
    session.flush()
    return someone


def phone(session: Session, owner: Person, imei: str) -> Device:
    device = Device(owner_id=owner.id, imei=imei, label_code=f"PH{imei[-6:]}")
    session.add(device)
    session.flush()
    return device


def deposit(session: Session, device: Device, locker_id: int, at: datetime,
            collected: datetime | None = None) -> None:
    session.add(Deposit(device_id=device.id, locker_id=locker_id, deposited_at=at,
                        collected_at=collected))


def duty(session: Session, someone: Person, start: datetime, end: datetime | None = None) -> None:
    session.add(DutyPeriod(person_id=someone.id, started_at=start, start_kind="deposit",
                           ended_at=end, end_kind="collect" if end else None))


def request(session: Session, someone: Person, asked: datetime, starts_on: date,
            ends_on: date) -> ExceptionRequest:
    made = ExceptionRequest(person_id=someone.id, category="caring", reason="r",
                            starts_on=starts_on, ends_on=ends_on, status="approved",
                            requested_at=asked, requested_by="office", requested_via="office",
                            decided_at=asked)
    session.add(made)
    session.flush()
    return made


@pytest.fixture
def school_year(session):
    """The fortnight, and around it what a year and more later must stay or go."""
    load_fortnight(session, fortnight_rows())
    hall = add_bank(session, "Hall", 4, "test").lockers
    dana = person(session, "Dana Dale")  # a phone in a locker since June 2026, still on duty
    dana_old, dana_new = phone(session, dana, "490154203237519"), phone(session, dana,
                                                                        "490154203237527")
    deposit(session, dana_old, hall[0].id, LONG_AGO)
    duty(session, dana, LONG_AGO)
    deposit(session, dana_new, hall[1].id, days_ago(2), days_ago(1.7))
    erin = person(session, "Erin Ellis")  # on duty since June 2026: never scanned out
    duty(session, erin, LONG_AGO)
    duty(session, erin, days_ago(3), days_ago(2.8))
    request(session, erin, days_ago(5), (NOW - timedelta(days=5)).date(),
            (NOW + timedelta(days=5)).date())
    request(session, erin, datetime(2026, 11, 2, 9, tzinfo=UTC), date(2026, 11, 2),
            date(2026, 11, 20))  # made before the cutoff, but in force after its date
    frank = person(session, "Frank Foster", left=days_ago(40))
    franks = phone(session, frank, "354178036859797")
    deposit(session, franks, hall[2].id, days_ago(60), days_ago(59.7))
    duty(session, frank, days_ago(60), days_ago(59.7))
    franks_request = request(session, frank, days_ago(61), (NOW - timedelta(days=60)).date(),
                             (NOW - timedelta(days=60)).date())
    audit.record(session, "office", "exception.request", f"exception:{franks_request.id}",
                 f"person:{frank.id}; hospital appointment")
    person(session, "Gina Gray", left=days_ago(10))
    hal = person(session, "Hal Hughes", left=days_ago(40))
    deposit(session, phone(session, hal, "352099001761499"), hall[3].id, days_ago(45))
    for at in (days_ago(40), days_ago(5)):
        session.add(LoginFailure(username="office", remote_addr="10.0.0.9", at=at))
    account = User(username="bursar", password_hash="x", role="office")
    session.add(account)
    session.flush()
    for number, (seen, ended) in enumerate([(days_ago(40), days_ago(40)),  # goes
                                            (days_ago(41), None),  # never ended: goes
                                            (days_ago(5), days_ago(5))]):  # stays
        session.add(UserSession(user_id=account.id, token_hash=f"{number:064d}",
                                created_at=seen, last_seen_at=seen, ended_at=ended,
                                remote_addr="10.0.0.9"))
    kiosk_id = session.scalar(select(func.min(Deposit.deposit_kiosk_id)))
    for at in (days_ago(2), days_ago(1 / 24)):
        session.execute(insert(KioskEvent).values(kiosk_id=kiosk_id, kind="scan", data={},
                                                  created_at=at))
    session.commit()
    return {"dana": dana.id, "erin": erin.id, "frank": frank.id, "hal": hal.id,
            "frank_request_entry": franks_request.id}


def run(session: Session, now: datetime = NOW, dry_run: bool = False) -> purge.PurgeReport:
    scope = read_only if dry_run else unit_of_work
    with scope(session):
        return purge.purge(session, now, LONDON, actor="cli", dry_run=dry_run)


def removed(report: purge.PurgeReport) -> dict[str, dict[str, int]]:
    return {kind.key: {noun: n for noun, n in kind.removed.items() if n}
            for kind in report.kinds}


def snapshot(session: Session) -> dict[str, int]:
    """How many rows each table holds: what "changes nothing" compares."""
    with read_only(session):
        return {table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
                for table in Base.metadata.sorted_tables}


# --- what goes and what stays ----------------------------------------------------------------

def test_the_purge_removes_what_is_past_keeping_and_nothing_else(session, school_year):
    report = run(session)

    assert removed(report) == {
        "deposits": {"deposit": 30, "duty period": 31},  # the fortnight's, and Erin's stale one
        "exceptions": {"request": 8, "decision": 12},
        "incidents": {},
        "leavers": {"person": 1, "phone": 1, "deposit": 1, "duty period": 1, "request": 1},
        "login_failures": {"failed sign-in": 1, "ended sign-in session": 2},
        "operational": {"kiosk event": 1, "lock command": 8},
        "audit": {},
    }
    assert report.kind("leavers").waiting == ("1 person with a phone still in a locker kept "
                                              "until it is collected")
    with read_only(session):
        names = set(session.scalars(select(Person.name)))
        assert names == {"Alice Adams", "Bob Brown", "Carol Clark", "Dana Dale", "Erin Ellis",
                         "Gina Gray", "Hal Hughes"}
        # Dana's phone still in its locker, and her duty with it; her recent deposit.
        assert session.scalar(select(func.count()).select_from(Deposit)) == 3
        assert {(d.person_id, d.ended_at is None) for d in session.scalars(select(DutyPeriod))} \
            == {(school_year["dana"], True), (school_year["erin"], False)}
        assert len(session.scalars(select(ExceptionRequest)).all()) == 2  # Erin's two
        assert [f.at for f in session.scalars(select(LoginFailure))] == [days_ago(5)]
        assert [u.ended_at for u in session.scalars(select(UserSession))] == [days_ago(5)]
        assert session.scalar(select(func.count()).select_from(KioskEvent)) == 1
        # Frank's request's reason left the audit trail with him; its entry stays, by id.
        entry = session.scalar(select(AuditEvent).where(
            AuditEvent.subject == f"exception:{school_year['frank_request_entry']}"))
        assert entry is not None and entry.detail == audit.REDACTED
        [purged] = session.scalars(select(AuditEvent).where(AuditEvent.action == "retention.purge"))
        assert purged.id == report.entry_id and purged.actor == "cli" and purged.at == NOW
        assert purged.detail.startswith("deposits: 30 deposits, 31 duty periods; exceptions: "
                                        "8 requests, 12 decisions; incidents: nothing; leavers: "
                                        "1 person, 1 phone,")
        assert "Frank" not in purged.detail


def test_the_weeks_are_kept_as_totals_before_their_events_go(session, school_year):
    report = run(session)
    assert {date(2026, 10, 19), date(2026, 10, 26)} <= set(report.archived.compliance_weeks)
    with read_only(session):
        fortnight = [(w.week_of, w.on_duty, w.compliant, w.with_exception) for w in
                     session.scalars(select(ComplianceWeek).where(
                         ComplianceWeek.week_of.in_([date(2026, 10, 19), date(2026, 10, 26)]))
                         .order_by(ComplianceWeek.week_of))]
        assert fortnight == [(date(2026, 10, 19), 15, 14, 3), (date(2026, 10, 26), 15, 13, 3)]
        requested = session.scalar(select(func.sum(ExceptionWeek.requested)).where(
            ExceptionWeek.week_of < date(2026, 11, 2)))
        assert requested == 8
        # Frank's request, gone with him, is still counted in its week.
        assert session.scalar(select(func.sum(ExceptionWeek.requested)).where(
            ExceptionWeek.week_of > date(2027, 1, 1))) == 1


def test_a_second_purge_at_the_same_time_changes_nothing(session, school_year):
    run(session)
    before = snapshot(session)
    again = run(session)
    assert again.removed == 0 and again.entry_id is None
    assert again.archived.compliance_weeks == [] and again.archived.exception_weeks == []
    assert snapshot(session) == before


def test_a_dry_run_changes_nothing_and_counts_what_the_purge_removes(session, school_year):
    before = snapshot(session)
    preview = run(session, dry_run=True)
    assert snapshot(session) == before
    assert preview.entry_id is None
    assert preview.lines(LONDON)[0] == ("deposits: would remove 30 deposits, 31 duty periods "
                                        "(kept 13 months: before 15 Nov 2026 09:00)")
    done = run(session)
    assert removed(preview) == removed(done)
    assert preview.archived == done.archived


def test_changed_retention_settings_change_what_goes(session, school_year):
    with unit_of_work(session):
        retention.put_retention(session, {"deposits": "24", "leavers": "60",
                                          "login_failures": "90"}, "admin")
    report = run(session)
    assert removed(report)["deposits"] == {}  # October 2026 is within two years
    assert removed(report)["leavers"] == {}  # Frank left 40 days ago: kept 60
    assert removed(report)["login_failures"] == {}
    assert removed(report)["exceptions"] == {"request": 8, "decision": 12}  # still 13 months
    with read_only(session):
        assert session.get(Person, school_year["frank"]) is not None


def test_the_audit_trail_keeps_its_own_period_and_still_verifies(session):
    """Entries years older than the real clock: PostgreSQL's trigger lets only entries more
    than a year old go, by the database's own clock."""
    for number in range(3):
        audit.record(session, "office", "person.view", f"person:{number}",
                     at=REAL_NOW - timedelta(days=3 * 365) + timedelta(minutes=number))
    audit.record(session, "office", "person.view", "person:9", at=REAL_NOW - timedelta(days=30))
    session.commit()
    report = run(session, REAL_NOW)
    assert removed(report)["audit"] == {"entry": 3}
    assert report.kind("audit").line(False, LONDON).startswith("audit: removed 3 entries "
                                                               "(kept 2 years: before ")
    with read_only(session):
        result = audit.verify(session)
        assert result.intact and result.purged_through == 3
        actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions == ["person.view", "retention.purge", "audit.purge"]


# --- SQLite: the file ------------------------------------------------------------------------

def sqlite_only(session: Session) -> Path:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("the file's bytes are SQLite's")
    return Path(str(session.get_bind().url.database))


def raw_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes().lower() for p in (path, Path(f"{path}-wal")) if p.exists())


def test_a_forgotten_leaver_is_not_left_in_the_files_bytes(session, school):
    path = sqlite_only(session)
    leaver = person(session, "Zebedee Quarrington", left=REAL_NOW - timedelta(days=45))
    phone(session, leaver, "356938035643809")
    session.commit()
    assert b"zebedee quarrington" in raw_bytes(path) and b"356938035643809" in raw_bytes(path)

    report = run(session, REAL_NOW)
    assert removed(report)["leavers"] == {"person": 1, "phone": 1}
    space = purge.reclaim_space(session.get_bind(), report.removed)
    session.close()

    assert space is not None and space.checkpointed
    assert b"zebedee" not in raw_bytes(path) and b"quarrington" not in raw_bytes(path)
    assert b"356938035643809" not in raw_bytes(path)


def test_a_large_purge_gives_space_back_and_an_old_file_is_converted_once(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as made_before:  # as before this issue: auto_vacuum NONE
        made_before.execute("PRAGMA journal_mode=WAL")
    engine = create_engine(f"sqlite:///{path}")
    configure_engine(engine)
    Base.metadata.create_all(engine)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 0
    converted = purge.reclaim_space(engine, 0)
    assert converted is not None and converted.converted
    assert "rebuilt once (VACUUM)" in converted.describe()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 2

    with Session(engine) as session:
        session.execute(insert(LoginFailure), [
            {"username": f"guess{n}", "remote_addr": "10.1.1.1", "at": days_ago(400, REAL_NOW)}
            for n in range(1500)])
        session.commit()
        report = run(session, REAL_NOW)
    assert removed(report)["login_failures"] == {"failed sign-in": 1500}
    space = purge.reclaim_space(engine, report.removed)
    assert space is not None and not space.converted and space.pages_freed > 0
    assert "given back to the filesystem (incremental vacuum)" in space.describe()
    engine.dispose()


def test_the_readme_table_says_the_defaults_the_settings_have():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("### Retention and the purge", 1)[1].split("\n### ", 1)[0]
    for kind in retention.KINDS:
        row = (f"| `{kind.key}`: {kind.label} | {kind.covers} | **{kind.describe(kind.default)}**"
               f" ({kind.low} to {kind.high} {kind.unit}) | {kind.why} |")
        assert row in section, row
