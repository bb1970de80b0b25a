"""Sign-in for office, SLT and admin users, and the role check every page uses."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for

from kiosk.extensions import db
from register import accounts
from register.db import unit_of_work
from register.models import Role, User

bp = Blueprint("auth", __name__)

HOME_BY_ROLE = {Role.ADMIN: "office.people", Role.OFFICE: "office.people", Role.SLT: "slt.now"}


@bp.before_app_request
def load_user() -> None:
    user_id = session.get("user_id")
    g.user = db.session.get(User, user_id) if user_id else None
    if g.user is not None and not g.user.active:
        session.clear()
        g.user = None


def roles_required(*roles: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Signed in with one of ``roles`` (admin always passes), else sign in or 403."""
    allowed = {*roles, Role.ADMIN}

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if g.user is None:
                return redirect(url_for("auth.login", next=request.full_path))
            if g.user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def bearer_token() -> str | None:
    """The kiosk token in ``Authorization: Bearer ...``, if the request carries one."""
    header = request.headers.get("Authorization", "")
    return header[7:] if header.startswith("Bearer ") else None


def actor() -> str:
    """How the audit trail names whoever is making this request."""
    return g.user.username if g.get("user") else "anonymous"


@bp.route("/")
def index() -> Any:
    if g.user is None:
        return redirect(url_for("auth.login"))
    return redirect(url_for(HOME_BY_ROLE[Role(g.user.role)]))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        with unit_of_work(db.session()) as transaction:
            outcome = accounts.authenticate(
                transaction, request.form.get("username", ""), request.form.get("password", ""),
                request.remote_addr or "",
            )
        if outcome.user is None:
            error = outcome.refusal
        else:
            user = outcome.user
            session.clear()
            session["user_id"] = user.id
            return redirect(_safe_next(request.args.get("next"))
                            or url_for(HOME_BY_ROLE[Role(user.role)]))
    status = 401 if error else 200
    return render_template("login.html", error=error), status


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    session.clear()
    flash("You have signed out.")
    return redirect(url_for("auth.login"))


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths: never send a user to another host after signing in."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
