"""Configuration from the environment, with safe defaults for the demo."""

from __future__ import annotations

import os
from pathlib import Path

from register.db import database_url

DEMO_SECRET_KEY = "demo-only-secret-key-change-me"


class ConfigError(RuntimeError):
    pass


def from_environment(instance_path: str) -> dict[str, object]:
    env = os.environ
    production = env.get("KIOSK_ENV", "demo") == "production"
    default_db = "sqlite:///" + str(Path(instance_path) / "kiosk.sqlite3")
    return {
        "PRODUCTION": production,
        "SECRET_KEY": env.get("SECRET_KEY", DEMO_SECRET_KEY),
        "SQLALCHEMY_DATABASE_URI": database_url(env.get("DATABASE_URL", default_db)),
        "SCHOOL_NAME": env.get("SCHOOL_NAME", "Demo Community School"),
        "TIME_ZONE": env.get("TIME_ZONE", "Europe/London"),
        "KIOSK_IDLE_SECONDS": int(env.get("KIOSK_IDLE_SECONDS", "8")),
        "SESSION_COOKIE_SECURE": production,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # A kiosk page stays open for days: its CSRF token lives as long as its session.
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    }


def check_safe(config: dict[str, object]) -> None:
    if config.get("PRODUCTION") and config.get("SECRET_KEY") in (None, "", DEMO_SECRET_KEY):
        raise ConfigError(
            "KIOSK_ENV=production needs its own SECRET_KEY: refusing to start with the demo key. "
            "Generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"
        )
