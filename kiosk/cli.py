"""``flask --app kiosk ...`` commands for setting up a school."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from kiosk.extensions import db
from register import accounts, audit, kiosks
from register.db import read_only, unit_of_work
from register.errors import RegisterError
from register.models import Role

# The demo kiosk whose agent ``make run`` starts, with simulated readers and locks.
AGENT_KIOSK = "Staff room kiosk"


def init_app(app: Flask) -> None:
    for command in (init_db, seed_demo, create_user, create_kiosk, reader, simulate):
        app.cli.add_command(command)


@click.command("init-db")
@with_appcontext
def init_db() -> None:
    """Create the database, or bring it up to date with this version (data is kept)."""
    from register import schema  # Alembic and Mako: 11 MiB a web worker need not load

    before, after = schema.upgrade(db.engine)
    where = db.engine.url.render_as_string(hide_password=True)
    upgraded = f", upgraded from {before}" if before not in (None, after) else ""
    click.echo(f"Database ready (schema {after}{upgraded}): {where}")


@click.command("seed-demo")
@with_appcontext
@click.option("--base-url", default="http://localhost:8000", show_default=True)
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the Staff room kiosk's new token here, for its agent.")
def seed_demo(base_url: str, token_file: Path | None) -> None:
    """Fill an empty database with a demo school; print kiosk links and demo sign-ins."""
    if current_app.config["PRODUCTION"]:
        raise click.ClickException(
            "seed-demo is refused in production: it creates admin, office and SLT users whose "
            "password is published. Add real users with create-user; for the demo, run it with "
            "KIOSK_ENV=demo on a database of its own.")
    from kiosk import demo
    from register import schema

    schema.upgrade(db.engine)
    from kiosk.kiosks_admin import pairing_link

    session = db.session()
    with unit_of_work(session):
        seeded = demo.seed(session, current_app.extensions["school_zone"])
        links = demo.fresh_kiosk_links(session)
    click.echo("Demo school created." if seeded else "Demo data already present; kept as is.")
    if token_file is not None:
        write_secret(token_file, links[AGENT_KIOSK].agent_token)
    zone = current_app.extensions["school_zone"]
    click.echo(f"\n  {current_app.config['SCHOOL_NAME']}")
    for name, link in links.items():
        click.echo(f"  Kiosk ({name}):  {pairing_link(link.code.code, base_url)}")
    until = next(iter(links.values())).code.expires_at.astimezone(zone)
    click.echo(f"  (each kiosk link pairs one browser, until {until:%H:%M}; then Admin > Kiosks "
               "> Pair this kiosk)")
    click.echo(f"  Office:   {base_url}/office   sign in as office / {demo.PASSWORD}")
    click.echo(f"  SLT:      {base_url}/slt      sign in as slt / {demo.PASSWORD}")
    click.echo(f"            (or deputy / {demo.PASSWORD}: a second SLT member, for the "
               "requests that need two approvals)")
    click.echo(f"  Admin:    sign in as admin / {demo.PASSWORD}")
    with read_only(session):
        samples = demo.sample_codes(session)
        imei = demo.sample_imei(session)
    click.echo(f"  Phone labels to try: {', '.join(samples)}")
    if imei is not None:
        click.echo(f"  An IMEI to type on the kiosk's keypad: {imei[0]} ({imei[1]})")
    click.echo("")


@click.command("create-user")
@with_appcontext
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--person", "person_name", metavar="NAME",
              help="The stakeholder this user is (full name as on the register): nobody "
                   "decides their own exception request.")
@click.option("--email", default="", help="Where SLT users are told of new requests.")
def create_user(username: str, role: str, person_name: str | None, email: str) -> None:
    """Add a user; the password is read from stdin, or prompted for at a terminal."""
    try:  # check the person and address before asking for a password
        with read_only(db.session()):
            person = (accounts.person_named(db.session(), person_name) if person_name
                      else None)
        email = accounts.email_address(email)
    except RegisterError as error:
        raise click.ClickException(str(error)) from None
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        with unit_of_work(db.session()) as session:
            user = accounts.create_user(session, username, password, role)
            user.email = email
            if person is not None:
                user.person_id = person.id
                audit.record(session, "cli", "user.link", f"user:{user.username}",
                             f"person:{person.id}")
    except RegisterError as error:
        raise click.ClickException(str(error)) from None
    linked = f", who is {person.name} on the register" if person is not None else ""
    click.echo(f"Created {role} user {username}{linked}.")


@click.command("create-kiosk")
@with_appcontext
@click.argument("name")
@click.option("--bank", required=True, help="Name of the locker bank this kiosk serves.")
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the agent's token here (mode 600) instead of printing it.")
@click.option("--base-url", metavar="URL",
              help="How the kiosk reaches this server, for the pairing link  "
                   "[default: PUBLIC_URL]")
def create_kiosk(name: str, bank: str, token_file: Path | None, base_url: str | None) -> None:
    """Add a kiosk at a locker bank: print its agent's token (shown only once) and a first
    one-time pairing code for its screen."""
    from kiosk.kiosks_admin import echo_pairing

    try:
        with unit_of_work(db.session()) as session:
            kiosk, token = kiosks.create_kiosk(session, name, bank)
            session.flush()
            code = kiosks.start_pairing(session, kiosk, "cli")
    except RegisterError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Kiosk {kiosk.name} (#{kiosk.id}) serves {bank}.")
    if token_file is not None:
        write_secret(token_file, token)
        click.echo(f"Agent token written to {token_file} (mode 600).")
    else:
        click.echo(f"Agent token (shown once; for the agent's token file): {token}")
    echo_pairing(code, base_url or str(current_app.config.get("PUBLIC_URL") or ""))


def write_secret(path: Path, secret: str) -> None:
    """Write a token readable by its owner only (replacing any older one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secret + "\n")


@click.command("reader")
@with_appcontext
@click.option("--scanner", envvar="KIOSK_SCANNER", metavar="URL",
              help="Barcode scanner: device path, pyserial URL or sim://NAME.  [env KIOSK_SCANNER]")
@click.option("--rfid", envvar="KIOSK_RFID", metavar="URL",
              help="Badge reader: device path, pyserial URL or sim://NAME.  [env KIOSK_RFID]")
@click.option("--locks", envvar="KIOSK_LOCKS", default="none", show_default=True, metavar="SPEC",
              help="Lock bank: none, sim, kerong:URL or gpio:PINS.  [env KIOSK_LOCKS]")
@click.option("--lockers", envvar="KIOSK_LOCKERS", type=click.IntRange(1), default=16,
              show_default=True, help="How many lockers the lock bank has.  [env KIOSK_LOCKERS]")
@click.option("--server", envvar="KIOSK_SERVER", default="http://127.0.0.1:8000",
              show_default=True, help="The web app.  [env KIOSK_SERVER]")
@click.option("--token", envvar="KIOSK_TOKEN", help="The kiosk's token.  [env KIOSK_TOKEN]")
@click.option("--token-file", envvar="KIOSK_TOKEN_FILE",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A file holding the kiosk's token.  [env KIOSK_TOKEN_FILE]")
@click.option("--queue", envvar="KIOSK_QUEUE", type=click.Path(dir_okay=False, path_type=Path),
              help="Durable queue of unsent scans.  [default: instance/agent-queue.sqlite3; "
                   "env KIOSK_QUEUE]")
@click.option("--scanner-option", "scanner_options", multiple=True, metavar="KEY=VALUE",
              help="Scanner driver setting, e.g. baudrate=115200 or terminators=\\r.")
@click.option("--rfid-option", "rfid_options", multiple=True, metavar="KEY=VALUE",
              help="Badge reader driver setting, e.g. baudrate=9600.")
@click.option("--lock-option", "lock_options", multiple=True, metavar="KEY=VALUE",
              help="Lock bank setting, e.g. closed_bit_set=false, unlock_answered=true, "
                   "auto_close_after=8 (sim).")
@click.option("--heartbeat", type=click.FloatRange(min=0.05), default=1.0, show_default=True,
              help="Seconds between heartbeats.")
@click.option("--fire", envvar="KIOSK_FIRE", metavar="SPEC",
              help="The fire panel's contact: gpio:CHIP:LINE[:nc] or sim://NAME.  "
                   "[env KIOSK_FIRE]")
def reader(scanner: str | None, rfid: str | None, locks: str, lockers: int, server: str,
           token: str | None, token_file: Path | None, queue: Path | None,
           scanner_options: tuple[str, ...], rfid_options: tuple[str, ...],
           lock_options: tuple[str, ...], heartbeat: float, fire: str | None) -> None:
    """Run the kiosk agent: read the scanner and badge reader, drive the locks.

    One agent per kiosk, beside (not inside) the web app: it owns the serial ports and sends
    every scan to SERVER with the kiosk's token, keeping it on disk until it is answered.
    """
    from hardware.service import AgentSettings, KioskAgent

    if token_file is not None and not token:
        token = token_file.read_text().strip()
    if not token:
        raise click.UsageError("Give the kiosk's token: --token, --token-file, or KIOSK_TOKEN.")
    readers = {kind: url for kind, url in (("scanner", scanner), ("rfid", rfid)) if url}
    if not readers and locks == "none" and not fire:
        raise click.UsageError("Nothing to do: give --scanner, --rfid, --locks and/or --fire.")
    if fire and not fire.startswith(("sim://", "gpio:")):
        raise click.BadParameter(f"{fire!r}: use gpio:CHIP:LINE[:nc] or sim://NAME.",
                                 param_hint="--fire")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        datefmt="%H:%M:%S")
    settings = AgentSettings(
        token=token, server=server, readers=readers, locks=locks, lockers=lockers,
        queue=queue or Path(current_app.instance_path) / "agent-queue.sqlite3",
        heartbeat_seconds=heartbeat, lock_options=driver_options(lock_options), fire=fire,
        reader_options={"scanner": driver_options(scanner_options),
                        "rfid": driver_options(rfid_options)})
    try:
        agent = KioskAgent(settings)
    except (ValueError, TypeError) as error:  # a lock spec or option that can never work
        raise click.UsageError(f"--locks {locks}: {error}") from None
    signal.signal(signal.SIGTERM, lambda _signum, _frame: agent.stopping.set())
    agent.start()
    try:
        agent.wait()
    except KeyboardInterrupt:
        pass
    finally:
        agent.stop()


def driver_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``("baudrate=115200", "closed_bit_set=false")`` → ``{"baudrate": 115200, ...}``."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, equals, text = pair.partition("=")
        if not equals or not key.isidentifier():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE.")
        options[key] = _option_value(text)
    return options


def _option_value(text: str) -> Any:
    if text.lower() in ("true", "yes", "on", "false", "no", "off"):
        return text.lower() in ("true", "yes", "on")
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    # Backslash escapes, so a terminator can be given as \r or \t on the command line.
    return text.encode().decode("unicode_escape") if "\\" in text else text


@click.group("simulate")
def simulate() -> None:
    """Play a person at the running agent's simulated readers (sim://rfid, sim://scanner)."""


@simulate.command("badge")
@click.argument("badge_id")
@click.option("--reader", default="rfid", show_default=True, help="Name of the sim:// reader.")
def simulate_badge(badge_id: str, reader: str) -> None:
    """Tap the badge BADGE_ID (ten digits) on the simulated RDM6300 badge reader."""
    from hardware.simulated import badge_frame_for

    try:
        frame = badge_frame_for(badge_id)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="BADGE_ID") from None
    _send_simulated(reader, frame, f"Tapped badge {badge_id}")


@simulate.command("scan")
@click.argument("code")
@click.option("--reader", default="scanner", show_default=True, help="Name of the sim:// reader.")
def simulate_scan(code: str, reader: str) -> None:
    """Scan CODE (a phone label, an IMEI) on the simulated barcode scanner."""
    _send_simulated(reader, code.encode() + b"\r", f"Scanned {code}")


@simulate.command("fire")
@click.argument("state", type=click.Choice(["on", "off"]))
@click.option("--input", "name", default="fire", show_default=True,
              help="Name of the sim:// fire input.")
def simulate_fire(state: str, name: str) -> None:
    """Put the simulated fire panel's contact into alarm (on) or back to normal (off)."""
    from hardware.fire import ALARM, NORMAL

    _send_simulated(name, ALARM if state == "on" else NORMAL,
                    "Fire alarm raised" if state == "on" else "Fire alarm ended")


@simulate.command("codes")
@with_appcontext
def simulate_codes() -> None:
    """List the demo school's badges and phone labels to try."""
    from kiosk.simulator import demo_taps

    with read_only(db.session()) as session:
        taps = demo_taps(session)
    for tap in taps:
        verb = "badge" if tap.reader == "rfid" else "scan"
        click.echo(f"  {tap.label:<30} flask --app kiosk simulate {verb} {tap.code}")


def _send_simulated(reader: str, data: bytes, done: str) -> None:
    from hardware.errors import HardwareError
    from hardware.simulated import send

    try:
        send(reader, data)
    except (HardwareError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{done} on sim://{reader}.")
