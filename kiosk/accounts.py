"""Accounts for admins (users, sign-in sessions) and everyone's own password: issue 9."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("accounts", __name__)


def init_app(app: Flask) -> None:
    """Register this module's pages and its `flask --app kiosk` commands."""
    app.register_blueprint(bp)
