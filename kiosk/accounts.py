"""Accounts for admins (users, sign-in sessions) and everyone's own password: issue 9.

Pages: ``/admin/users`` (admins) and ``/account/password`` (everyone signed in). Commands:
``disable-user``, ``enable-user``, ``reset-password``, ``unlock-user`` and
``sign-out-everywhere``, each one unit of work, audited as "cli".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, url_for
from flask.cli import with_appcontext
from sqlalchemy import orm

from kiosk import auth
from kiosk.auth import actor, roles_required
from kiosk.extensions import db, read_only_view
from register import accounts, sessions
from register.db import read_only, unit_of_work
from register.errors import NotFound, RegisterError
from register.models import Role, User, utc_now

bp = Blueprint("accounts", __name__)
ROLES = {Role.OFFICE: "Office", Role.SLT: "SLT", Role.ADMIN: "Admin"}


def init_app(app: Flask) -> None:
    """Register this module's pages and its `flask --app kiosk` commands."""
    app.register_blueprint(bp)
    auth.init_app(app)  # sign-in cookies that last no longer than the sign-in
    for command in (disable_user, enable_user, reset_password, unlock_user,
                    sign_out_everywhere):
        app.cli.add_command(command)


# --- everyone's own password -------------------------------------------------------------

@bp.route("/account/password", methods=["GET", "POST"])
@roles_required(Role.OFFICE, Role.SLT)  # anyone signed in (admins always pass)
def password() -> Any:
    must_change = bool(g.user.must_change_password)
    if request.method == "GET":
        return render_template("account/password.html", must_change=must_change)
    now = utc_now()
    try:
        with unit_of_work(db.session()) as session:
            user = session.get_one(User, g.user.id)
            accounts.change_password(session, user, request.form.get("current", ""),
                                     request.form.get("new", ""), request.form.get("again", ""),
                                     now)
            auth.start_session(user, now, session)  # every other session has ended
            home = auth.HOME_BY_ROLE[Role(user.role)]
    except RegisterError as error:
        return render_template("account/password.html", must_change=must_change,
                               error=str(error)), 400
    flash("Your password is changed. Any other browser signed in as you has been signed out.")
    return redirect(url_for(home))


# --- accounts, for admins ----------------------------------------------------------------

@bp.route("/admin/users", methods=["GET"])
@roles_required()  # admins only
@read_only_view
def users() -> str:
    return _users_page()


def _users_page(error: str = "", form: dict[str, str] | None = None) -> str:
    session = db.session()
    return render_template("admin/users.html", users=accounts.users(session),
                           open_counts=sessions.open_counts(session, utc_now()), roles=ROLES,
                           error=error, form=form or {"role": Role.OFFICE})


@bp.route("/admin/users", methods=["POST"])
@roles_required()
def user_create() -> Any:
    form = {name: request.form.get(name, "") for name in ("username", "role", "person", "email")}
    try:
        with unit_of_work(db.session()) as session:
            user, one_time = accounts.create_account(session, form["username"], form["role"],
                                                     form["person"], form["email"], actor())
    except RegisterError as error:
        with read_only(db.session()):
            return _users_page(str(error), form), 400
    return _one_time_password_page(user, one_time, created=True)


@bp.route("/admin/users/<int:user_id>", methods=["GET"])
@roles_required()
@read_only_view
def user_page(user_id: int) -> str:
    session = db.session()
    user = _user(session, user_id)
    return render_template("admin/user.html", user=user, roles=ROLES,
                           open_sessions=sessions.open_sessions(session, user.id, utc_now()))


def _user(session: orm.Session, user_id: int) -> User:
    try:
        return accounts.user_by_id(session, user_id)
    except NotFound:
        abort(404)


def _admin_action(user_id: int, act: Callable[[orm.Session, User], str]) -> Any:
    """Run one action on one user in one unit of work, then show their page with what it did
    (or why it was refused)."""
    try:
        with unit_of_work(db.session()) as session:
            done = act(session, _user(session, user_id))
    except RegisterError as error:
        flash(str(error), "error")
    else:
        flash(done)
    return redirect(url_for("accounts.user_page", user_id=user_id))


@bp.route("/admin/users/<int:user_id>/disable", methods=["POST"])
@roles_required()
def user_disable(user_id: int) -> Any:
    def act(session: orm.Session, user: User) -> str:
        ended = accounts.disable(session, user, actor(), utc_now(), acting_user_id=g.user.id)
        return (f"{user.username} is disabled and cannot sign in; "
                f"{_sessions_ended(ended)}.")

    return _admin_action(user_id, act)


@bp.route("/admin/users/<int:user_id>/enable", methods=["POST"])
@roles_required()
def user_enable(user_id: int) -> Any:
    def act(session: orm.Session, user: User) -> str:
        accounts.enable(session, user, actor(), utc_now())
        return f"{user.username} can sign in again (with a new sign-in: old ones stay ended)."

    return _admin_action(user_id, act)


@bp.route("/admin/users/<int:user_id>/sign-out-everywhere", methods=["POST"])
@roles_required()
def user_sign_out_everywhere(user_id: int) -> Any:
    def act(session: orm.Session, user: User) -> str:
        ended = accounts.sign_out_everywhere(session, user, actor(), utc_now())
        return f"{user.username} is signed out everywhere: {_sessions_ended(ended)}."

    return _admin_action(user_id, act)


@bp.route("/admin/users/<int:user_id>/unlock", methods=["POST"])
@roles_required()
def user_unlock(user_id: int) -> Any:
    def act(session: orm.Session, user: User) -> str:
        accounts.unlock(session, user, actor())
        return f"{user.username} may try to sign in again at once, from any address."

    return _admin_action(user_id, act)


@bp.route("/admin/users/<int:user_id>/reset-password", methods=["POST"])
@roles_required()
def user_reset_password(user_id: int) -> Any:
    with unit_of_work(db.session()) as session:
        user = _user(session, user_id)
        one_time = accounts.reset_password(session, user, actor(), utc_now())
    return _one_time_password_page(user, one_time, created=False)


def _one_time_password_page(user: User, one_time: str, created: bool) -> str:
    """Shown once, in this answer only (never in the cookie, a flash message or a log)."""
    return render_template("admin/user_password.html", user=user, password=one_time,
                           created=created, roles=ROLES)


def _sessions_ended(count: int) -> str:
    return {0: "no session was open", 1: "1 open session ended"}.get(
        count, f"{count} open sessions ended")


# --- the same, on the command line -------------------------------------------------------

def _cli_action(username: str, act: Callable[[orm.Session, User], str]) -> None:
    """One unit of work on the named user; a refusal is a sentence and exit status 1."""
    try:
        with unit_of_work(db.session()) as session:
            done = act(session, accounts.user_named(session, username))
    except RegisterError as error:
        raise click.ClickException(str(error)) from None
    click.echo(done)


@click.command("disable-user")
@with_appcontext
@click.argument("username")
def disable_user(username: str) -> None:
    """Disable a user: they cannot sign in, and their open sessions end."""
    def act(session: orm.Session, user: User) -> str:
        ended = accounts.disable(session, user, "cli", utc_now())
        return f"{user.username} is disabled; {_sessions_ended(ended)}."

    _cli_action(username, act)


@click.command("enable-user")
@with_appcontext
@click.argument("username")
def enable_user(username: str) -> None:
    """Let a disabled user sign in again (old sessions stay ended)."""
    def act(session: orm.Session, user: User) -> str:
        accounts.enable(session, user, "cli", utc_now())
        return f"{user.username} can sign in again."

    _cli_action(username, act)


@click.command("reset-password")
@with_appcontext
@click.argument("username")
def reset_password(username: str) -> None:
    """Give a user a one-time password (printed once), to change at their next sign-in."""
    def act(session: orm.Session, user: User) -> str:
        one_time = accounts.reset_password(session, user, "cli", utc_now())
        return (f"One-time password for {user.username}: {one_time}\n"
                "It is shown only now. They must choose their own at their next sign-in; "
                "their open sessions have ended.")

    _cli_action(username, act)


@click.command("unlock-user")
@with_appcontext
@click.argument("username")
def unlock_user(username: str) -> None:
    """Clear the sign-in throttle that holds a user back, from every address."""
    def act(session: orm.Session, user: User) -> str:
        accounts.unlock(session, user, "cli")
        return f"{user.username} may try to sign in again at once."

    _cli_action(username, act)


@click.command("sign-out-everywhere")
@with_appcontext
@click.argument("username")
def sign_out_everywhere(username: str) -> None:
    """End every open session of a user."""
    def act(session: orm.Session, user: User) -> str:
        ended = accounts.sign_out_everywhere(session, user, "cli", utc_now())
        return f"{user.username} is signed out everywhere: {_sessions_ended(ended)}."

    _cli_action(username, act)
