"""No IMEI, kiosk token, pairing code or password in any log line.

The real server, started as scripts/run-demo starts it (gunicorn with gunicorn.conf.py and an
access log file), with every logger of the app on (and SQLAlchemy's statement log too), on the
demo school; then a morning's requests that carry all of those secrets: signing in (once with
a wrong password), searching the register by IMEI, opening a person's page and a phone's edit
form, the register as CSV, pairing a kiosk's browser, and scanning raw IMEIs on the agent's API
with its bearer token; an old-style link and a search typed into the address bar too. Every
line the server wrote is then searched for each secret.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from register.models import Device, Person
from tests.servers import ROOT, Gunicorn, free_port

BIN = Path(sys.executable).parent
PASSWORD = "Marmalade kettle 4417 ivory"  # the test user's: long, and on no list
WRONG_PASSWORD = "Marmalade kettle 4418 ivory"
# Every logger at DEBUG but SQLAlchemy's, at INFO: statements are logged (their values hidden
# by the app's hide_parameters), not result rows, which DEBUG would print whole.
LOGGING = {"root": {"level": "DEBUG", "handlers": ["console"]},
           "loggers": {"sqlalchemy": {"level": "INFO"}}}


@dataclass
class Server:
    url: str
    logs: list[Path]
    secrets: dict[str, str]  # what must never be logged -> what it is
    token: str
    pairing_code: str


def _flask(env: dict[str, str], *args: str, stdin: str = "") -> str:
    done = subprocess.run([str(BIN / "flask"), "--app", "kiosk", *args], cwd=ROOT, env=env,
                          input=stdin, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _gunicorn_args(access_log: Path, logging_config: Path) -> list[str]:
    """scripts/run-demo's options (its config file and access log), with every log on."""
    demo = (ROOT / "scripts" / "run-demo").read_text()
    assert '"--config", "gunicorn.conf.py", "--access-logfile"' in demo
    return ["--config", "gunicorn.conf.py", "--access-logfile", str(access_log), "--workers",
            "2", "--log-level", "debug", "--log-config-json", str(logging_config)]


@pytest.fixture
def server(engine, database_url_for_test: str, tmp_path: Path) -> Iterator[Server]:
    env = {**os.environ, "KIOSK_ENV": "demo", "DATABASE_URL": database_url_for_test,
           "PYTHONPATH": str(ROOT)}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    token_file = tmp_path / "kiosk.token"
    seeded = _flask(env, "seed-demo", "--base-url", url, "--token-file", str(token_file))
    codes = re.findall(r"/kiosk/pair#code=([A-Za-z0-9-]+)", seeded)
    assert codes, seeded
    _flask(env, "create-user", "logtester", "--role", "office", stdin=PASSWORD + "\n")
    with Session(engine) as session:
        imeis = [imei for pair in session.execute(select(Device.imei, Device.imei2))
                 for imei in pair if imei]
    token = token_file.read_text().strip()
    secrets = {imei: "an IMEI" for imei in imeis}
    secrets.update({token: "the kiosk's agent token", PASSWORD: "a password",
                    WRONG_PASSWORD: "a mistyped password", "demo-password": "a password"})
    secrets.update({code: "a pairing code" for code in codes})

    access_log, output = tmp_path / "access.log", tmp_path / "server-output.log"
    logging_config = tmp_path / "logging.json"
    logging_config.write_text(json.dumps(LOGGING))
    gunicorn = Gunicorn("kiosk:create_app()", env, output, port,
                        _gunicorn_args(access_log, logging_config))
    gunicorn.start()
    try:
        yield Server(url, [access_log, output], secrets, token, codes[0])
    finally:
        gunicorn.stop()
        if engine.dialect.name == "postgresql":  # seed-demo stamped the shared database
            with engine.begin() as connection:
                connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


class Browser:
    """Cookies, CSRF tokens and redirects, as a browser does them."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> tuple[int, str]:
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path: str, form: dict[str, str], page: str | None = None) -> tuple[int, str]:
        """Submit a form of the page at ``page`` (default: ``path``), with its CSRF token."""
        _status, html = self.get(page or path)
        match = re.search(r'name="csrf[-_]token"[^>]*(?:value|content)="([^"]+)"', html)
        assert match, html[:500]
        body = urlencode({"csrf_token": match.group(1), **form}).encode()
        return self._open(urllib.request.Request(self.base + path, body, method="POST"))

    def _open(self, request: urllib.request.Request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, response.read().decode("utf-8-sig")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8-sig")


def scan(server: Server, code: str) -> dict[str, object]:
    request = urllib.request.Request(
        f"{server.url}/api/v1/scan", json.dumps({"code": code, "source": "scanner"}).encode(),
        {"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"},
        method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        answer: dict[str, object] = json.loads(response.read())
        return answer


def test_no_log_line_holds_an_imei_a_token_a_pairing_code_or_a_password(server, engine):
    with Session(engine) as session:
        phone = session.scalars(select(Device).where(Device.retired_at.is_(None))
                                .order_by(Device.id)).first()
        assert phone is not None
        owner = session.get(Person, phone.owner_id)
        assert owner is not None
        phone_id, person_id, name, imei = phone.id, owner.id, owner.name, phone.imei
    office = Browser(server.url)
    assert office.post("/login", {"username": "logtester", "password": WRONG_PASSWORD}
                       )[0] == 401
    assert office.post("/login", {"username": "logtester", "password": PASSWORD})[0] == 200
    spaced = " ".join(imei[i:i + 4] for i in range(0, 15, 4))
    server.secrets[spaced] = "an IMEI as typed"
    status, found = office.post("/office/", {"q": spaced})
    assert status == 200 and name in found.replace("&#39;", "'")
    assert office.get(f"/office/?q={imei}")[0] == 200  # typed into the address bar
    # The person page shows its last four digits (issue 11); Show answers the whole IMEI.
    assert imei not in office.get(f"/office/people/{person_id}")[1]
    assert imei in office.post(f"/office/devices/{phone_id}/imei", {},
                               page=f"/office/people/{person_id}")[1]
    assert imei in office.get(f"/office/devices/{phone_id}/edit")[1]
    assert imei in office.get("/print/register.csv")[1]

    kiosk = Browser(server.url)
    assert kiosk.get(f"/kiosk/pair?token={server.token}")[0] == 400  # an old link
    status, screen = kiosk.post("/kiosk/pair", {"code": server.pairing_code})
    assert status == 200 and 'id="scan"' in screen
    assert scan(server, imei)["outcome"] in ("deposited", "choose", "on_duty", "signed_in")
    assert scan(server, imei)["outcome"] in ("collected", "choose", "signed_out", "deposited",
                                             "already_deposited")

    time.sleep(0.5)  # the last access-log lines
    lines = _log_lines(server)
    access = server.logs[0].read_text()
    assert '"POST /office/ HTTP/1.1" 200' in access  # the log is on, without query strings
    assert '"GET /office/ HTTP/1.1" 200' in access and '"POST /api/v1/scan HTTP/1.1" 200' in access
    assert any("SELECT" in line for _where, line in lines)  # and SQLAlchemy's statement log
    leaks = [f"{what} in {where}: {line.strip()[:160]}"
             for where, line in lines for secret, what in server.secrets.items()
             if secret in line]
    assert leaks == []


def _log_lines(server: Server) -> list[tuple[str, str]]:
    return [(path.name, line) for path in server.logs
            for line in path.read_text(errors="replace").splitlines()]
