"""The bare baselines: a minimal Flask app whose POST does one durable insert.

Two backends, one app: SQLite (WAL, synchronous=FULL, as the product sets it) when
``BENCH_BASELINE_DB`` names a file, PostgreSQL through psycopg (one INSERT committed per
request) when ``BENCH_BASELINE_PG`` holds a URL. Served by gunicorn with the same settings as
the product, so the ratios isolate what the product adds (auth, ORM, locker choice, several
queries) over the floor of Flask + one committed write.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from typing import Any

from flask import Flask, jsonify, request

DB_ENV = "BENCH_BASELINE_DB"
PG_ENV = "BENCH_BASELINE_PG"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS scans (id INTEGER PRIMARY KEY, code TEXT NOT NULL, at TEXT)",
    "CREATE INDEX IF NOT EXISTS scans_code ON scans (code)",
)
_PG_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS scans (id BIGSERIAL PRIMARY KEY, code TEXT NOT NULL, "
    "at TIMESTAMPTZ)",
    "CREATE INDEX IF NOT EXISTS scans_code ON scans (code)",
)
_connections: dict[int, Any] = {}


def connect(path: str) -> sqlite3.Connection:
    """Autocommit connection with the product's durability settings: each INSERT is a commit."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("PRAGMA busy_timeout=15000")
    return connection


def connect_pg(url: str) -> Any:
    """A plain psycopg connection; the app commits after each INSERT."""
    import psycopg  # only the PostgreSQL baseline needs it

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))


def init_db(path: str) -> None:
    """Create the table before gunicorn starts, so workers never race to do it."""
    connection = connect(path)
    for statement in _SCHEMA:
        connection.execute(statement)
    connection.close()


def init_pg(url: str) -> None:
    with connect_pg(url) as connection:  # commits on leaving the block
        for statement in _PG_SCHEMA:
            connection.execute(statement)


def _pg() -> bool:
    return PG_ENV in os.environ


def _connection() -> Any:
    # One connection per worker process, opened after the fork (never inherit one across it).
    pid = os.getpid()
    if pid not in _connections:
        _connections[pid] = connect_pg(os.environ[PG_ENV]) if _pg() else connect(
            os.environ[DB_ENV])
    return _connections[pid]


def _code() -> str | None:
    payload = request.get_json(silent=True)
    code = payload.get("code") if isinstance(payload, dict) else None
    return code if isinstance(code, str) else None


def _insert(code: str) -> int:
    connection = _connection()
    if _pg():
        row = connection.execute("INSERT INTO scans (code, at) VALUES (%s, %s) RETURNING id",
                                 (code, datetime.now(UTC))).fetchone()
        connection.commit()
        return int(row[0])
    cursor = connection.execute(
        "INSERT INTO scans (code, at) VALUES (?, ?)", (code, datetime.now(UTC).isoformat()))
    return int(cursor.lastrowid)


def _lookup(code: str | None) -> Any:
    connection = _connection()
    if _pg():
        row = connection.execute("SELECT id FROM scans WHERE code = %s", (code,)).fetchone()
        connection.rollback()  # end the read's transaction, as autocommit SQLite does
        return row
    return connection.execute("SELECT id FROM scans WHERE code = ?", (code,)).fetchone()


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/scan")
    def scan() -> Any:
        code = _code()
        if code is None:
            return jsonify(outcome="refused"), 400
        return jsonify(outcome="recorded", id=_insert(code))

    @app.post("/lookup")
    def lookup() -> Any:
        # The baseline for the product's 404 path: one indexed read that finds nothing.
        row = _lookup(_code())
        if row is None:
            return jsonify(outcome="refused", reason="unknown"), 404
        return jsonify(outcome="found", id=row[0])

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    return app
