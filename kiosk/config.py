"""Configuration from the environment. With nothing set the product is in production and
refuses to start without what production needs; the demo is something you ask for."""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from register.backup import MAKE_A_BACKUP_KEY
from register.db import database_url

PRODUCTION, DEMO = "production", "demo"
KIOSK_ENVS = (PRODUCTION, DEMO)
DEMO_SECRET_KEY = "demo-only-secret-key-change-me"
MAKE_A_KEY = "python -c 'import secrets; print(secrets.token_hex(32))'"
# Published, like the demo secret key: a demo's backups protect nothing and are refused in
# production (backup_key). A Fernet key: 32 bytes, URL-safe base64.
DEMO_BACKUP_KEY = "ZGVtby1vbmx5LWJhY2t1cC1rZXktY2hhbmdlLW1lISE="
# Always trusted as a Host: the agent and health checks on this machine use them, and a link
# built from them can never point anywhere else.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1")
_HOST_NAME = re.compile(r"\.?[a-z0-9-]+(\.[a-z0-9-]+)*")


class ConfigError(RuntimeError):
    pass


def from_environment(instance_path: str) -> dict[str, object]:
    """The settings the environment gives; those it leaves unset depend on the mode (load)."""
    env = os.environ
    default_db = "sqlite:///" + str(Path(instance_path) / "kiosk.sqlite3")
    settings: dict[str, object] = {
        # Unset (or empty) is production; anything but the two words is refused by load().
        "KIOSK_ENV": env.get("KIOSK_ENV") or PRODUCTION,
        "SQLALCHEMY_DATABASE_URI": database_url(env.get("DATABASE_URL", default_db)),
        "SCHOOL_NAME": env.get("SCHOOL_NAME", "Demo Community School"),
        "TIME_ZONE": env.get("TIME_ZONE", "Europe/London"),
        "KIOSK_IDLE_SECONDS": int(env.get("KIOSK_IDLE_SECONDS", "8")),
        "PUBLIC_URL": env.get("PUBLIC_URL", "").strip(),
        # The CUPS printer the fire roll call goes to (kiosk/fire_alarm.py); empty: lp's default.
        "FIRE_PRINTER": env.get("FIRE_PRINTER", "").strip(),
        "SESSION_COOKIE_SAMESITE": "Lax",
        # A kiosk page stays open for days: its CSRF token lives as long as its session.
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
        # Reverse proxies in front of the app that add X-Forwarded-For/-Proto (checked by load).
        "TRUSTED_PROXIES": env.get("TRUSTED_PROXIES", "").strip() or 0,
    }
    for name in ("SECRET_KEY", "TRUSTED_HOSTS", "BACKUP_KEY"):
        if env.get(name):
            settings[name] = env[name]
    return settings


def load(instance_path: str, overrides: Mapping[str, Any] | None = None) -> dict[str, object]:
    """The environment's settings, then ``overrides`` (a test's), completed for the mode and
    checked. Raises ConfigError naming every setting that is wrong or missing."""
    settings = {**from_environment(instance_path), **(overrides or {})}
    kiosk_env = settings["KIOSK_ENV"]
    if kiosk_env not in KIOSK_ENVS:
        raise ConfigError(f"KIOSK_ENV={kiosk_env} is not a mode: use KIOSK_ENV=production "
                          "(the default, for a school) or KIOSK_ENV=demo (make run's demo "
                          "school), in lower case.")
    production = bool(settings.setdefault("PRODUCTION", kiosk_env == PRODUCTION))
    settings.setdefault("SESSION_COOKIE_SECURE", production)
    if not production:
        settings.setdefault("SECRET_KEY", DEMO_SECRET_KEY)
        settings.setdefault("BACKUP_KEY", DEMO_BACKUP_KEY)
    problems = [problem for problem in (
        _secret_key_problem(settings.get("SECRET_KEY")) if production else None,
        _public_url_problem(str(settings.get("PUBLIC_URL") or "")),
        _email_problem(settings),
    ) if problem]
    try:
        settings["TRUSTED_HOSTS"] = trusted_hosts(settings, production)
    except ConfigError as error:
        problems.append(str(error))
    try:
        settings["TRUSTED_PROXIES"] = trusted_proxies(settings.get("TRUSTED_PROXIES"))
    except ConfigError as error:
        problems.append(str(error))
    if problems:
        raise ConfigError("\n".join(problems))
    return settings


def secret_key_is_strong(key: str) -> bool:
    """At least 32 bytes of key material: 64 characters if it is hex (2 per byte), else 32
    bytes; and not an obvious pattern (at least 10 different characters)."""
    needed = 64 if all(c in string.hexdigits for c in key) else 32
    return len(key.encode()) >= needed and len(set(key)) >= 10 and key != DEMO_SECRET_KEY


def _secret_key_problem(key: object) -> str | None:
    if not key:
        return ("SECRET_KEY is not set: production needs one of its own (at least 32 random "
                f"bytes). Make one with: {MAKE_A_KEY}")
    if key == DEMO_SECRET_KEY:
        return ("SECRET_KEY is the published demo key: refusing to start with the demo key in "
                f"production. Make one with: {MAKE_A_KEY}")
    if not secret_key_is_strong(str(key)):
        return ("SECRET_KEY is too weak: production needs at least 32 random bytes (64 hex "
                f"characters). Make one with: {MAKE_A_KEY}")
    return None


def backup_key(settings: Mapping[str, object]) -> str:
    """The key backups are encrypted with. Only backup and restore need it: the app starts
    without one (an install from before backups existed keeps working)."""
    key = str(settings.get("BACKUP_KEY") or "").strip()
    if not key:
        raise ConfigError("BACKUP_KEY is not set: backups are encrypted with it. Make one "
                          f"with: {MAKE_A_BACKUP_KEY} and keep a copy somewhere safe, away from "
                          "the backups (without it they cannot be read).")
    if settings.get("PRODUCTION") and DEMO_BACKUP_KEY in key.split(","):
        raise ConfigError("BACKUP_KEY is the published demo key: refusing to back up or restore "
                          f"with it in production. Make one with: {MAKE_A_BACKUP_KEY}")
    return key


def _public_url_problem(url: str) -> str | None:
    if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname):
        return (f"PUBLIC_URL={url} is not an address: give it as staff type it, with http:// "
                "or https://, e.g. PUBLIC_URL=https://phones.school.example")
    return None


def _email_problem(settings: Mapping[str, object]) -> str | None:
    # Email settings are read when a request is made (register.notify), from here or the
    # environment; the link in the email comes from PUBLIC_URL only, never a Host header.
    if (settings.get("SMTP_HOST") or os.environ.get("SMTP_HOST")) and not settings["PUBLIC_URL"]:
        return ("SMTP_HOST is set but PUBLIC_URL is not: the email to SLT links to this server, "
                "so say how staff reach it, e.g. PUBLIC_URL=https://phones.school.example")
    return None


def trusted_hosts(settings: Mapping[str, object], production: bool) -> list[str]:
    """The names a request's Host header may carry (any other gets 400): TRUSTED_HOSTS, or
    else PUBLIC_URL's host; production refuses to guess. Loopback names are always added."""
    configured: Any = settings.get("TRUSTED_HOSTS") or ()
    if isinstance(configured, str):
        configured = configured.split(",")
    names = [str(name).strip().lower() for name in configured if str(name).strip()]
    public = urlsplit(str(settings.get("PUBLIC_URL") or "")).hostname
    if not names and public:
        names = [public]
    wrong = [name for name in names if not _HOST_NAME.fullmatch(name)]
    if wrong:
        raise ConfigError(f"TRUSTED_HOSTS has {', '.join(wrong)}: give host names or IPv4 "
                          "addresses only, comma-separated, without http:// or a port, e.g. "
                          "TRUSTED_HOSTS=phones.school.example,10.0.0.5")
    if not names and production:
        raise ConfigError("Production needs the name staff use to reach this server: set "
                          "PUBLIC_URL=https://phones.school.example (its host is then trusted), "
                          "or TRUSTED_HOSTS=phones.school.example,10.0.0.5 (comma-separated). "
                          "Requests naming any other host are refused.")
    return list(dict.fromkeys([*names, *LOOPBACK_HOSTS]))


MAX_TRUSTED_PROXIES = 5


def trusted_proxies(value: object) -> int:
    """How many reverse proxies stand in front of the app, each adding itself to
    X-Forwarded-For and X-Forwarded-Proto: 0 (the default) trusts neither header. Too many
    would let a client choose the address it is throttled under; too few puts every sign-in
    under the proxy's address."""
    text = str(value if value is not None else 0).strip()
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_TRUSTED_PROXIES:
        raise ConfigError(f"TRUSTED_PROXIES={text} is not a number of proxies: give how many "
                          "reverse proxies (nginx, a load balancer) stand between staff and "
                          f"this server, 0 to {MAX_TRUSTED_PROXIES}, e.g. TRUSTED_PROXIES=1 "
                          "behind one nginx; 0 (the default) when browsers connect directly.")
    return int(text)
