"""Is everything working? The admin's status page (/admin/status) and ``flask --app kiosk
status``, one line per check, for a technician over SSH or a monitoring system.

The command's exit status: 0 when every check is OK (or cannot be known here, as the clock in a
container), 2 when something needs attention soon (a warning), 1 when something is failing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Blueprint, Flask, current_app, render_template
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from kiosk.auth import roles_required
from kiosk.extensions import db
from register import status
from register.db import read_only
from register.models import utc_now

bp = Blueprint("status_views", __name__, url_prefix="/admin/status")


def init_app(app: Flask) -> None:
    """Register the page and the `flask --app kiosk status` command."""
    app.register_blueprint(bp)
    app.cli.add_command(status_command)


def current_checks() -> list[status.Check]:
    """Every check, now. The database's records are read in one snapshot; if no snapshot can
    be opened, the checks that need one say the database did not answer."""
    now, data_dir = utc_now(), data_folder()
    try:
        with read_only(db.session()) as session:
            return status.check(session, db.engine, now, data_dir)
    except SQLAlchemyError:
        db.session.remove()
        return status.check(None, db.engine, now, data_dir)


def data_folder() -> Path:
    """Where the data lives: the SQLite file's folder, or the instance folder (the agent's queue,
    uploads) when the database is on a PostgreSQL server."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(str(url.database)).resolve().parent
    return Path(current_app.instance_path)


@bp.route("", methods=["GET"])
@roles_required()  # admins only
def status_page() -> str:
    checks = current_checks()
    return render_template("admin/status.html", checks=checks,
                           worst=_worst(checks), checked_at=utc_now())


def _worst(checks: list[status.Check]) -> status.Level:
    code = status.exit_code(checks)
    return {0: status.Level.OK, 1: status.Level.FAIL, 2: status.Level.WARN}[code]


@click.command("status")
@with_appcontext
def status_command() -> None:
    """Check the database, disk, last backup, kiosk agents, readers, lock boards, clock and
    version; one line each. Exits 0 when all is well, 2 on a warning, 1 when something fails."""
    checks = current_checks()
    for check in checks:
        click.echo(check.line())
    sys.exit(status.exit_code(checks))
