"""deploy/: the install script run end to end in a throwaway root (``--root``: every path under
a temporary folder; apt, useradd and systemctl are recorded, not run), then the web app started
the way its systemd unit says, with the settings file the script wrote.

``--venv`` reuses this checkout's virtual environment instead of a fresh ``pip install`` (a
few minutes on a Pi; the rest of the install is what a school's Pi runs)."""

from __future__ import annotations

import http.client
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import answers, free_port

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / "deploy" / "install.sh"
SHELL_SCRIPTS = [INSTALL, ROOT / "deploy" / "phone-locker",
                 ROOT / "deploy" / "kiosk" / "phone-locker-kiosk-screen"]
UNITS = sorted(path.name for path in (ROOT / "deploy" / "systemd").iterdir())


@dataclass
class Installed:
    root: Path
    output: str

    @property
    def env_file(self) -> Path:
        return self.root / "etc/phone-locker/env"

    @property
    def units(self) -> Path:
        return self.root / "etc/systemd/system"

    def commands(self) -> str:
        return (self.root / "install-commands.log").read_text()


def install(root: Path, *options: str) -> Installed:
    done = subprocess.run(
        ["bash", str(INSTALL), "--root", str(root), "--venv", sys.prefix, *options],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return Installed(root, done.stdout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    return install(tmp_path_factory.mktemp("pi"), "--kiosk")


def settings_file(path: Path) -> dict[str, str]:
    """The variables a systemd EnvironmentFile gives (KEY=value, optionally quoted)."""
    values = {}
    for line in path.read_text().splitlines():
        if match := re.fullmatch(r"([A-Z_]+)=(.*)", line):
            values[match[1]] = shlex.split(match[2])[0] if match[2] else ""
    return values


def unit_setting(unit: Path, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in unit.read_text().splitlines()
            if line.startswith(key + "=")]


def test_shell_scripts_are_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: `make browser` (scripts/install-system-deps) adds it"
    done = subprocess.run([shellcheck, *map(str, SHELL_SCRIPTS)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_installed_units_pass_systemd_analyze_verify(installed: Installed) -> None:
    assert sorted(path.name for path in installed.units.iterdir()) == UNITS
    # The installed units name the installed program (under the throwaway root), whose
    # executables exist: verify checks them too.
    done = subprocess.run(["systemd-analyze", "verify", "--man=no",
                           *map(str, sorted(installed.units.iterdir()))],
                          capture_output=True, text=True)
    assert done.returncode == 0 and not done.stderr, done.stderr


def test_install_makes_the_user_enables_the_services_and_prints_the_admin_password(
        installed: Installed) -> None:
    commands = installed.commands()
    assert "useradd --system" in commands and "usermod -a -G dialout phone-locker" in commands
    assert re.search(r"systemctl enable --now phone-locker-web.service "
                     r"phone-locker-backup.timer phone-locker-purge.timer "
                     r"phone-locker-agent.service", commands)
    assert "raspi-config nonint do_blanking 1" in commands
    assert re.search(r"One-time password for admin: \S+", installed.output)
    assert "Office, SLT and admin:  https://" in installed.output
    assert oct(installed.env_file.stat().st_mode & 0o777) == "0o640"
    settings = settings_file(installed.env_file)
    assert settings["KIOSK_ENV"] == "production" and settings["TRUSTED_PROXIES"] == "1"
    assert len(settings["SECRET_KEY"]) == 64 and len(settings["BACKUP_KEY"]) == 44
    assert settings["DATABASE_URL"] == f"sqlite:///{installed.root}/var/lib/phone-locker/kiosk.sqlite3"
    home = installed.root / "home/pi/.config"
    assert "phone-locker-kiosk-screen" in (home / "labwc/autostart").read_text()
    assert "[autostart]\nphone_locker = " in (home / "wayfire.ini").read_text()
    assert (home / "autostart/phone-locker-kiosk.desktop").exists()


def test_the_web_app_answers_as_its_unit_runs_it_with_the_settings_written(
        installed: Installed) -> None:
    unit = installed.units / "phone-locker-web.service"
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **settings_file(installed.env_file),
           "WEB_BIND": f"127.0.0.1:{port}"}
    exec_start = unit_setting(unit, "ExecStart")[0].replace("${WEB_BIND}", env["WEB_BIND"])
    command = shlex.split(exec_start)
    log = installed.root / "web.log"
    with log.open("wb") as sink:
        web = subprocess.Popen(command, cwd=unit_setting(unit, "WorkingDirectory")[0], env=env,
                               stdout=sink, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            if answers(port):
                break
            assert web.poll() is None, log.read_text()
            subprocess.run(["sleep", "0.1"], check=True)
        assert answers(port), log.read_text()
        password = re.search(r"One-time password for admin: (\S+)", installed.output)[1]
        # As Caddy forwards it: HTTPS, so the cookie is Secure and HSTS is sent.
        caddy = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.0.0.9"}
        status, headers, body = request(port, "GET", "/login", caddy)
        assert status == 200 and "Demo Community School" in body
        assert headers["Strict-Transport-Security"].startswith("max-age=")
        cookie = headers["Set-Cookie"].split(";")[0]
        assert "Secure" in headers["Set-Cookie"]
        token = re.search(r'name="csrf_token" value="([^"]+)"', body)[1]
        form = f"csrf_token={token}&username=admin&password={password}"
        status, headers, _ = request(port, "POST", "/login", {
            **caddy, "Cookie": cookie, "Referer": f"https://127.0.0.1:{port}/login",
            "Content-Type": "application/x-www-form-urlencoded"}, form)
        assert status == 302 and headers["Location"].endswith("/account/password")
        # Production: only the configured names (and loopback) are answered.
        status, _, _ = request(port, "GET", "/login", {"Host": "evil.example"})
        assert status == 400
    finally:
        web.terminate()
        web.wait(timeout=30)


def request(port: int, method: str, path: str, headers: dict[str, str],
            body: str | None = None) -> tuple[int, http.client.HTTPMessage, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read().decode()
    finally:
        connection.close()


def test_running_it_again_keeps_the_settings_and_the_admin_and_adds_new_settings(
        tmp_path: Path) -> None:
    first = install(tmp_path)
    # A school's edit, and a setting this version added that an older file lacks.
    text = first.env_file.read_text().replace('SCHOOL_NAME="Demo Community School"',
                                              'SCHOOL_NAME="Hill Top Academy"')
    first.env_file.write_text(re.sub(r"\n(# [^\n]*\n)*#SMTP_PORT=587\n", "\n", text))
    before = first.env_file.read_text()
    again = install(tmp_path)
    after = again.env_file.read_text()
    assert after.startswith(before)
    assert after[len(before):].strip().endswith("#SMTP_PORT=587")
    assert "Added to" in again.output and "SMTP_PORT" in again.output
    assert "One-time password" not in again.output
    assert "The admin user exists already" in again.output
    database = tmp_path / "var/lib/phone-locker/kiosk.sqlite3"
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT count(*) FROM users").fetchone() == (1,)
    third = install(tmp_path)
    assert third.env_file.read_text() == after and "Kept the settings" in third.output


def test_uninstall_removes_units_and_program_and_keeps_data(tmp_path: Path) -> None:
    install(tmp_path, "--kiosk")
    install(tmp_path, "--uninstall")
    assert not list((tmp_path / "etc/systemd/system").iterdir())
    assert not (tmp_path / "opt/phone-locker").exists()
    assert not (tmp_path / "usr/local/bin/phone-locker").exists()
    assert (tmp_path / "var/lib/phone-locker/kiosk.sqlite3").exists()
    assert (tmp_path / "etc/phone-locker/env").exists()
    assert "systemctl disable --now phone-locker-web.service" in (
        tmp_path / "install-commands.log").read_text()
    install(tmp_path, "--uninstall", "--purge-data")
    assert not (tmp_path / "var/lib/phone-locker").exists()
    assert not (tmp_path / "etc/phone-locker").exists()


def test_install_refuses_an_unknown_option(tmp_path: Path) -> None:
    done = subprocess.run(["bash", str(INSTALL), "--root", str(tmp_path), "--colour"],
                          capture_output=True, text=True)
    assert done.returncode == 1 and "unknown option --colour" in done.stderr
    assert os.listdir(tmp_path) == []


def test_caddy_validates_the_shipped_caddyfile(tmp_path: Path) -> None:
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text((ROOT / "deploy/caddy/Caddyfile").read_text())
    done = subprocess.run(["caddy", "validate", "--config", str(caddyfile), "--adapter",
                           "caddyfile"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]


def test_caddy_tells_the_kiosk_to_try_again_while_the_web_app_is_down(tmp_path: Path) -> None:
    """The shipped site block, over plain HTTP on a free port, with nothing behind it: the
    touchscreen gets a sentence and Refresh; other pages get Caddy's bad gateway."""
    port, dead = free_port(), free_port()
    site = (ROOT / "deploy/caddy/Caddyfile").read_text()
    site = re.sub(r"^phones\.school\.example raspberrypi\.local \{", f"http://127.0.0.1:{port} {{",
                  site, flags=re.M)
    site = site.replace("\ttls internal\n", "").replace("127.0.0.1:8000", f"127.0.0.1:{dead}")
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text("{\n\tadmin off\n}\n" + site)
    caddy = subprocess.Popen(["caddy", "run", "--config", str(caddyfile), "--adapter",
                              "caddyfile"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        kiosk = None
        for _ in range(100):
            try:
                kiosk = request(port, "GET", "/kiosk", {})
                break
            except OSError:
                if caddy.poll() is not None:
                    pytest.fail(caddy.stderr.read().decode()[-2000:] if caddy.stderr else "")
                time.sleep(0.1)
        assert kiosk is not None, "caddy did not answer"
        status, headers, text = kiosk
        assert status == 503 and headers["Refresh"] == "10"
        assert "tries again by itself" in text
        assert request(port, "GET", "/office/", {})[0] == 502
    finally:
        caddy.terminate()
        caddy.wait(timeout=10)
