"""``make bench``: the scan path under concurrent load, product against a bare baseline.

One run seeds a demo school in a temporary SQLite database (and, with ``--postgres``, in a
throwaway PostgreSQL database), serves the product and a bare Flask app under the same
gunicorn settings, drives them with the same load from a separate process, and prints the
figures with their ratios to the baseline. Errors under load are printed as findings and make
the exit status 1; timing never does.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from bench import baseline, report, school
from bench.load import Phase, Summary
from bench.report import TargetResult
from bench.servers import ROOT, WORKERS, Server, clean_env, gunicorn, peak_rss_kib, trouble_in_log

SCAN_PATH = "/api/v1/scan"
UNKNOWN_CODE = "PHNOSUCH"  # shaped like a label, on no phone, badge or IMEI: the 404 path


@dataclass(frozen=True)
class Target:
    server: Server
    scan: Phase
    unknown: Phase
    database_url: str | None = None  # the product's, to check what it stored


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument("--seconds", type=float, default=8.0, help="scan load per target")
    parser.add_argument("--unknown-seconds", type=float, default=3.0,
                        help="unknown-code (404) load per target")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured, per target")
    parser.add_argument("--rounds", type=int, default=4,
                        help="slices each phase is cut into, alternating between targets")
    parser.add_argument("--postgres", metavar="URL",
                        help="also run the product on a throwaway database on this server, "
                             "e.g. postgresql://postgres@127.0.0.1:5432/test")
    return parser.parse_args(argv)


def product(stack: ExitStack, name: str, demo: school.DemoSchool, workdir: Path,
            args: argparse.Namespace) -> Target:
    log = workdir / f"{name.replace('/', '-')}.log"
    env = clean_env(DATABASE_URL=demo.url)
    server = stack.enter_context(gunicorn(name, "kiosk:create_app()", env, log))
    scan = Phase(name, server.port, "scan", SCAN_PATH, demo.codes, args.seconds, 200, demo.token)
    unknown = replace(scan, name="404", codes=[UNKNOWN_CODE], seconds=args.unknown_seconds,
                      expect=404)
    return Target(server, scan, unknown, demo.url)


def bare_baseline(stack: ExitStack, workdir: Path, args: argparse.Namespace,
                  codes: list[str]) -> Target:
    path = str(workdir / "baseline.sqlite3")
    baseline.init_db(path)
    env = clean_env(**{baseline.DB_ENV: path})
    server = stack.enter_context(
        gunicorn("baseline", "bench.baseline:create_app()", env, workdir / "baseline.log"))
    scan = Phase("baseline", server.port, "scan", "/scan", codes, args.seconds, 200)
    unknown = Phase("baseline", server.port, "404", "/lookup", [UNKNOWN_CODE],
                    args.unknown_seconds, 404)
    return Target(server, scan, unknown)


def schedule(targets: list[Target], args: argparse.Namespace) -> list[Phase]:
    """Warm every target up, then alternate short slices (A B B A ...) so that drift in the
    machine's other load lands on every target alike."""
    plan = [replace(t.scan, name="warm-up", seconds=args.warmup) for t in targets]
    for phase in ("scan", "404"):
        for round_ in range(args.rounds):
            order = targets if round_ % 2 == 0 else targets[::-1]
            for target in order:
                whole = target.scan if phase == "scan" else target.unknown
                plan.append(replace(whole, seconds=whole.seconds / args.rounds))
    return plan


def drive(clients: int, plan: list[Phase]) -> dict[tuple[str, str], Summary]:
    """Run the plan from a separate load process; its summaries by (target, phase)."""
    request = {"clients": clients, "phases": [asdict(phase) for phase in plan]}
    done = subprocess.run([sys.executable, "-m", "bench.load"], cwd=ROOT,
                          input=json.dumps(request), capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the load process failed:\n{done.stderr}")
    summaries = [Summary(**summary) for summary in json.loads(done.stdout)]
    return {(s.target, s.name): s for s in summaries}


def measure(targets: list[Target], args: argparse.Namespace) -> list[TargetResult]:
    before = {t.server.name: school.ledger(t.database_url) for t in targets if t.database_url}
    summaries = drive(args.clients, schedule(targets, args))
    results = []
    for target in targets:
        name = target.server.name
        results.append(TargetResult(
            name, summaries[name, "scan"], summaries[name, "404"], summaries[name, "warm-up"],
            peak_rss_kib(target.server.pid), trouble_in_log(target.server.log),
            before.get(name), school.ledger(target.database_url) if target.database_url else None,
        ))
    return results


def run(args: argparse.Namespace, workdir: Path) -> list[TargetResult]:
    """Every target up at once (an idle gunicorn costs nothing), measured in one plan."""
    env = clean_env()
    demo = school.seed(f"sqlite:///{workdir / 'x.sqlite3'}", env)
    print(preamble(args, len(demo.codes)), flush=True)
    with ExitStack() as stack:
        targets = [bare_baseline(stack, workdir, args, demo.codes),
                   product(stack, "product/sqlite", demo, workdir, args)]
        if args.postgres:
            url = stack.enter_context(school.throwaway_postgres(args.postgres))
            targets.append(product(stack, "product/postgres", school.seed(url, env), workdir,
                                   args))
        return measure(targets, args)


def findings(result: TargetResult) -> list[str]:
    found = []
    for summary in (result.warmup, result.scan, result.unknown):
        where = f"{result.name}, {summary.name} phase"
        if summary.failures:
            found.append(f"{where}: {summary.failures:,} of {summary.requests:,} requests "
                         f"failed; statuses {summary.statuses}, no response "
                         f"{summary.transport_errors}; e.g. {summary.samples}")
        server_errors = sum(n for status, n in summary.statuses.items() if int(status) >= 500)
        if server_errors:
            found.append(f"{where}: {server_errors:,} SERVER ERRORS (5xx)")
        if summary.locked:
            found.append(f"{where}: {summary.locked:,} responses say 'database is locked'")
    if result.log_trouble:
        found.append(f"{result.name}: {len(result.log_trouble)} error lines in gunicorn's log, "
                     f"first: {result.log_trouble[:3]}")
    return found + _ledger_findings(result)


def _ledger_findings(result: TargetResult) -> list[str]:
    """Every acknowledged deposit and collection must be in the database, and no more."""
    before, after = result.ledger_before, result.ledger_after
    if before is None or after is None:
        return []
    acknowledged = {"deposited": 0, "collected": 0}
    for summary in (result.warmup, result.scan):
        for outcome in acknowledged:
            acknowledged[outcome] += summary.outcomes.get(outcome, 0)
    stored = {"deposited": after.deposits - before.deposits,
              "collected": after.collected - before.collected}
    found = []
    if stored != acknowledged:
        found.append(f"{result.name}: acknowledged {acknowledged} but the database holds {stored}")
    if after.integrity not in ("ok", "n/a"):
        found.append(f"{result.name}: PRAGMA integrity_check says {after.integrity!r}")
    return found


def preamble(args: argparse.Namespace, codes: int) -> str:
    return (
        f"Scan-path benchmark: gunicorn --workers {WORKERS} (sync), {args.clients} clients "
        f"from a separate process; per target {args.warmup:g} s warm-up, {args.seconds:g} s "
        f"of scans, {args.unknown_seconds:g} s of unknown codes, in {args.rounds} interleaved "
        f"slices.\n{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}. Scans cycle over {codes} demo phone labels at "
        f"{school.KIOSK_NAME!r}: each deposits or collects (a real write).\n"
        "Baseline: bare Flask, one durable SQLite insert per POST (WAL, synchronous=FULL); "
        "its 404 path is one indexed read. Ratios are product / baseline.\n"
        f"{_load_average()} at the start."
    )


def _load_average() -> str:
    # Other work on the machine skews every figure: print it so a reader can judge the run.
    one, five, _ = os.getloadavg()
    return f"Load average {one:.2f} (1 min), {five:.2f} (5 min)"


def print_report(results: list[TargetResult]) -> list[str]:
    base, *products = results
    print()
    print(report.phase_tables(
        base, products,
        f"Scan path: POST {SCAN_PATH} with a phone label (deposit or collect)",
        f"404 path: POST {SCAN_PATH} with an unknown code (baseline: one read)"))
    print(f"\n{_load_average()} at the end.")
    print("\nStatus codes and outcomes")
    print("\n".join(report.breakdown(result) for result in results))
    found = [line for result in results for line in findings(result)]
    for line in found:
        print(f"\n!!! FINDING: {line}")
    if not found:
        print("\nEvery request succeeded; every acknowledged scan is in the database.")
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as workdir:
        results = run(args, Path(workdir))
    return 1 if print_report(results) else 0


if __name__ == "__main__":
    sys.exit(main())
