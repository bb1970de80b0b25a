"""Database URLs, engine settings, and the one transaction policy: units of work.

Every use case runs inside one unit of work that its caller (a view, a CLI command, the agent
API) opens: ``with unit_of_work(session):`` commits on success and rolls back on error;
``with read_only(session):`` ends with a rollback and refuses any write. Helpers and use cases
never commit or roll back. On SQLite a writing unit of work begins ``BEGIN IMMEDIATE``, so it
waits for the write lock before it reads anything it will act on; PostgreSQL gets the same
effect from the row locks the use cases take (``lock``).
"""

from __future__ import annotations

import fcntl
import functools
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Delete,
    Engine,
    Executable,
    Insert,
    Result,
    Select,
    bindparam,
    event,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, QueryableAttribute, Session

SQLITE_BUSY_TIMEOUT_MS = 15_000
_MODE = "register_unit_of_work"  # execution option and connection.info key
READ, WRITE, UNDECLARED = "read", "write", "undeclared"
_WRITES = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


class TransactionPolicyError(RuntimeError):
    """A write where none was declared: a bug in the caller, never a user's mistake."""


def database_url(url: str) -> str:
    """Accept the usual ``postgresql://`` form and use the psycopg 3 driver for it."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def configure_engine(engine: Engine) -> None:
    """Per-connection settings and the write guard; call once per engine, before it connects."""
    if getattr(engine, "_register_configured", False):
        return
    engine._register_configured = True  # type: ignore[attr-defined]
    sqlite = engine.dialect.name == "sqlite"

    if sqlite:
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, decide when transactions begin (see _begin).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            # Free pages go back to the filesystem on an incremental vacuum after a large purge.
            # Set before journal_mode: switching a new file to WAL writes its first page, after
            # which only a full VACUUM converts it (register/purge.py does, once).
            cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
            cursor.execute("PRAGMA journal_mode=WAL")
            # FULL: a scan acknowledged to the kiosk survives a power cut (NORMAL may lose it).
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            # A deleted name or IMEI is overwritten with zeros, not left in a free page
            # (erasure and the retention purge; register/purge.py checkpoints the WAL after).
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(_MODE)
        connection.info[_MODE] = mode
        if sqlite:
            # A deferred transaction that reads, then writes, fails at once with "database is
            # locked" if another writer got in between; IMMEDIATE waits on busy_timeout.
            connection.exec_driver_sql("BEGIN IMMEDIATE" if mode == WRITE else "BEGIN")

    @event.listens_for(engine, "before_cursor_execute")
    def _guard_writes(connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        mode = connection.info.get(_MODE)
        if mode in (READ, UNDECLARED) and _WRITES.match(statement):
            raise TransactionPolicyError(
                f"a write in a {mode} transaction: open it with unit_of_work(): "
                f"{statement.split(None, 3)[:3]}")


def declare_units_of_work(session_class: type[Session]) -> None:
    """Sessions of this class may write only inside ``unit_of_work`` (the web app's)."""

    @event.listens_for(session_class, "after_begin")
    def _undeclared(_session: Session, _transaction: Any, connection: Any) -> None:
        if connection.info.get(_MODE) is None:
            connection.info[_MODE] = UNDECLARED


def _begin(session: Session, mode: str) -> None:
    if session.info.get(_MODE):
        raise TransactionPolicyError("units of work do not nest: the caller opens one")
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise TransactionPolicyError("unsaved changes outside a unit of work")
        # End an implicit read (a page's sign-in check): a WAL reader cannot become a writer
        # once others have committed, and a unit of work must see what is committed now.
        session.rollback()
    session.connection(execution_options={_MODE: mode})
    session.info[_MODE] = mode


@contextmanager
def unit_of_work(session: Session) -> Iterator[Session]:
    """One atomic use case that may write: commits on success, rolls back on any error."""
    with _writers_queue(session):
        _begin(session, WRITE)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.info.pop(_MODE, None)


@contextmanager
def _writers_queue(session: Session) -> Iterator[None]:
    """On a SQLite file, writers take turns on a kernel file lock before BEGIN IMMEDIATE.

    SQLite's own busy handler polls: a writer that finds the lock taken sleeps 1, 2, 5, 10...
    ms and tries again, so under load the lock sits free while workers sleep (the scan
    benchmark's tail). ``flock`` wakes the next writer the moment the last one is done. Each
    unit of work opens its own descriptor, so threads queue as processes do.
    """
    path = _sqlite_file(session)
    try:
        descriptor = None if path is None else os.open(f"{path}-writers",
                                                       os.O_RDWR | os.O_CREAT, 0o660)
    except OSError:  # made by another user (root running a command): SQLite still serialises
        descriptor = None
    if descriptor is None:
        yield
        return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _sqlite_file(session: Session) -> str | None:
    url = session.get_bind().engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return url.database


@contextmanager
def read_only(session: Session) -> Iterator[Session]:
    """A use case that only reads: one consistent snapshot, ended when the block ends."""
    _begin(session, READ)
    try:
        yield session
        if session.new or session.dirty or session.deleted:
            raise TransactionPolicyError("a read-only unit of work changed something")
    finally:
        session.rollback()
        session.info.pop(_MODE, None)


def insert_unless_present(session: Session, model: type[DeclarativeBase],
                          values: dict[str, Any], conflict: tuple[str, ...],
                          where: ColumnElement[bool] | None = None,
                          returning: QueryableAttribute[Any] | None = None) -> Result[Any]:
    """``INSERT ... ON CONFLICT (conflict) [WHERE where] DO NOTHING`` on either database: the
    unique index decides, in one statement, whether the row was already there. The statement
    is built once per database and shape."""
    statement = _insert_unless_present(session.get_bind().dialect.name, model, tuple(values),
                                       conflict, where, returning)
    return execute(session, statement,
                   {f"new_{name}": value for name, value in values.items()})


def execute(session: Session, statement: Executable, params: dict[str, Any] | None = None,
            ) -> Result[Any]:
    """Run a Core statement (no ORM entities) on the unit of work's connection. Through the
    session the ORM's per-statement bookkeeping costs about three times the statement itself
    (bench/RESULTS.md); here it is skipped. Pending ORM changes are not flushed first."""
    return session.connection().execute(statement, params)


def deleted(session: Session, statement: Delete) -> int:
    """Run a DELETE like ``execute``; how many rows it removed."""
    return int(session.connection().execute(statement).rowcount)


@functools.cache
def _insert_unless_present(dialect_name: str, model: type[DeclarativeBase],
                           columns: tuple[str, ...], conflict: tuple[str, ...],
                           where: ColumnElement[bool] | None,
                           returning: QueryableAttribute[Any] | None) -> Insert:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = (dialect.insert(model).values({name: bindparam(f"new_{name}") for name in columns})
                 .on_conflict_do_nothing(index_elements=list(conflict), index_where=where))
    built: Insert = statement if returning is None else statement.returning(returning)
    return built


def lock(session: Session, query: Select[Any], params: dict[str, Any] | None = None) -> None:
    """Take PostgreSQL row locks (``query`` has ``with_for_update``): concurrent use cases on
    the same rows queue here. SQLite's write lock already serialises writers: nothing to run."""
    if session.get_bind().dialect.name != "sqlite":
        execute(session, query, params)
