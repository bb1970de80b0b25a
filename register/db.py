"""Engine settings and transactions that hold under concurrency on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 15_000
_WRITE_LOCK = "register_write_lock"
_HOLDS_WRITE_LOCK = "register_holds_write_lock"
_WRITES = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|SAVEPOINT)\b", re.IGNORECASE)


def configure_engine(engine: Engine) -> None:
    """Per-connection settings; call once per engine, before its first connection."""
    if engine.dialect.name != "sqlite" or getattr(engine, "_register_configured", False):
        return
    engine._register_configured = True  # type: ignore[attr-defined]

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _sqlite_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a scan acknowledged to the kiosk survives a power cut (NORMAL may roll it back).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection: Any) -> None:
        # A deferred transaction that reads, then writes, fails at once with "database is
        # locked" if another writer got in between; IMMEDIATE waits on busy_timeout instead.
        immediate = connection.get_execution_options().get(_WRITE_LOCK, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
        connection.info[_HOLDS_WRITE_LOCK] = immediate

    @event.listens_for(engine, "before_cursor_execute")
    def _sqlite_take_write_lock(connection: Any, cursor: Any, statement: str, *_: Any) -> None:
        # Any other transaction that reads, then writes (a page that writes its audit entry
        # after its queries, a form) would fail with "database is locked" whenever the kiosk
        # agent's heartbeat wrote in between. Before its first write, end its read snapshot
        # (it holds no lock in WAL mode) and wait for the write lock: from then on it sees
        # committed data, as it would under PostgreSQL's READ COMMITTED.
        if connection.info.get(_HOLDS_WRITE_LOCK, True) or not _WRITES.match(statement):
            return
        cursor.execute("COMMIT")
        cursor.execute("BEGIN IMMEDIATE")
        connection.info[_HOLDS_WRITE_LOCK] = True


@contextmanager
def write_transaction(session: Session) -> Iterator[Session]:
    """One atomic unit of work that may read before it writes; commits on success."""
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("unsaved changes outside a write transaction")
        # End any read snapshot: a WAL reader cannot upgrade to a writer after others commit.
        session.rollback()
    session.connection(execution_options={_WRITE_LOCK: True})
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def in_write_transaction(session: Session, work: Callable[[Session], T], attempts: int = 3) -> T:
    """Run ``work`` atomically, retrying when a concurrent writer won a unique-index race.

    On PostgreSQL two kiosks can pick the same free locker; the partial unique index refuses
    the second insert and the retry sees the locker taken. On SQLite the write lock serialises
    them before they read, so the retry never happens there.
    """
    for attempt in range(attempts):
        try:
            with write_transaction(session):
                return work(session)
        except (IntegrityError, OperationalError) as error:
            if attempt == attempts - 1 or not _is_retryable(error):
                raise
    raise AssertionError("unreachable")


def _is_retryable(error: Exception) -> bool:
    if isinstance(error, IntegrityError):
        return True
    # PostgreSQL serialization failures and deadlocks are safe to retry.
    code = getattr(getattr(error, "orig", None), "sqlstate", None)
    return code in {"40001", "40P01"}
