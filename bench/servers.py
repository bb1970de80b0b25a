"""Gunicorn under test: started as ``make run`` starts it, watched, measured and stopped."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
WORKERS = 2
# Lines in gunicorn's log that mean a request went wrong on the server side.
TROUBLE = ("Traceback", "database is locked", "WORKER TIMEOUT", "[ERROR]", "[CRITICAL]")


@dataclass(frozen=True)
class Server:
    name: str
    port: int
    pid: int
    log: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def command(app: str, port: int) -> list[str]:
    # make run's settings. No access log (make run writes one to instance/access.log), for
    # both servers alike; gunicorn.conf.py (its format) is read from ROOT as make run's is.
    # --no-control-socket: gunicorn's default socket path is shared with any `make run` on
    # this machine, and the bench must not take it over.
    return [str(GUNICORN), "--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}",
            "--no-control-socket", app]


@contextmanager
def gunicorn(name: str, app: str, env: dict[str, str], log: Path) -> Iterator[Server]:
    port = free_port()
    with log.open("wb") as sink:
        process = subprocess.Popen(command(app, port), cwd=ROOT, env=env,
                                   stdout=sink, stderr=subprocess.STDOUT)
    try:
        _wait_ready(port, process)
        yield Server(name, port, process.pid, log)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def _wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {process.returncode}")
        if _healthy(port):
            return
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn on port {port} not healthy after {timeout:.0f} s")


def _healthy(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def peak_rss_kib(master: int) -> int:
    """VmHWM (peak resident set) of the master plus its workers, summed."""
    return sum(_vm_hwm_kib(pid) for pid in (master, *_children(master)))


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        return [int(child) for child in children.read_text().split()]
    return [int(entry.name) for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and _parent(int(entry.name)) == pid]


def _parent(pid: int) -> int | None:
    try:
        # The command name (field 2) may hold spaces; fields after its ")" are fixed.
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def trouble_in_log(log: Path) -> list[str]:
    return [line for line in log.read_text(errors="replace").splitlines()
            if any(marker in line for marker in TROUBLE)]


def clean_env(**overrides: str) -> dict[str, str]:
    """The caller's environment with KIOSK_ENV=demo (the demo configuration, as ``make run``
    asks for it: production is the default), plus overrides.
    PYTHONPATH puts this checkout first, so that a bench run from another worktree (say, of an
    older commit) serves that worktree's code, not the editable install's."""
    env = {**os.environ, "KIOSK_ENV": "demo"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(overrides)
    return env
