"""Sign-in for office, SLT and admin users, their sessions, and the role check every page
uses."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from sqlalchemy import orm

from kiosk.extensions import db
from register import accounts, sessions, settings
from register.db import unit_of_work
from register.models import Role, User, utc_now

bp = Blueprint("auth", __name__)

HOME_BY_ROLE = {Role.ADMIN: "office.people", Role.OFFICE: "office.people", Role.SLT: "slt.now"}


# The browser's signed cookie holds only this: a random token naming a row of user_sessions.
SESSION_KEY = "sid"
# Where a user whose password must change may go meanwhile.
WHILE_PASSWORD_MUST_CHANGE = frozenset({"accounts.password", "auth.logout", "static"})
SIGNED_OUT = {
    sessions.IDLE: "You were signed out after {idle} minutes without use. Please sign in again.",
    sessions.EXPIRED: "A sign-in lasts at most {lifetime} hours. Please sign in again.",
}


@bp.before_app_request
def load_user() -> Any:
    """``g.user`` for this request: the user of a live session, else None (and the cookie's
    session is cleared). A session past its limits is recorded as ended, and a live one is
    marked used about once a minute, each in a small unit of work of its own."""
    g.user = None
    token = session.get(SESSION_KEY)
    if not isinstance(token, str):
        if "user_id" in session:  # a cookie from before sessions were kept on the server
            session.clear()
        return None
    now = utc_now()
    found = sessions.check(db.session(), token, now)  # an implicit read, as every page's was
    if found.user is None:
        session.clear()
        if found.ended:
            with unit_of_work(db.session()) as transaction:
                sessions.end(transaction, found.session_id or 0, found.ended, now)
        if found.ended in SIGNED_OUT:
            session["signed_out"] = SIGNED_OUT[found.ended].format(
                idle=found.limits.idle_minutes, lifetime=found.limits.lifetime_hours)
        return None
    if found.needs_touch:
        with unit_of_work(db.session()) as transaction:
            sessions.touch(transaction, found.session_id or 0, now)
    g.user, g.session_expires = found.user, found.expires_at
    if g.user.must_change_password and request.endpoint not in WHILE_PASSWORD_MUST_CHANGE:
        return redirect(url_for("accounts.password"))
    return None


def start_session(user: User, now: datetime, transaction: orm.Session) -> None:
    """Sign this browser in as ``user``, in the caller's unit of work: a fresh cookie session
    holding a new token, lasting no longer than the sign-in may."""
    token = sessions.start(transaction, user, request.remote_addr or "", now)
    limits = settings.session_limits(transaction)
    session.clear()
    session[SESSION_KEY] = token
    session.permanent = True  # the cookie expires with the sign-in (SessionCookie below)
    g.session_expires = now + min(limits.idle, limits.lifetime)


class SessionCookie(SecureCookieSessionInterface):
    """Flask's signed cookie, but a signed-in browser's cookie expires when its sign-in would:
    after the idle limit from now, and never after the sign-in's longest life."""

    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        """A background poll (the SLT tablet's) sends no cookie unless it changed the session:
        sent with the cookie the poll started with, it could land after a decision's answer
        and overwrite that cookie, losing its "Approved ..." message."""
        if g.get("background_poll"):
            return session.modified
        return super().should_set_cookie(app, session)

    def get_expiration_time(self, app: Flask, session: SessionMixin) -> datetime | None:
        expires: datetime | None = g.get("session_expires")
        if session.permanent and expires is not None:
            return expires
        return None


def init_app(app: Flask) -> None:
    """The cookie's own lifetime bounds any signature at the longest sign-in allowed."""
    app.session_interface = SessionCookie()
    app.permanent_session_lifetime = timedelta(hours=settings.LIFETIME_HOURS_RANGE[1])


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
        now = utc_now()
        with unit_of_work(db.session()) as transaction:
            outcome = accounts.authenticate(
                transaction, request.form.get("username", ""), request.form.get("password", ""),
                request.remote_addr or "", now=now,
            )
            if outcome.user is not None:
                start_session(outcome.user, now, transaction)
        if outcome.user is None:
            error = outcome.refusal
        else:
            user = outcome.user
            if user.must_change_password:
                return redirect(url_for("accounts.password"))
            return redirect(_safe_next(request.args.get("next"))
                            or url_for(HOME_BY_ROLE[Role(user.role)]))
    notice = session.pop("signed_out", None) if request.method == "GET" else None
    status = 401 if error else 200
    return render_template("login.html", error=error, notice=notice), status


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    token = session.get(SESSION_KEY)
    if isinstance(token, str):
        with unit_of_work(db.session()) as transaction:
            sessions.end_token(transaction, token, sessions.LOGOUT, utc_now())
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
