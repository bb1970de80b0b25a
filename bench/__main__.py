"""``make bench``: the scan round trip under concurrent load, product against a bare baseline.

One run seeds a school in a temporary SQLite database (and, with ``--postgres``, in a
throwaway PostgreSQL database), serves the product and a bare Flask app doing one durable
insert on the same database engine under the same gunicorn settings, drives them at 1, 8 and
16 concurrent clients from a separate process, and prints the figures with their ratios to the
baseline next to issue 8's goals. It also counts the SQL statements one deposit and one collect
execute (in-process). Errors under load are printed as findings and make the exit status 1;
timing never does.
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
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from bench import baseline, report, school
from bench.load import Phase, Summary
from bench.report import LevelResult, ServerResult
from bench.servers import ROOT, WORKERS, Server, clean_env, gunicorn, peak_rss_kib, trouble_in_log

SCAN_PATH = "/api/v1/scan"
UNKNOWN_CODE = "PHNOSUCH"  # shaped like a label, on no phone, badge or IMEI: the 404 path


@dataclass(frozen=True)
class Target:
    server: Server
    scan: Phase
    unknown: Phase
    database_url: str | None = None  # the product's, to check what it stored


@dataclass(frozen=True)
class Pair:
    """A product and the bare baseline on the same database engine."""

    engine: str  # "SQLite", "PostgreSQL"
    bare: Target
    product: Target


def _levels(text: str) -> list[int]:
    levels = [int(part) for part in text.split(",") if part.strip()]
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of client counts, e.g. 1,8,16")
    return levels


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=_levels, default=[1, 8, 16], metavar="N,N,...",
                        help="concurrent HTTP clients (kiosks), one measured level each "
                             "(default 1,8,16)")
    parser.add_argument("--seconds", type=float, default=6.0,
                        help="scan load per target and level (default 6)")
    parser.add_argument("--unknown-seconds", type=float, default=1.5,
                        help="unknown-code (404) load per target and level; 0 skips it")
    parser.add_argument("--warmup", type=float, default=0.5,
                        help="unmeasured, per target and level (default 0.5)")
    parser.add_argument("--rounds", type=int, default=4,
                        help="slices each phase is cut into, alternating between targets")
    parser.add_argument("--postgres", metavar="URL",
                        help="also run on a throwaway database on this server, product "
                             "against a bare PostgreSQL insert, "
                             "e.g. postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--school", choices=school.SIZES, default=school.DEFAULT_SIZE,
                        help="the school the product serves: the demo one, or (big) "
                             "bench/big_school.py's 2,000 people with a year of history")
    parser.add_argument("--payload", choices=("agent", "code"), default="agent",
                        help="agent (default): each scan carries what the kiosk agent sends, "
                             "a fresh idempotency key, scanned_at and source; code: the code "
                             "alone")
    parser.add_argument("--profile", type=int, metavar="SCANS", default=0,
                        help="instead of the load: cProfile this many scans in-process "
                             "(test client, SQLite) and print the top entries")
    return parser.parse_args(argv)


def product(stack: ExitStack, name: str, seeded: school.DemoSchool, workdir: Path,
            args: argparse.Namespace) -> Target:
    log = workdir / f"{name.replace('/', '-')}.log"
    env = clean_env(DATABASE_URL=seeded.url)
    server = stack.enter_context(gunicorn(name, "kiosk:create_app()", env, log))
    scan = Phase(name, server.port, "scan", SCAN_PATH, seeded.codes, args.seconds, 200,
                 seeded.token, args.payload)
    # The code alone, no key: a refusal with a key is stored (a write), and this phase is
    # measured against one bare read.
    unknown = replace(scan, name="404", codes=[UNKNOWN_CODE], seconds=args.unknown_seconds,
                      expect=404, payload="code")
    return Target(server, scan, unknown, seeded.url)


def bare_baseline(stack: ExitStack, name: str, env: dict[str, str], workdir: Path,
                  args: argparse.Namespace, codes: list[str]) -> Target:
    server = stack.enter_context(gunicorn(name, "bench.baseline:create_app()", env,
                                          workdir / f"{name.replace('/', '-')}.log"))
    scan = Phase(name, server.port, "scan", "/scan", codes, args.seconds, 200,
                 payload=args.payload)  # the same body; the bare app reads only the code
    unknown = Phase(name, server.port, "404", "/lookup", [UNKNOWN_CODE],
                    args.unknown_seconds, 404)
    return Target(server, scan, unknown)


def bare_sqlite(stack: ExitStack, workdir: Path, args: argparse.Namespace,
                codes: list[str]) -> Target:
    path = str(workdir / "baseline.sqlite3")
    baseline.init_db(path)
    return bare_baseline(stack, "bare/sqlite", clean_env(**{baseline.DB_ENV: path}), workdir,
                         args, codes)


def bare_postgres(stack: ExitStack, workdir: Path, args: argparse.Namespace,
                  codes: list[str]) -> Target:
    url = stack.enter_context(school.throwaway_postgres(args.postgres))
    baseline.init_pg(url)
    return bare_baseline(stack, "bare/postgres", clean_env(**{baseline.PG_ENV: url}), workdir,
                         args, codes)


def schedule(targets: list[Target], args: argparse.Namespace) -> list[Phase]:
    """Warm every target up, then alternate short slices (A B C D, D C B A ...) so that drift
    in the machine's other load lands on every target alike."""
    plan = [replace(t.scan, name="warm-up", seconds=args.warmup) for t in targets]
    phases = ("scan", "404") if args.unknown_seconds > 0 else ("scan",)
    for phase in phases:
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


def measure(targets: list[Target], clients: int, args: argparse.Namespace) -> list[LevelResult]:
    before = {t.server.name: school.ledger(t.database_url) for t in targets if t.database_url}
    summaries = drive(clients, schedule(targets, args))
    results = []
    for target in targets:
        name = target.server.name
        results.append(LevelResult(
            name, clients, summaries[name, "scan"], summaries.get((name, "404")),
            summaries[name, "warm-up"], before.get(name),
            school.ledger(target.database_url) if target.database_url else None,
        ))
    return results


@dataclass(frozen=True)
class Run:
    pairs: list[Pair]
    levels: dict[int, dict[str, LevelResult]]  # clients -> target name -> result
    servers: dict[str, ServerResult]


def run(args: argparse.Namespace, workdir: Path) -> Run:
    """Every target up at once (an idle gunicorn costs nothing), measured level by level."""
    env = clean_env()
    started = time.monotonic()
    seeded = school.seed(f"sqlite:///{workdir / 'x.sqlite3'}", env, args.school)
    print(preamble(args, seeded, time.monotonic() - started), flush=True)
    print_statements(seeded, workdir, args)
    with ExitStack() as stack:
        pairs = [Pair("SQLite", bare_sqlite(stack, workdir, args, seeded.codes),
                      product(stack, "product/sqlite", seeded, workdir, args))]
        if args.postgres:
            url = stack.enter_context(school.throwaway_postgres(args.postgres))
            seeded_pg = school.seed(url, env, args.school)
            pairs.append(Pair("PostgreSQL", bare_postgres(stack, workdir, args, seeded.codes),
                              product(stack, "product/postgres", seeded_pg, workdir, args)))
            print(f"PostgreSQL: {school.postgres_durability(url)}", flush=True)
        targets = [target for pair in pairs for target in (pair.bare, pair.product)]
        levels = {}
        for clients in args.clients:
            began = time.monotonic()
            results = measure(targets, clients, args)
            levels[clients] = {result.name: result for result in results}
            print(f"  {report.clients(clients)} measured in {time.monotonic() - began:.0f} s",
                  flush=True)
        servers = {t.server.name: ServerResult(t.server.name, peak_rss_kib(t.server.pid),
                                               trouble_in_log(t.server.log))
                   for t in targets}
    return Run(pairs, levels, servers)


def findings(result: LevelResult) -> list[str]:
    found = []
    for summary in (result.warmup, result.scan, result.unknown):
        if summary is None:
            continue
        where = f"{result.name}, {report.clients(result.clients)}, {summary.name} phase"
        if summary.failures:
            found.append(f"{where}: {summary.failures:,} of {summary.requests:,} requests "
                         f"failed; statuses {summary.statuses}, no response "
                         f"{summary.transport_errors}; e.g. {summary.samples}")
        server_errors = sum(n for status, n in summary.statuses.items() if int(status) >= 500)
        if server_errors:
            found.append(f"{where}: {server_errors:,} SERVER ERRORS (5xx)")
        if summary.locked:
            found.append(f"{where}: {summary.locked:,} responses say 'database is locked'")
    return found + _ledger_findings(result)


def _ledger_findings(result: LevelResult) -> list[str]:
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
        found.append(f"{result.name}, {report.clients(result.clients)}: acknowledged "
                     f"{acknowledged} but the database holds {stored}")
    if after.integrity not in ("ok", "n/a"):
        found.append(f"{result.name}: PRAGMA integrity_check says {after.integrity!r}")
    return found


def preamble(args: argparse.Namespace, seeded: school.DemoSchool, seed_seconds: float) -> str:
    phases = f"{args.warmup:g} s warm-up, {args.seconds:g} s of scans"
    if args.unknown_seconds > 0:
        phases += f", {args.unknown_seconds:g} s of unknown codes"
    levels = ", ".join(map(str, args.clients[:-1])) + " or " if len(args.clients) > 1 else ""
    return (
        f"Scan-path benchmark: gunicorn --workers {WORKERS} (sync); "
        f"{levels}{report.clients(args.clients[-1])} at a time from a separate process; "
        f"per target and level {phases}, in {args.rounds} interleaved slices.\n"
        f"{os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}; code at {ROOT} ({_commit()}).\n"
        f"School: {seeded.description} (seeded in {seed_seconds:.0f} s). Scans cycle over "
        f"{len(seeded.codes)} phone labels at {school.KIOSK_NAME!r}: each deposits or "
        f"collects (a real write). Body: {_PAYLOADS[args.payload]}.\n"
        "Baselines: bare Flask, one durable insert per POST on the same engine (SQLite: WAL, "
        "synchronous=FULL, autocommit; PostgreSQL: psycopg, INSERT then COMMIT); their 404 "
        "path is one indexed read. Ratios are product / bare, from the same run.\n"
        f"{_load_average()} at the start."
    )


_PAYLOADS = {"agent": "the kiosk agent's (code, a fresh idempotency key, scanned_at, source)",
             "code": "the code alone"}


def _commit() -> str:
    done = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                          capture_output=True, text=True)
    return done.stdout.strip() or "not a git checkout"


def _load_average() -> str:
    # Other work on the machine skews every figure: print it so a reader can judge the run.
    one, five, _ = os.getloadavg()
    return f"Load average {one:.2f} (1 min), {five:.2f} (5 min)"


def print_statements(seeded: school.DemoSchool, workdir: Path, args: argparse.Namespace) -> None:
    """The statements one deposit and one collect execute, on a copy of the seeded school."""
    url = school.copy_sqlite(seeded.url, str(workdir / "statements.sqlite3"))
    try:
        counts = school.count_statements(url, seeded.token, seeded.codes[0], SCAN_PATH,
                                         args.payload)
    except Exception as error:  # a figure, never a reason to stop the bench
        print(f"\nSQL statements per scan: not counted ({type(error).__name__}: {error})\n")
        return
    print("\nSQL statements per scan (in-process, SQLite, SQLAlchemy before_cursor_execute; "
          "COMMIT is the driver's and not counted):")
    for count in counts:
        kinds = ", ".join(f"{kind} {n}" for kind, n in count.kinds.items())
        print(f"  one {count.outcome} (HTTP {count.status}): {count.statements} statements "
              f"({kinds})")
    print(flush=True)


def print_report(result: Run) -> list[str]:
    for pair in result.pairs:
        bare, product_ = pair.bare.server.name, pair.product.server.name
        rows = [(result.levels[n][bare], result.levels[n][product_])
                for n in sorted(result.levels)]
        print()
        print(report.scan_table(
            f"{pair.engine}: POST {SCAN_PATH} with a phone label (deposit or collect) against "
            f"the bare durable {pair.engine} insert", rows))
        if any(bare.unknown for bare, _ in rows):
            print()
            print(report.unknown_table(
                f"{pair.engine}: POST {SCAN_PATH} with an unknown code (404) against one bare "
                "indexed read", rows))
    print()
    print(report.memory_table([(result.servers[pair.bare.server.name],
                                result.servers[pair.product.server.name])
                               for pair in result.pairs]))
    print(f"\n{_load_average()} at the end.")
    print("\nStatus codes and outcomes")
    everything = [level for n in sorted(result.levels) for level in result.levels[n].values()]
    print("\n".join(report.breakdown(level) for level in everything))
    found = [line for level in everything for line in findings(level)]
    for server in result.servers.values():
        if server.log_trouble:
            found.append(f"{server.name}: {len(server.log_trouble)} error lines in gunicorn's "
                         f"log, first: {server.log_trouble[:3]}")
    for line in found:
        print(f"\n!!! FINDING: {line}")
    if not found:
        print("\nEvery request succeeded; every acknowledged scan is in the database.")
    return found


def profile(args: argparse.Namespace, workdir: Path) -> None:
    seeded = school.seed(f"sqlite:///{workdir / 'x.sqlite3'}", clean_env(), args.school)
    print(f"School: {seeded.description}; code at {ROOT} ({_commit()})")
    print(school.profile_scans(seeded.url, seeded.token, seeded.codes, args.profile, SCAN_PATH,
                               args.payload))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as workdir:
        if args.profile:
            profile(args, Path(workdir))
            return 0
        result = run(args, Path(workdir))
    return 1 if print_report(result) else 0


if __name__ == "__main__":
    sys.exit(main())
