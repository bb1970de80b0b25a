"""The printed table: each target's figures and its ratio to the bare baseline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench.load import Summary
from bench.school import Ledger


@dataclass(frozen=True)
class TargetResult:
    name: str
    scan: Summary
    unknown: Summary
    warmup: Summary
    peak_rss_kib: int
    log_trouble: list[str]
    ledger_before: Ledger | None = None  # the product's database; the baseline has none
    ledger_after: Ledger | None = None


Metric = Callable[[TargetResult], float]


def _rows(phase: str) -> list[tuple[str, Metric, str]]:
    def pick(result: TargetResult) -> Summary:
        return result.scan if phase == "scan" else result.unknown

    return [
        ("requests", lambda r: pick(r).requests, "{:,.0f}"),
        ("throughput (req/s)", lambda r: pick(r).throughput, "{:,.0f}"),
        ("p50 latency (ms)", lambda r: pick(r).p50_ms, "{:.2f}"),
        ("p99 latency (ms)", lambda r: pick(r).p99_ms, "{:.2f}"),
        ("max latency (ms)", lambda r: pick(r).max_ms, "{:.2f}"),
        ("failed requests", lambda r: pick(r).failures, "{:,.0f}"),
    ]


def _memory_row() -> tuple[str, Metric, str]:
    return ("peak RSS, master+workers (MiB)", lambda r: r.peak_rss_kib / 1024, "{:.1f}")


def table(title: str, baseline: TargetResult, products: list[TargetResult],
          rows: list[tuple[str, Metric, str]]) -> str:
    header = ["", "baseline"]
    for product in products:
        header += [product.name, "ratio"]
    lines = [header]
    for label, metric, fmt in rows:
        base = metric(baseline)
        line = [label, fmt.format(base)]
        for product in products:
            value = metric(product)
            line += [fmt.format(value), f"{value / base:.2f}x" if base else "-"]
        lines.append(line)
    return title + "\n" + _align(lines)


def _align(lines: list[list[str]]) -> str:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = []
    for line in lines:
        cells = [line[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(line[1:], widths[1:], strict=True)]
        out.append("  " + "  ".join(cells))
    return "\n".join(out)


def phase_tables(baseline: TargetResult, products: list[TargetResult], scan_title: str,
                 unknown_title: str) -> str:
    return "\n\n".join([
        table(scan_title, baseline, products, _rows("scan")),
        table(unknown_title, baseline, products, _rows("unknown")),
        table("Memory", baseline, products, [_memory_row()]),
    ])


def breakdown(result: TargetResult) -> str:
    """Status codes and outcomes per phase: the evidence behind 'every request succeeded'."""
    parts = []
    for summary in (result.warmup, result.scan, result.unknown):
        statuses = ", ".join(f"{status} x{n:,}" for status, n in summary.statuses.items())
        outcomes = ", ".join(f"{name} {n:,}" for name, n in sorted(summary.outcomes.items()))
        parts.append(f"    {summary.name:<8} status {statuses or '-'}; outcome {outcomes or '-'}")
    return f"  {result.name}\n" + "\n".join(parts)
