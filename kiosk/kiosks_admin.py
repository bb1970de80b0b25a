"""Kiosks for admins: one-time pairing codes and revocation, on a page and on the command line."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("kiosks_admin", __name__)


def init_app(app: Flask) -> None:
    """Register this module's pages and its `flask --app kiosk` commands."""
    app.register_blueprint(bp)
