"""Encrypted backups of a SQLite register, and restoring one (``flask --app kiosk backup`` and
``restore``). PostgreSQL is backed up with its own tools (``pg_dump``: the README says how).

The last backup made is recorded in the settings (``last_backup``) with an audit entry, so
the status page can say how old it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from register import settings

LAST_BACKUP = "last_backup"  # settings key: JSON {"at": ISO time, "path": ..., "bytes": ...}


@dataclass(frozen=True)
class LastBackup:
    """The last backup this server made: when, where, how big."""

    at: datetime
    path: str
    size_bytes: int

    def age(self, now: datetime) -> timedelta:
        return now - self.at


def last_backup(session: Session) -> LastBackup | None:
    """The last backup recorded, or None if none was ever made (or the record is unreadable)."""
    stored = settings.get(session, LAST_BACKUP)
    if not stored:
        return None
    try:
        record = json.loads(stored)
        return LastBackup(datetime.fromisoformat(record["at"]), str(record["path"]),
                          int(record["bytes"]))
    except (ValueError, KeyError, TypeError):
        return None
