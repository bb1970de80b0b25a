"""The kiosk agent's durable queue of scans not yet answered by the web app.

A scan is written here before anything else happens to it, and removed only once the web app
has given a final answer. The file is SQLite in WAL mode with ``synchronous=FULL``: ``put``
returns only after its commit is on disk, so a scan survives the agent being killed or the
power going, and is sent later, in order, with its idempotency key and original time.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    code TEXT NOT NULL,
    source TEXT NOT NULL,
    scanned_at TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class Entry:
    """One scan waiting to be sent. ``scanned_at`` is ISO 8601 in UTC."""

    id: int
    key: str
    code: str
    source: str
    scanned_at: str


class Outbox:
    """A first-in, first-out queue in one SQLite file, shared by the agent's threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection guarded by a lock: the agent's few threads take turns, and
        # autocommit mode (isolation_level=None) makes every statement its own transaction.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=15)
        self._lock = threading.Lock()
        self._closed = False
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed put survives a power cut; NORMAL could roll it back.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(SCHEMA)

    def put(self, code: str, source: str, scanned_at: datetime | None = None,
            key: str | None = None) -> Entry:
        """Queue a scan; it is on disk when this returns."""
        when = (scanned_at or datetime.now(UTC)).astimezone(UTC)
        stamp = when.isoformat(timespec="milliseconds")
        key = key or uuid.uuid4().hex
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO outbox (key, code, source, scanned_at) VALUES (?, ?, ?, ?)",
                (key, code, source, stamp))
        assert cursor.lastrowid is not None
        return Entry(cursor.lastrowid, key, code, source, stamp)

    def peek(self, limit: int = 1) -> list[Entry]:
        """The oldest ``limit`` entries, oldest first, without removing them."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, key, code, source, scanned_at FROM outbox ORDER BY id LIMIT ?",
                (limit,)).fetchall()
        return [Entry(*row) for row in rows]

    def ack(self, entry_id: int) -> None:
        """The web app has answered this entry for good: forget it."""
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE id = ?", (entry_id,))

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self)} waiting"
        return f"<Outbox {str(self.path)!r} {state}>"
