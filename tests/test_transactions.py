"""The one transaction policy (register/db.py) and what a scan costs the database."""

import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, func, insert, select
from sqlalchemy.orm import Session

from kiosk.extensions import db
from register import audit
from register.db import TransactionPolicyError, configure_engine, read_only, unit_of_work
from register.models import AuditEvent, Base, Deposit

ROOT = Path(__file__).resolve().parent.parent
# What one scan may execute (README, "Speed"): one read-only look (the kiosk for the token and
# any stored answer), then one write transaction. Counted on SQLite with its BEGIN statements.
# Issue 10 added two reads: the person's duty period (leaving after an exception ended is a
# choice) and any decision not yet told to them.
STATEMENTS_PER_DEPOSIT = 18


def audit_count(session: Session) -> int:
    with read_only(session):
        return session.scalar(select(func.count()).select_from(AuditEvent))


def test_a_unit_of_work_commits_what_it_did(engine, session):
    with unit_of_work(session):
        audit.record(session, "office", "person.view", "person:1")
    with Session(engine) as other:
        assert audit_count(other) == 1


def test_a_unit_of_work_that_fails_leaves_nothing(session):
    with pytest.raises(ZeroDivisionError), unit_of_work(session):
        audit.record(session, "office", "person.view", "person:1")
        session.flush()  # written, then the use case fails
        _ = 1 / 0
    assert audit_count(session) == 0


def test_a_read_only_unit_of_work_refuses_any_write(session):
    with pytest.raises(TransactionPolicyError), read_only(session):
        audit.record(session, "office", "person.view")  # an ORM change
    with pytest.raises(TransactionPolicyError), read_only(session):
        session.execute(insert(AuditEvent).values(actor="x", action="y"))  # a Core write
    assert audit_count(session) == 0


def test_units_of_work_do_not_nest(session):
    with unit_of_work(session), pytest.raises(TransactionPolicyError, match="do not nest"), \
            read_only(session):
        pass


def test_the_web_apps_session_writes_only_in_a_unit_of_work(app):
    with app.app_context():
        with pytest.raises(TransactionPolicyError, match="undeclared"):
            audit.record(db.session, "office", "person.view")
            db.session.flush()
        db.session.rollback()
        with unit_of_work(db.session()):
            audit.record(db.session, "office", "person.view")
        assert audit_count(db.session()) == 1


def test_on_sqlite_a_unit_of_work_says_at_its_start_whether_it_will_write(tmp_path):
    """BEGIN IMMEDIATE because the unit of work declared it would write, not because a write
    was noticed halfway: it waits for the write lock before reading what it will act on."""
    engine = create_engine(f"sqlite:///{tmp_path / 'policy.sqlite3'}")
    configure_engine(engine)
    Base.metadata.create_all(engine)
    begun: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_: begun.append(statement)
                 if statement.startswith("BEGIN") else None)
    with Session(engine) as session:
        with read_only(session):
            session.scalar(select(func.count()).select_from(AuditEvent))
        with unit_of_work(session):
            session.scalar(select(func.count()).select_from(AuditEvent))
            audit.record(session, "office", "person.view")
    assert begun == ["BEGIN", "BEGIN IMMEDIATE"]
    engine.dispose()


def test_only_register_db_commits_or_rolls_back():
    """Helpers never commit: views, CLI commands and the agent API open units of work."""
    calls = re.compile(r"\.(commit|rollback)\(\)")
    found = [f"{path.relative_to(ROOT)}:{number}"
             for folder in ("kiosk", "register") for path in sorted((ROOT / folder).rglob("*.py"))
             if path != ROOT / "register" / "db.py"
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if calls.search(line)]
    assert found == []


# --- what a scan costs ---------------------------------------------------------------------

def statements_of(app, call) -> list[str]:
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def note(_c, _cur, statement: str, *_) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", note)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return seen


def test_a_deposit_is_one_write_transaction_of_a_bounded_number_of_statements(
        app, client, web_school):
    bearer = {"Authorization": f"Bearer {web_school.staff_kiosk_token}"}
    code = web_school.alice_phone.label_code
    answers = []
    # A deposit, then a collection ("Take it out again": within the second-scan guard).
    for key, confirm in (("k1", False), ("k2", True)):
        seen = statements_of(app, lambda key=key, confirm=confirm: answers.append(
            client.post("/api/v1/scan", json={"code": code, "key": key, "confirm": confirm},
                        headers=bearer)))
        assert len(seen) <= STATEMENTS_PER_DEPOSIT, "\n".join(seen)
        writes = [s for s in seen if s.startswith(("INSERT", "UPDATE", "DELETE"))]
        assert writes, seen
        if seen[0].startswith("BEGIN"):  # SQLite: the write transaction began as one, once
            assert [s for s in seen if s.startswith("BEGIN IMMEDIATE")] == ["BEGIN IMMEDIATE"]
            first_write = seen.index("BEGIN IMMEDIATE")
            assert all(not s.startswith(("INSERT", "UPDATE", "DELETE"))
                       for s in seen[:first_write])
    assert [a.json["outcome"] for a in answers] == ["deposited", "collected"]


def test_a_repeated_key_is_answered_without_taking_the_write_lock(app, client, web_school):
    bearer = {"Authorization": f"Bearer {web_school.staff_kiosk_token}"}
    body = {"code": web_school.alice_phone.label_code, "key": "again"}
    first = client.post("/api/v1/scan", json=body, headers=bearer)
    replies = []
    seen = statements_of(app, lambda: replies.append(
        client.post("/api/v1/scan", json=body, headers=bearer)))
    assert replies[0].json == first.json
    assert replies[0].headers["Idempotent-Replayed"] == "true"
    assert [s for s in seen if s.startswith(("BEGIN IMMEDIATE", "INSERT", "UPDATE", "DELETE"))
            ] == []
    with app.app_context(), read_only(db.session()) as session:
        assert session.scalar(select(func.count()).select_from(Deposit)) == 1


def test_the_kiosk_token_check_is_one_indexed_read(app, client, web_school):
    bearer = {"Authorization": f"Bearer {web_school.staff_kiosk_token}"}
    seen = statements_of(app, lambda: client.post(
        "/api/v1/agent/commands/999", json={"ok": True}, headers=bearer))
    reads = [s for s in seen if not s.startswith("BEGIN")]
    assert "FROM kiosks" in reads[0] and "kiosks.token_hash = " in reads[0]
    assert Base.metadata.tables["kiosks"].c.token_hash.unique  # a unique index answers it


def test_writers_still_write_when_the_queue_file_cannot_be_opened(tmp_path):
    """A queue file left by another user (root running a command) must not stop the school."""
    database = tmp_path / "pi.sqlite3"
    engine = create_engine(f"sqlite:///{database}")
    configure_engine(engine)
    Base.metadata.create_all(engine)
    (tmp_path / "pi.sqlite3-writers").mkdir()  # opening it for writing fails, as for root's
    with Session(engine) as session:
        with unit_of_work(session):
            audit.record(session, "office", "person.view")
        assert audit_count(session) == 1
    engine.dispose()
