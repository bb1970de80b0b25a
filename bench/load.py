"""The load generator, run as its own process (``python -m bench.load`` reads a JSON plan on
stdin and prints a JSON summary per target and phase), so its CPU use is not the servers' GIL's
problem. Slices of the same target and phase are merged: the plan interleaves targets in short
slices so that other work on the machine weighs on product and baseline alike.

Each of K clients holds an ``http.client`` connection and POSTs back to back until the phase
ends. Gunicorn's sync workers answer ``Connection: close``, so http.client reconnects for each
request; that costs the product and the baseline alike.
"""

from __future__ import annotations

import http.client
import itertools
import json
import math
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

LOCKED = b"database is locked"
SAMPLES_KEPT = 3


@dataclass(frozen=True)
class Phase:
    target: str
    port: int
    name: str
    path: str
    codes: list[str]
    seconds: float
    expect: int  # the only status that counts as success in this phase
    token: str = ""
    # "agent": what the kiosk agent sends (hardware/service.py): the code, a fresh idempotency
    # key, the time of the scan and its source. "code": the code alone.
    payload: str = "code"


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    locked: int = 0
    samples: list[str] = field(default_factory=list)

    def merge(self, other: Tally) -> None:
        self.latencies_ms += other.latencies_ms
        self.statuses.update(other.statuses)
        self.outcomes.update(other.outcomes)
        self.transport_errors.update(other.transport_errors)
        self.locked += other.locked
        for sample in other.samples:
            self.keep_sample(sample)

    def keep_sample(self, sample: str) -> None:
        # A few distinct bodies say more than many copies of one.
        if len(self.samples) < SAMPLES_KEPT and sample not in self.samples:
            self.samples.append(sample)


@dataclass(frozen=True)
class Summary:
    target: str
    name: str
    requests: int
    seconds: float
    throughput: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    failures: int  # wrong status or no response at all
    statuses: dict[str, int]
    outcomes: dict[str, int]
    transport_errors: dict[str, int]
    locked: int
    samples: list[str]


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: a latency some request really had."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def _record(tally: Tally, phase: Phase, status: int, body: bytes, elapsed_ms: float) -> None:
    tally.latencies_ms.append(elapsed_ms)
    tally.statuses[str(status)] += 1
    tally.locked += LOCKED in body
    try:
        tally.outcomes[str(json.loads(body).get("outcome"))] += 1
    except (ValueError, AttributeError):
        tally.outcomes["(not JSON)"] += 1
    if status != phase.expect:
        tally.keep_sample(f"{status}: {body[:300].decode(errors='replace').strip()}")


def scan_body(code: str, payload: str) -> dict[str, str]:
    """One scan's JSON; see ``Phase.payload``."""
    if payload == "agent":
        return {"code": code, "key": uuid.uuid4().hex,
                "scanned_at": datetime.now(UTC).isoformat(), "source": "scanner"}
    return {"code": code}


def _body(phase: Phase, code: str) -> str:
    return json.dumps(scan_body(code, phase.payload))


def _client(phase: Phase, counter: itertools.count[int], start_at: float,
            stop_at: float, tally: Tally) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", phase.port, timeout=60)
    headers = {"Content-Type": "application/json"}
    if phase.token:
        headers["Authorization"] = f"Bearer {phase.token}"
    time.sleep(max(0.0, start_at - time.perf_counter()))
    while time.perf_counter() < stop_at:
        # A shared counter cycles the codes across clients, so each scan flips one phone.
        body = _body(phase, phase.codes[next(counter) % len(phase.codes)])
        began = time.perf_counter()
        try:
            connection.request("POST", phase.path, body, headers)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as error:
            tally.transport_errors[type(error).__name__] += 1
            connection.close()
            continue
        _record(tally, phase, response.status, data, (time.perf_counter() - began) * 1000)
    connection.close()


def run_phase(clients: int, phase: Phase) -> tuple[Tally, float]:
    """One slice of load; returns what happened and how long it took."""
    counter = itertools.count()
    start_at = time.perf_counter() + 0.05  # let every thread reach the start line
    stop_at = start_at + phase.seconds
    tallies = [Tally() for _ in range(clients)]
    threads = [
        threading.Thread(target=_client, args=(phase, counter, start_at, stop_at, t))
        for t in tallies
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start_at  # includes the last requests in flight
    total = Tally()
    for tally in tallies:
        total.merge(tally)
    return total, elapsed


def run_plan(clients: int, phases: list[Phase]) -> list[Summary]:
    """Run the slices in order; one summary per (target, phase name), in first-seen order."""
    merged: dict[tuple[str, str], tuple[Phase, Tally, float]] = {}
    for phase in phases:
        tally, elapsed = run_phase(clients, phase)
        key = (phase.target, phase.name)
        if key in merged:
            first, total, seconds = merged[key]
            total.merge(tally)
            merged[key] = (first, total, seconds + elapsed)
        else:
            merged[key] = (phase, tally, elapsed)
    return [summarise(*entry) for entry in merged.values()]


def summarise(phase: Phase, tally: Tally, elapsed: float) -> Summary:
    latencies = sorted(tally.latencies_ms)
    wrong = sum(n for status, n in tally.statuses.items() if status != str(phase.expect))
    return Summary(
        target=phase.target, name=phase.name, requests=len(latencies), seconds=elapsed,
        throughput=len(latencies) / elapsed,
        p50_ms=percentile(latencies, 0.50), p99_ms=percentile(latencies, 0.99),
        max_ms=latencies[-1] if latencies else float("nan"),
        failures=wrong + sum(tally.transport_errors.values()),
        statuses=dict(sorted(tally.statuses.items())), outcomes=dict(tally.outcomes),
        transport_errors=dict(tally.transport_errors), locked=tally.locked,
        samples=tally.samples,
    )


def main() -> None:
    plan: dict[str, Any] = json.load(sys.stdin)
    phases = [Phase(**phase) for phase in plan["phases"]]
    json.dump([asdict(summary) for summary in run_plan(plan["clients"], phases)], sys.stdout)


if __name__ == "__main__":
    main()
