"""Backups from the command line: ``flask --app kiosk backup DEST [--keep N]`` and
``flask --app kiosk restore SRC [--yes]`` (register/backup.py does the work; the README's
"Backups and restore" says how to run them nightly and how to restore onto a new SD card).

``backup`` asks nothing, prints one line, and exits non-zero with a sentence when it could not
make one (a USB stick not mounted): a systemd timer's failure is then seen in its journal and
in ``systemctl --failed``.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from kiosk.config import ConfigError, backup_key
from kiosk.extensions import db
from register import audit
from register import backup as backups
from register.db import unit_of_work
from register.errors import RegisterError
from register.models import utc_now


def init_app(app: Flask) -> None:
    """Register this module's `flask --app kiosk` commands."""
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)


def _key() -> str:
    try:
        return backup_key(current_app.config)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


@click.command("backup")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--keep", type=int, default=backups.KEEP, show_default=True,
              help="How many of the newest backups to keep in DEST (older ones of ours go; "
                   "nothing else in DEST is touched).")
@with_appcontext
def backup_command(dest: Path, keep: int) -> None:
    """Make an encrypted, checked backup of the SQLite register in DEST (a folder: a USB
    stick, a network share). Safe while kiosks are in use; suits a nightly timer."""
    key = _key()
    now = utc_now()
    try:
        made = backups.make_backup(db.engine, dest, key, keep, now)
    except RegisterError as error:
        raise click.ClickException(str(error)) from None
    with unit_of_work(db.session()) as session:
        backups.record_backup(session, made, now, "cli")
    click.echo(f"Backup written: {made.path} ({_size(made.size_bytes)}) in "
               f"{made.seconds:.1f} s; the newest {keep} kept in {made.path.parent}.")


@click.command("restore")
@click.argument("src", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask to confirm.")
@with_appcontext
def restore_command(src: Path, yes: bool) -> None:
    """Replace the configured SQLite database with backup SRC, after checking it. Stop the web
    app and the kiosk agents first: scans made since the backup are lost."""
    key = _key()
    zone: tzinfo = current_app.extensions["school_zone"]
    try:
        target = backups.sqlite_file(db.engine)
        found = backups.read_backup(src, key)
    except RegisterError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{src} is a backup made {_when(found.made_at, zone)}.")
    click.echo(f"Restoring it replaces everything in {target} ({_current(target, zone)}); "
               "anything recorded since the backup is lost.")
    if not yes and not click.confirm("Restore it?", default=False):
        click.echo("Nothing was restored.")
        raise SystemExit(1)
    db.engine.dispose()  # no pooled connection of ours holds the old register
    try:
        restored = backups.restore_backup(db.engine, src, key)
    except RegisterError as error:
        raise click.ClickException(str(error)) from None
    with unit_of_work(db.session()) as session:
        audit.record(session, "cli", "backup.restored", f"backup:{src.name}",
                     f"made {restored.made_at.isoformat(timespec='seconds')}")
        backups.record_restored(session, restored)
    click.echo(f"Restored {target} from the backup made {_when(restored.made_at, zone)}. "
               "Run flask --app kiosk init-db (it upgrades a backup made by an older "
               "version, and changes nothing otherwise), then start the web app.")


def _size(size_bytes: int) -> str:
    if size_bytes < 1024 * 1024:
        return f"{size_bytes / 1024:.0f} KB"
    return f"{size_bytes / 1024 / 1024:.1f} MB"


def _when(at: datetime, zone: tzinfo) -> str:
    return at.astimezone(zone).strftime("%A %d %B %Y at %H:%M")


def _current(target: Path, zone: tzinfo) -> str:
    if not target.exists():
        return "there is no database there yet"
    # In WAL mode the latest writes are in the -wal file beside it until a checkpoint.
    files = [path for path in (target, target.with_name(f"{target.name}-wal")) if path.exists()]
    changed = datetime.fromtimestamp(max(path.stat().st_mtime for path in files), UTC)
    return f"{_size(target.stat().st_size)}, last changed {_when(changed, zone)}"
