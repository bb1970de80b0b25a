"""The printed tables: product against its bare baseline at each concurrency, with the goals."""

from __future__ import annotations

from dataclasses import dataclass

from bench.load import Summary
from bench.school import Ledger

# Issue 8's goals for the scan round trip, each against the bare insert of the same run.
P99_GOAL = 1.5  # product p99 at most 1.5x the bare p99
THROUGHPUT_GOAL = 2 / 3  # product throughput at least two thirds of the bare throughput


@dataclass(frozen=True)
class LevelResult:
    """One target at one number of concurrent clients."""

    name: str
    clients: int
    scan: Summary
    unknown: Summary | None  # the 404 phase, when it ran
    warmup: Summary
    ledger_before: Ledger | None = None  # the product's database; the baselines have none
    ledger_after: Ledger | None = None


@dataclass(frozen=True)
class ServerResult:
    name: str
    peak_rss_kib: int
    log_trouble: list[str]


def clients(n: int) -> str:
    return f"{n} client" if n == 1 else f"{n} clients"


def _ratio(value: float, base: float) -> float:
    return value / base if base else float("nan")


def _verdict(met: bool) -> str:
    return "ok" if met else "MISSED"


def scan_table(title: str, pairs: list[tuple[LevelResult, LevelResult]]) -> str:
    """One row per concurrency: bare and product figures, then the ratios against the goals."""
    header = ["clients", "bare p50 ms", "p99 ms", "req/s", "errors",
              "scan p50 ms", "p99 ms", "req/s", "errors",
              f"p99 ratio (<= {P99_GOAL:g}x)", f"req/s ratio (>= {THROUGHPUT_GOAL:.2f}x)",
              "errors (0)"]
    lines = [header]
    for bare, product in pairs:
        p99 = _ratio(product.scan.p99_ms, bare.scan.p99_ms)
        throughput = _ratio(product.scan.throughput, bare.scan.throughput)
        errors = bare.scan.failures + product.scan.failures
        lines.append([
            str(product.clients), *_figures(bare.scan), *_figures(product.scan),
            f"{p99:.2f}x {_verdict(p99 <= P99_GOAL)}",
            f"{throughput:.2f}x {_verdict(throughput >= THROUGHPUT_GOAL)}",
            f"{errors} {_verdict(errors == 0)}",
        ])
    return title + "\n" + _align(lines)


def unknown_table(title: str, pairs: list[tuple[LevelResult, LevelResult]]) -> str:
    header = ["clients", "bare p50 ms", "p99 ms", "req/s", "errors",
              "404 p50 ms", "p99 ms", "req/s", "errors", "p99 ratio", "req/s ratio"]
    lines = [header]
    for bare, product in pairs:
        if bare.unknown is None or product.unknown is None:
            continue
        lines.append([
            str(product.clients), *_figures(bare.unknown), *_figures(product.unknown),
            f"{_ratio(product.unknown.p99_ms, bare.unknown.p99_ms):.2f}x",
            f"{_ratio(product.unknown.throughput, bare.unknown.throughput):.2f}x",
        ])
    return title + "\n" + _align(lines)


def _figures(summary: Summary) -> list[str]:
    return [f"{summary.p50_ms:.2f}", f"{summary.p99_ms:.2f}", f"{summary.throughput:,.0f}",
            f"{summary.failures:,}"]


def memory_table(pairs: list[tuple[ServerResult, ServerResult]]) -> str:
    lines = [["", "bare MiB", "product MiB", "ratio"]]
    for bare, product in pairs:
        lines.append([product.name, f"{bare.peak_rss_kib / 1024:.1f}",
                      f"{product.peak_rss_kib / 1024:.1f}",
                      f"{_ratio(product.peak_rss_kib, bare.peak_rss_kib):.2f}x"])
    return "Memory: peak RSS (VmHWM) of gunicorn's master + workers over the whole run\n" + _align(
        lines)


def _align(lines: list[list[str]]) -> str:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = []
    for line in lines:
        cells = [line[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(line[1:], widths[1:], strict=True)]
        out.append("  " + "  ".join(cells))
    return "\n".join(out)


def breakdown(result: LevelResult) -> str:
    """Status codes and outcomes per phase: the evidence behind 'every request succeeded'."""
    parts = []
    for summary in (result.warmup, result.scan, result.unknown):
        if summary is None:
            continue
        statuses = ", ".join(f"{status} x{n:,}" for status, n in summary.statuses.items())
        outcomes = ", ".join(f"{name} {n:,}" for name, n in sorted(summary.outcomes.items()))
        parts.append(f"    {summary.name:<8} status {statuses or '-'}; outcome {outcomes or '-'}")
    return f"  {result.name}, {clients(result.clients)}\n" + "\n".join(parts)
