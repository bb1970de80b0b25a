"""The retention purge from the command line: ``flask --app kiosk purge [--dry-run]``.

Made to run nightly from a systemd timer or cron: it never asks anything, prints one line per
kind of record (a journal keeps them), and exits 0 whether or not anything was past keeping.
The purge is one unit of work and records one audit entry as "cli" (register/purge.py); on
SQLite the space work follows the commit.
"""

from __future__ import annotations

from datetime import tzinfo

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from kiosk.extensions import db
from register import purge
from register.db import read_only, unit_of_work
from register.models import utc_now


def init_app(app: Flask) -> None:
    """Register this module's `flask --app kiosk` command."""
    app.cli.add_command(purge_command)


@click.command("purge")
@click.option("--dry-run", is_flag=True,
              help="Say what would be removed and kept as totals; change nothing.")
@with_appcontext
def purge_command(dry_run: bool) -> None:
    """Remove every record older than the retention settings allow (Admin > Settings), after
    keeping each week's figures as totals. Safe to run nightly; a second run finds nothing."""
    zone: tzinfo = current_app.extensions["school_zone"]
    now = utc_now()
    if dry_run:
        with read_only(db.session()) as session:
            report = purge.purge(session, now, zone, dry_run=True)
    else:
        with unit_of_work(db.session()) as session:
            report = purge.purge(session, now, zone, actor="cli")
    for line in report.lines(zone):
        click.echo(line)
    if dry_run:
        click.echo("Dry run: nothing was removed or kept.")
        return
    space = purge.reclaim_space(db.engine, report.removed)
    if space is not None:
        click.echo(f"sqlite: {space.describe()}")
