"""``flask --app kiosk ...`` commands for setting up a school."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from kiosk.extensions import db
from register import accounts
from register.errors import RegisterError
from register.models import Kiosk, Role


def init_app(app: Flask) -> None:
    for command in (init_db, seed_demo, create_user, create_kiosk):
        app.cli.add_command(command)


@click.command("init-db")
@with_appcontext
def init_db() -> None:
    """Create the tables (safe to run again: existing data is kept)."""
    db.create_all()
    click.echo(f"Database ready: {db.engine.url.render_as_string(hide_password=True)}")


@click.command("seed-demo")
@with_appcontext
@click.option("--base-url", default="http://localhost:8000", show_default=True)
def seed_demo(base_url: str) -> None:
    """Fill an empty database with a demo school; print kiosk links and demo sign-ins."""
    from kiosk import demo

    db.create_all()
    seeded = demo.seed(db.session)
    db.session.commit()
    click.echo("Demo school created." if seeded else "Demo data already present; kept as is.")
    tokens = demo.fresh_kiosk_tokens(db.session)
    db.session.commit()
    click.echo(f"\n  {current_app.config['SCHOOL_NAME']}")
    for name, token in tokens.items():
        click.echo(f"  Kiosk ({name}):  {base_url}/kiosk/pair?token={token}")
    click.echo(f"  Office:   {base_url}/office   sign in as office / {demo.PASSWORD}")
    click.echo(f"  SLT:      {base_url}/slt      sign in as slt / {demo.PASSWORD}")
    click.echo(f"  Admin:    sign in as admin / {demo.PASSWORD}")
    click.echo(f"  Try a phone label at the kiosk: {demo.sample_codes(db.session)}\n")


@click.command("create-user")
@with_appcontext
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
def create_user(username: str, role: str) -> None:
    """Add a user; the password is read from stdin, or prompted for at a terminal."""
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        accounts.create_user(db.session, username, password, role)
        db.session.commit()
    except RegisterError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Created {role} user {username}.")


@click.command("create-kiosk")
@with_appcontext
@click.argument("name")
@click.option("--bank", required=True, help="Name of the locker bank this kiosk serves.")
def create_kiosk(name: str, bank: str) -> None:
    """Pair a new kiosk with a locker bank and print its token (shown only once)."""
    try:
        kiosk, token = accounts.create_kiosk(db.session, name, bank)
        db.session.commit()
    except RegisterError as error:
        raise click.ClickException(str(error)) from None
    existing = db.session.scalar(select(Kiosk.id).where(Kiosk.name == kiosk.name))
    click.echo(f"Kiosk {kiosk.name} (#{existing}) serves {bank}.")
    click.echo(f"Token (shown once; keep it safe): {token}")
    click.echo(f"Pair its browser by opening: /kiosk/pair?token={token}")
