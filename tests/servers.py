"""The product under a real gunicorn, for the tests that need separate worker processes: a
free loopback port, started in this checkout, ready when /healthz answers, stopped by SIGTERM."""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


class Gunicorn:
    """``gunicorn ARGS --bind 127.0.0.1:PORT --no-control-socket APP``, its output appended to
    ``log``; it can be stopped and started again on the same port (a restart mid-test)."""

    def __init__(self, app: str, env: dict[str, str], log: Path, port: int | None = None,
                 args: Sequence[str] = ("--workers", "2")) -> None:
        self.app, self.env, self.log, self.args = app, env, log, list(args)
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                [str(GUNICORN), *self.args, "--bind", f"127.0.0.1:{self.port}",
                 "--no-control-socket", self.app],
                cwd=ROOT, env=self.env, stdout=sink, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not answers(self.port):
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        self.process = None
