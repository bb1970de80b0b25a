"""The demo school the product is measured on, set up with the product's own CLI."""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.servers import ROOT
from kiosk.config import database_url

FLASK = ROOT / ".venv" / "bin" / "flask"
# Reception's lockers are all shared (the demo's fixed lockers are in the staff room), so
# the bench can keep as many phones in flight as there are lockers.
KIOSK_NAME = "Reception kiosk"
_PAIRING = re.compile(r"Kiosk \((?P<name>[^)]+)\):\s+\S*[?&]token=(?P<token>[\w-]+)")

_USABLE_LOCKERS = text("""
    SELECT COUNT(*) FROM lockers l JOIN kiosks k ON k.bank_id = l.bank_id
    WHERE k.name = :kiosk AND NOT l.out_of_service AND l.id NOT IN (
        SELECT fixed_locker_id FROM people WHERE fixed_locker_id IS NOT NULL AND active)
""")
_LABEL_CODES = text("""
    SELECT d.label_code FROM devices d JOIN people p ON p.id = d.owner_id
    WHERE d.retired_at IS NULL AND p.active ORDER BY d.id LIMIT :limit
""")
_LEDGER = text("""
    SELECT COUNT(*), COUNT(collected_at), COUNT(*) - COUNT(collected_at) FROM deposits
""")


@dataclass(frozen=True)
class DemoSchool:
    url: str  # DATABASE_URL, as the product reads it
    token: str
    codes: list[str]  # phone labels: each scan deposits or collects one


@dataclass(frozen=True)
class Ledger:
    deposits: int
    collected: int
    open: int
    integrity: str  # SQLite's integrity_check verdict, or "n/a"


def seed(url: str, env: dict[str, str]) -> DemoSchool:
    """init-db and seed-demo, exactly as ``make run`` does, then read back a token and labels."""
    run_env = {**env, "DATABASE_URL": url}
    _flask(run_env, "init-db")
    tokens = dict(
        (m["name"], m["token"])
        for m in _PAIRING.finditer(_flask(run_env, "seed-demo", "--base-url", "http://127.0.0.1"))
    )
    return DemoSchool(url, tokens[KIOSK_NAME], _label_codes(url))


def _flask(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(FLASK), "--app", "kiosk", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    return done.stdout


def _label_codes(url: str) -> list[str]:
    # No more phones than usable lockers: otherwise deposits run out with "no free locker".
    engine = create_engine(database_url(url))
    try:
        with engine.connect() as connection:
            lockers = connection.scalar(_USABLE_LOCKERS, {"kiosk": KIOSK_NAME}) or 0
            return list(connection.scalars(_LABEL_CODES, {"limit": lockers}))
    finally:
        engine.dispose()


def ledger(url: str) -> Ledger:
    """What the database holds after the run, to check every acknowledged scan was written."""
    engine = create_engine(database_url(url))
    try:
        with engine.connect() as connection:
            deposits, collected, still_open = connection.execute(_LEDGER).one()
            integrity = "n/a"
            if engine.dialect.name == "sqlite":
                integrity = connection.scalar(text("PRAGMA integrity_check"))
    finally:
        engine.dispose()
    return Ledger(deposits, collected, still_open, str(integrity))


@contextmanager
def throwaway_postgres(server_url: str) -> Iterator[str]:
    """A new, empty database on the server for one run, dropped afterwards."""
    server = make_url(database_url(server_url))
    name = f"kiosk_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
