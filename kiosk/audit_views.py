"""The audit trail for admins: a filtered list, and the audit-verify command."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("audit_views", __name__)


def init_app(app: Flask) -> None:
    """Register this module's pages and its `flask --app kiosk` commands."""
    app.register_blueprint(bp)
