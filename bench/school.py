"""The demo school the product is measured on, set up with the product's own CLI."""

from __future__ import annotations

import cProfile
import io
import pstats
import sqlite3
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.load import scan_body
from bench.servers import ROOT
from kiosk.config import database_url

FLASK = ROOT / ".venv" / "bin" / "flask"
# Reception's lockers are all shared (the demo's fixed lockers are in the staff room), so
# the bench can keep as many phones in flight as there are lockers.
KIOSK_NAME = "Reception kiosk"

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


SIZES = ("big", "demo")
# bench/big_school.py: 2,000 people, 2,500 phones, a year of history (about 250,000 events),
# so that the figures hold for a school that has used the product for a year.
DEFAULT_SIZE = "big"


@dataclass(frozen=True)
class DemoSchool:
    url: str  # DATABASE_URL, as the product reads it
    token: str
    codes: list[str]  # phone labels: each scan deposits or collects one
    description: str = "the demo school (seed-demo)"


@dataclass(frozen=True)
class Ledger:
    deposits: int
    collected: int
    open: int
    integrity: str  # SQLite's integrity_check verdict, or "n/a"


@dataclass(frozen=True)
class StatementCount:
    outcome: str  # what the scan did: deposited, collected, ...
    status: int
    statements: int
    kinds: dict[str, int]  # by first keyword: SELECT, INSERT, BEGIN, ...


def seed(url: str, env: dict[str, str], size: str = DEFAULT_SIZE) -> DemoSchool:
    """The demo school (init-db and seed-demo, exactly as ``make run`` does) or the big one
    (bench/big_school.py), then read back Reception's kiosk token and phone labels."""
    if size == "big":
        from bench import big_school  # imports the product: only when asked for

        built = big_school.build(url)
        _without_rescan_guard(url)
        facts = ", ".join(f"{n:,} {name.replace('_', ' ')}" for name, n in built.counts.items())
        return DemoSchool(url, built.tokens[KIOSK_NAME], _label_codes(url),
                          f"bench/big_school.py ({facts})")
    run_env = {**env, "DATABASE_URL": url}
    _flask(run_env, "init-db")
    _flask(run_env, "seed-demo", "--base-url", "http://127.0.0.1")
    # seed-demo pairs screens by one-time code and prints no agent token: a kiosk of the
    # bench's own at Reception's bank gets one (the labels are Reception's phones).
    with tempfile.TemporaryDirectory() as folder:
        token_file = Path(folder) / "token"
        _flask(run_env, "create-kiosk", "Bench kiosk", "--bank", "Reception", "--token-file",
               str(token_file))
        token = token_file.read_text().strip()
    _without_rescan_guard(url)
    return DemoSchool(url, token, _label_codes(url))


def _without_rescan_guard(url: str) -> None:
    """The load scans Reception's phones back to back, each again within a minute of its last
    scan: the kiosk's second-scan guard (register.settings.RESCAN_GUARD_SECONDS, 60 s) would
    answer most of them "already deposited" without a write. Off, every scan deposits or
    collects, as the figures below have always measured."""
    engine = create_engine(database_url(url))
    try:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM settings WHERE key = 'rescan_guard_seconds'"))
            connection.execute(text(
                "INSERT INTO settings (key, value) VALUES ('rescan_guard_seconds', '0')"))
    finally:
        engine.dispose()


def _flask(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(FLASK), "--app", "kiosk", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stderr[-2000:]}")
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


def postgres_durability(url: str) -> str:
    """The server's fsync and synchronous_commit: a commit's cost depends on both."""
    engine = create_engine(database_url(url))
    try:
        with engine.connect() as connection:
            fsync = connection.scalar(text("SHOW fsync"))
            synchronous = connection.scalar(text("SHOW synchronous_commit"))
    finally:
        engine.dispose()
    return f"fsync={fsync}, synchronous_commit={synchronous}"


def copy_sqlite(url: str, path: str) -> str:
    """A consistent copy of a seeded SQLite school (the backup API), as a new URL."""
    source = sqlite3.connect(make_url(url).database or "")
    target = sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return f"sqlite:///{path}"


# In-process: the app itself, through Flask's test client, without gunicorn or HTTP.

def _app(url: str) -> Flask:
    from kiosk import create_app  # the product, imported only where it runs in this process

    return create_app({"KIOSK_ENV": "demo", "SQLALCHEMY_DATABASE_URI": database_url(url)})


def count_statements(url: str, token: str, code: str, path: str,
                     payload: str = "agent") -> list[StatementCount]:
    """SQL statements one scan of ``code`` executes, twice (a deposit, then a collect, or the
    other way round), counted with SQLAlchemy's ``before_cursor_execute`` on db.engine. Counts
    what SQLAlchemy sends, BEGIN included; a COMMIT is the driver's call and not counted."""
    from sqlalchemy import event

    from kiosk.extensions import db

    app = _app(url)
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def _count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    client.get("/healthz")  # connect first: the connection's PRAGMAs are not the scan's
    event.listen(engine, "before_cursor_execute", _count)
    counts = []
    try:
        for _ in range(2):
            seen.clear()
            response = client.post(path, json=scan_body(code, payload), headers=headers)
            body = response.get_json(silent=True) or {}
            kinds = Counter(statement.split(None, 1)[0].upper() for statement in seen)
            counts.append(StatementCount(str(body.get("outcome")), response.status_code,
                                         len(seen), dict(kinds.most_common())))
    finally:
        event.remove(engine, "before_cursor_execute", _count)
        with app.app_context():
            db.engine.dispose()
    return counts


def profile_scans(url: str, token: str, codes: list[str], scans: int, path: str,
                  payload: str = "agent", top: int = 30) -> str:
    """cProfile of ``scans`` scans through the test client (each deposits or collects one
    phone, cycling over ``codes``): the top entries by cumulative and by own time."""
    app = _app(url)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    outcomes: Counter[str] = Counter()
    for code in codes[:20]:  # warm: imports, first connection, template and query caches
        client.post(path, json=scan_body(code, payload), headers=headers)
    began = time.perf_counter()
    for n in range(scans):  # unprofiled, for the time a scan really takes in-process
        client.post(path, json=scan_body(codes[n % len(codes)], payload), headers=headers)
    plain_ms = (time.perf_counter() - began) * 1000 / scans
    profiler = cProfile.Profile()
    profiler.enable()
    for n in range(scans):
        response = client.post(path, json=scan_body(codes[n % len(codes)], payload),
                               headers=headers)
        body = response.get_json(silent=True) or {}
        outcomes[f"{response.status_code} {body.get('outcome')}"] += 1
    profiler.disable()
    out = io.StringIO()
    out.write(f"{scans} scans in-process (test client), outcomes {dict(outcomes)}; "
              f"{plain_ms:.2f} ms a scan without the profiler\n")
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    out.write("The product's own functions (kiosk/, register/) by cumulative time:\n")
    stats.sort_stats("cumulative").print_stats(r"/(kiosk|register)/", top)
    return out.getvalue()
