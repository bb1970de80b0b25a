"""Kiosks for admins: one-time pairing codes and revocation, on a page and on the command line.

A pairing code is shown once, on the page that answers the admin's POST (never in a URL), with
a QR code of ``/kiosk/pair#code=...``: the code is in the fragment, which no browser sends to
a server, so it reaches no access log.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.cli import with_appcontext
from markupsafe import Markup
from sqlalchemy import select

from kiosk import qr
from kiosk.auth import actor, roles_required
from kiosk.extensions import db, read_only_view
from register import kiosks
from register.db import unit_of_work
from register.errors import RegisterError
from register.models import Kiosk, LockerBank

bp = Blueprint("kiosks_admin", __name__, url_prefix="/admin/kiosks")


def init_app(app: Flask) -> None:
    """Register this module's pages and its `flask --app kiosk` commands."""
    app.register_blueprint(bp)
    for command in (pair_kiosk, revoke_kiosk):
        app.cli.add_command(command)


@bp.before_request
@roles_required()  # admins only
def require_admin() -> None:
    """Every page here is for admins."""


@bp.route("", methods=["GET"])
@read_only_view
def kiosks_page() -> str:
    session = db.session()
    banks = session.scalars(select(LockerBank.name).order_by(LockerBank.name)).all()
    return render_template("admin/kiosks.html", kiosks=kiosks.overview(session), banks=banks)


@bp.route("", methods=["POST"])
def create() -> Any:
    """A new kiosk: its agent token and a first pairing code, shown once."""
    name, bank = request.form.get("name", ""), request.form.get("bank", "")
    try:
        with unit_of_work(db.session()) as session:
            kiosk, agent_token = kiosks.create_kiosk(session, name, bank, actor())
            session.flush()
            code = kiosks.start_pairing(session, kiosk, actor())
    except RegisterError as error:
        flash(str(error), "error")
        return redirect(url_for("kiosks_admin.kiosks_page"))
    return _code_page(code, kiosk.name, agent_token, created=True)


@bp.route("/<int:kiosk_id>/pair", methods=["POST"])
def pair(kiosk_id: int) -> Any:
    with unit_of_work(db.session()) as session:
        kiosk = _kiosk(kiosk_id)
        code = kiosks.start_pairing(session, kiosk, actor())
    return _code_page(code, code.kiosk_name, code.agent_token)


@bp.route("/<int:kiosk_id>/revoke", methods=["POST"])
def revoke(kiosk_id: int) -> Any:
    try:
        with unit_of_work(db.session()) as session:
            kiosk = _kiosk(kiosk_id)
            kiosks.revoke(session, kiosk, actor())
    except RegisterError as error:
        flash(str(error), "error")
    else:
        flash(f"{kiosk.name} is revoked: its screen and its agent are refused from now on. "
              "Pair this kiosk to bring it back (with a new agent token).")
    return redirect(url_for("kiosks_admin.kiosks_page"))


def _kiosk(kiosk_id: int) -> Kiosk:
    kiosk = db.session.get(Kiosk, kiosk_id)
    if kiosk is None:
        abort(404)
    return kiosk


def _code_page(code: kiosks.PairingCode, name: str, agent_token: str | None,
               created: bool = False) -> str:
    link = pairing_link(code.code, _base_url())
    return render_template("admin/kiosks_pair.html", code=code, name=name, link=link,
                           qr_code=_qr_svg(link), agent_token=agent_token, created=created)


def _base_url() -> str:
    """PUBLIC_URL if the school set it, else the address this page was asked for (a trusted
    host: the app answers no other)."""
    return str(current_app.config.get("PUBLIC_URL") or request.url_root)


def pairing_link(code: str, base_url: str) -> str:
    """Where the kiosk's browser pairs itself: the code in the fragment, never sent."""
    return f"{base_url.rstrip('/')}/kiosk/pair#code={code}"


def _qr_svg(text: str) -> Markup:
    """The QR code of ``text``, made here and kept nowhere (qr.svg caches: not for a secret)."""
    drawn = qr.make(text)
    return Markup(
        f'<svg class="qr pairing-qr" viewBox="-4 -4 {drawn.side + 8} {drawn.side + 8}" '
        'shape-rendering="crispEdges" role="img" aria-label="QR code of the pairing link">'
        f'<rect x="-4" y="-4" width="{drawn.side + 8}" height="{drawn.side + 8}" fill="#fff"/>'
        f'<path stroke="#000" d="{drawn.path}"/></svg>')


# --- the command line -----------------------------------------------------------------------

@click.command("pair-kiosk")
@with_appcontext
@click.argument("name")
@click.option("--base-url", metavar="URL",
              help="How the kiosk reaches this server, for the link  [default: PUBLIC_URL]")
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also give the kiosk's agent a new token, written here (mode 600); the "
                   "old token stops working (a replaced Pi, a restored SD card).")
def pair_kiosk(name: str, base_url: str | None, token_file: Path | None) -> None:
    """Print a one-time pairing code for the kiosk NAME's browser (valid 10 minutes). A
    revoked kiosk is brought back, with a new agent token (printed once)."""
    from kiosk.cli import write_secret

    try:
        with unit_of_work(db.session()) as session:
            kiosk = kiosks.kiosk_named(session, name)
            code = kiosks.start_pairing(session, kiosk, "cli")
            if token_file is not None and code.agent_token is None:
                code = replace(code, agent_token=kiosks.reissue_kiosk_token(session, kiosk))
    except RegisterError as error:
        raise click.ClickException(str(error)) from None
    if token_file is not None and code.agent_token:
        write_secret(token_file, code.agent_token)
        code = replace(code, agent_token=None)
        click.echo(f"New agent token written to {token_file} (mode 600); restart the agent.")
    echo_pairing(code, base_url or str(current_app.config.get("PUBLIC_URL") or ""))


def echo_pairing(code: kiosks.PairingCode, base_url: str) -> None:
    zone = current_app.extensions["school_zone"]
    click.echo(f"Pairing code for {code.kiosk_name}: {code.grouped} (one use, until "
               f"{code.expires_at.astimezone(zone):%H:%M})")
    if base_url:
        click.echo(f"  On the kiosk, open {pairing_link(code.code, base_url)}")
    click.echo("  or open /kiosk/pair on the kiosk's screen and type the code.")
    if code.agent_token:
        click.echo("The kiosk was revoked: its agent has a new token (shown once; put it in "
                   f"the agent's token file): {code.agent_token}")


@click.command("revoke-kiosk")
@with_appcontext
@click.argument("name")
def revoke_kiosk(name: str) -> None:
    """Refuse the kiosk NAME's screen and its agent token from now on (pair-kiosk undoes it,
    with a new agent token)."""
    try:
        with unit_of_work(db.session()) as session:
            kiosks.revoke(session, kiosks.kiosk_named(session, name), "cli")
    except RegisterError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{name} is revoked: its screen and its agent token are refused from now on.")
