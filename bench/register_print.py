"""``python -m bench.register_print``: the printed register of a big school, cold and warm.

It builds bench/big_school.py's school (2,000 people, 2,500 phones, a year of deposits) in a
temporary SQLite database, or with ``--postgres URL`` in a throwaway PostgreSQL database,
then starts fresh processes, each of which creates the app, signs the office in (a session
cookie: no password hash in the figures) and asks, through Flask's test client:

1. ``/print/register`` once (cold: the process's first request, templates not yet compiled,
   nothing cached in memory), timed to the last byte;
2. the same page again, three times (warm: the median);
3. ``/print/register.pdf``;

then reports its peak resident memory (VmHWM, what a web worker's would be after serving
both). The first process starts with an empty QR store (the first print after an
upgrade: every QR code is made, once); the next ``--runs`` start with the store that one left,
as every later worker does, and their medians are the figures. A bare Flask app in the same
kind of fresh process renders a plain table of the same rows (no QR codes, no layout) and a
plain ReportLab listing of them: the baseline the ratios are taken against, on the same
machine in the same run. Trust the ratios over the absolutes on a busy machine. Timing is
printed beside the goals, never turned into an exit status.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GOALS = {"cold_s": 1.0, "pdf_s": 5.0, "peak_mib": 100.0}
WARM_REPEATS = 3
ROWS = """
    SELECT p.name, p.category, d.make, d.model, d.imei, d.imei2, d.label_code, d.registered_at
    FROM people p LEFT JOIN devices d ON d.owner_id = p.id AND d.retired_at IS NULL
    WHERE p.active ORDER BY p.category, p.name, d.id
"""
TABLE = """<!doctype html><title>Register</title><table>
{% for r in rows %}<tr>{% for cell in r %}<td>{{ cell or "" }}</td>{% endfor %}</tr>
{% endfor %}</table>"""


# --- inside a fresh process ----------------------------------------------------------------

def _peak_mib() -> float:
    """This process's peak resident memory. VmHWM rather than ``ru_maxrss``, which on Linux
    keeps the parent's high-water mark across fork and exec: this process's own figure."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:  # not Linux: ru_maxrss, in KiB on Linux and bytes on macOS
        scale = 1024 * 1024 if sys.platform == "darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(kib) / 1024


def _timed(client: Any, path: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    response = client.get(path)
    body = response.get_data()  # a streamed page is rendered while it is read
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"{path} answered {response.status_code}")
    return elapsed, body


def _measure(client: Any, page: str, pdf: str, profile: bool) -> dict[str, Any]:
    figures: dict[str, Any] = {"start_mib": _peak_mib()}
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    figures["cold_s"], body = _timed(client, page)
    if profiler:
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(18)
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(8)
        figures["profile"] = out.getvalue()
    figures["html_bytes"] = len(body)
    figures["warm_s"] = statistics.median(_timed(client, page)[0] for _ in range(WARM_REPEATS))
    figures["pdf_s"], body = _timed(client, pdf)
    figures["pdf_bytes"] = len(body)
    figures["peak_mib"] = _peak_mib()
    return figures


def product_worker(database: str, qr_dir: Path, profile: bool) -> dict[str, Any]:
    from sqlalchemy import select

    from kiosk import create_app, printing, qr
    from kiosk.extensions import db
    from register.models import User

    app = create_app({"SQLALCHEMY_DATABASE_URI": database, "KIOSK_ENV": "demo",
                      "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False})
    if hasattr(qr, "QrStore"):  # not in the code before issue 8: --code on an old checkout
        app.extensions["qr_codes"] = qr.QrStore(qr_dir / printing.QR_FILE)
    with app.app_context():
        office = db.session.scalar(select(User).where(User.username == "office"))
        cookie = _signed_in(office)
    client = app.test_client()
    with client.session_transaction() as session:
        session.update(cookie)
    return {**_measure(client, "/print/register", "/print/register.pdf", profile),
            "qr_store": hasattr(qr, "QrStore")}


def _signed_in(user: Any) -> dict[str, Any]:
    """What the browser's cookie holds once ``user`` has signed in: since issue 9 a session
    kept on the server (its token), before it the user's id."""
    from kiosk import auth

    if not hasattr(auth, "SESSION_KEY"):  # --code on a checkout from before issue 9
        return {"user_id": user.id}
    from kiosk.extensions import db
    from register import sessions
    from register.db import unit_of_work
    from register.models import utc_now

    with unit_of_work(db.session()) as transaction:
        token = sessions.start(transaction, transaction.merge(user), "", utc_now())
    return {auth.SESSION_KEY: token}


def baseline_worker(database: str, profile: bool) -> dict[str, Any]:
    from flask import Flask, Response, render_template_string
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas
    from sqlalchemy import create_engine, text

    # The product's URL rule (kiosk.config.database_url), without importing the product.
    engine = create_engine(database.replace("postgresql://", "postgresql+psycopg://", 1))
    app = Flask(__name__)

    def rows() -> list[Any]:
        with engine.connect() as connection:
            return list(connection.execute(text(ROWS)))

    @app.route("/table")
    def table() -> str:
        return render_template_string(TABLE, rows=rows())

    @app.route("/table.pdf")
    def table_pdf() -> Response:
        buffer = io.BytesIO()
        canvas = Canvas(buffer, pagesize=A4)
        y = 800.0
        for row in rows():
            canvas.drawString(30, y, " ".join(str(cell or "") for cell in row))
            y -= 12
            if y < 40:
                canvas.showPage()
                y = 800.0
        canvas.save()
        return Response(buffer.getvalue(), mimetype="application/pdf")

    return _measure(app.test_client(), "/table", "/table.pdf", profile)


# --- the run -------------------------------------------------------------------------------

def _worker(kind: str, database: str, qr_dir: Path, code: Path, profile: bool) -> dict[str, Any]:
    """One measurement in a fresh interpreter, importing the product from ``code``."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--database", database,
         "--qr-dir", str(qr_dir), *(["--profile"] if profile else [])],
        cwd=code, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{kind} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextmanager
def _school(args: argparse.Namespace, folder: Path) -> Iterator[tuple[str, dict[str, int]]]:
    from bench import big_school

    if args.database:  # already built: measure only
        yield args.database, {}
        return
    if args.postgres:
        from bench.school import throwaway_postgres

        with throwaway_postgres(args.postgres) as url:
            built = big_school.build(url, args.people, args.phones, args.days)
            yield url, built.counts
        return
    url = f"sqlite:///{folder / 'big-school.sqlite3'}"
    built = big_school.build(url, args.people, args.phones, args.days)
    yield url, built.counts


def _median(results: list[dict[str, Any]], key: str) -> float:
    return statistics.median(float(r[key]) for r in results)


def report(first: dict[str, Any], runs: list[dict[str, Any]], base: list[dict[str, Any]]) -> None:
    rows = [
        ("first request, cold (s)", "cold_s", "{:.2f}", "< 1 s"),
        ("warm request (s)", "warm_s", "{:.2f}", ""),
        ("HTML (MB)", "html_bytes", "{:.2f}", ""),
        ("PDF (s)", "pdf_s", "{:.2f}", "< 5 s"),
        ("PDF (MB)", "pdf_bytes", "{:.2f}", ""),
        ("peak RSS at start (MiB)", "start_mib", "{:.1f}", ""),
        ("peak RSS after both (MiB)", "peak_mib", "{:.1f}", "< 100 MiB"),
    ]
    print(f"\n{'':<28}{'product':>10}{'baseline':>10}{'ratio':>8}  goal")
    for title, key, fmt, goal in rows:
        scale = 1e6 if key.endswith("_bytes") else 1
        ours, bare = _median(runs, key) / scale, _median(base, key) / scale
        verdict = ""
        if key in GOALS:
            verdict = " (met)" if ours < GOALS[key] else " (missed)"
        print(f"{title:<28}{fmt.format(ours):>10}{fmt.format(bare):>10}"
              f"{ours / bare if bare else 0:>7.1f}x  {goal}{verdict}")
    what = ("with an empty QR store (every code made once, then kept)" if first["qr_store"]
            else "(this code keeps no QR store: every process makes every code)")
    print(f"\nFirst process {what}: cold {first['cold_s']:.2f} s, PDF {first['pdf_s']:.2f} s, "
          f"peak RSS {first['peak_mib']:.0f} MiB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.register_print",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", metavar="URL",
                        help="build the school in a throwaway database on this server")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per target")
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--phones", type=int, default=2500)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--profile", action="store_true",
                        help="print cProfile's top entries for one cold page")
    parser.add_argument("--code", type=Path, default=ROOT,
                        help="the checkout whose product is measured (e.g. a worktree of an "
                             "older commit, for a before figure)")
    parser.add_argument("--database", help="a school already built: skip building one")
    parser.add_argument("--worker", choices=("product", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--qr-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        figures = (product_worker(args.database, args.qr_dir, args.profile)
                   if args.worker == "product" else baseline_worker(args.database, args.profile))
        print(json.dumps(figures))
        return

    code = args.code.resolve()
    with tempfile.TemporaryDirectory(prefix="register-print-") as folder:
        started = time.perf_counter()
        with _school(args, Path(folder)) as (url, counts):
            built = time.perf_counter() - started
            engine = "PostgreSQL" if url.startswith("postgres") else "SQLite"
            facts = ", ".join(f"{n:,} {name.replace('_', ' ')}" for name, n in counts.items())
            print(f"Register page, PDF and memory on {engine}: {facts or url} "
                  f"(built in {built:.0f} s)")
            print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
                  f"{platform.machine()}; product from {code}; each figure the median of "
                  f"{args.runs} fresh processes; baseline: a bare Flask table of the same rows")
            qr_dir = Path(folder) / "qr"
            qr_dir.mkdir()
            first = _worker("product", url, qr_dir, code, False)
            runs = [_worker("product", url, qr_dir, code, args.profile and n == 0)
                    for n in range(args.runs)]
            base = [_worker("baseline", url, qr_dir, ROOT, False) for _ in range(args.runs)]
        report(first, runs, base)
        if args.profile:
            print("\ncProfile, one cold /print/register (a later process):")
            print(runs[0]["profile"])


if __name__ == "__main__":
    main()
