"""The bare baseline: a minimal Flask app whose POST does one durable SQLite insert.

Served by gunicorn with the same settings as the product, so the ratios isolate what the
product adds (auth, ORM, locker choice, several queries) over the floor of Flask + an fsync.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from typing import Any

from flask import Flask, jsonify, request

DB_ENV = "BENCH_BASELINE_DB"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS scans (id INTEGER PRIMARY KEY, code TEXT NOT NULL, at TEXT)",
    "CREATE INDEX IF NOT EXISTS scans_code ON scans (code)",
)
_connections: dict[int, sqlite3.Connection] = {}


def connect(path: str) -> sqlite3.Connection:
    """Autocommit connection with the product's durability settings: each INSERT is a commit."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("PRAGMA busy_timeout=15000")
    return connection


def init_db(path: str) -> None:
    """Create the table before gunicorn starts, so workers never race to do it."""
    connection = connect(path)
    for statement in _SCHEMA:
        connection.execute(statement)
    connection.close()


def _connection() -> sqlite3.Connection:
    # One connection per worker process, opened after the fork (never inherit one across it).
    pid = os.getpid()
    if pid not in _connections:
        _connections[pid] = connect(os.environ[DB_ENV])
    return _connections[pid]


def _code() -> str | None:
    payload = request.get_json(silent=True)
    code = payload.get("code") if isinstance(payload, dict) else None
    return code if isinstance(code, str) else None


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/scan")
    def scan() -> Any:
        code = _code()
        if code is None:
            return jsonify(outcome="refused"), 400
        cursor = _connection().execute(
            "INSERT INTO scans (code, at) VALUES (?, ?)", (code, datetime.now(UTC).isoformat())
        )
        return jsonify(outcome="recorded", id=cursor.lastrowid)

    @app.post("/lookup")
    def lookup() -> Any:
        # The baseline for the product's 404 path: one indexed read that finds nothing.
        row = _connection().execute("SELECT id FROM scans WHERE code = ?", (_code(),)).fetchone()
        if row is None:
            return jsonify(outcome="refused", reason="unknown"), 404
        return jsonify(outcome="found", id=row[0])

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    return app
