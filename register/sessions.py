"""Sign-in sessions kept on the server, so that any of them can be ended.

A sign-in makes a random token that only the browser keeps (in its signed cookie); the
database keeps the token's SHA-256 and the session's times. A session is over when it was
ended (signing out, a password change or reset, the account disabled, an admin's "sign out
everywhere"), when it has gone unused for longer than the idle limit, when it is older than
the longest sign-in, or when its user is disabled. An ended session is never revived, not even
by enabling the account again: the user signs in afresh.

Every function takes ``now``, so tests can move the clock; none commits (the caller's unit of
work does).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ScalarSelect, Select, bindparam, func, select, update
from sqlalchemy.orm import Session, contains_eager

from register import settings
from register.models import Setting, User, UserSession

# last_seen_at is written at most this often: a page view is not a write, so idle expiry is
# measured to within this much (a session may end up to a minute early, never late).
TOUCH_EVERY = timedelta(minutes=1)

# Why a session ended, as stored in user_sessions.end_reason.
LOGOUT = "logout"
IDLE = "idle"
EXPIRED = "expired"
PASSWORD_CHANGED = "password_changed"
PASSWORD_RESET = "password_reset"
DISABLED = "disabled"
SIGNED_OUT_EVERYWHERE = "signed_out_everywhere"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Check:
    """What a request's session token is worth now. ``user`` is set only for a live session;
    ``ended`` names why a session that was open until now is over (to be recorded), and
    ``expires_at`` is the latest the browser's cookie need live."""

    user: User | None = None
    session_id: int | None = None
    ended: str = ""
    needs_touch: bool = False
    expires_at: datetime | None = None
    limits: settings.SessionLimits = field(default_factory=settings.SessionLimits)


def start(session: Session, user: User, remote_addr: str, now: datetime) -> str:
    """A new session for ``user`` (who has just proved who they are); returns the token for
    the browser. Only its hash is stored."""
    token = secrets.token_urlsafe(32)
    session.add(UserSession(user_id=user.id, token_hash=token_hash(token), created_at=now,
                            last_seen_at=now, remote_addr=remote_addr[:64]))
    user.last_sign_in_at = now
    return token


def _setting(key: str) -> ScalarSelect[str]:
    return select(Setting.value).where(Setting.key == key).scalar_subquery()


# One indexed read per signed-in request: the session, its user and both limits.
_BY_TOKEN: Select[UserSession, str, str] = (
    select(UserSession, _setting(settings.SESSION_IDLE_MINUTES),
           _setting(settings.SESSION_LIFETIME_HOURS))
    .join(UserSession.user).options(contains_eager(UserSession.user))
    .where(UserSession.token_hash == bindparam("token_hash"))
)


def check(session: Session, token: str, now: datetime) -> Check:
    """Look the token up (reads only). A session found over but not yet marked ended comes
    back with ``ended`` set: the caller records that with ``end`` in a unit of work."""
    row = session.execute(_BY_TOKEN, {"token_hash": token_hash(token)}).first()
    if row is None:
        return Check()
    found, idle, lifetime = row
    limits = settings.SessionLimits.from_stored(idle, lifetime)
    if found.ended_at is not None:
        return Check(session_id=found.id, limits=limits)
    reason = _over(found, limits, now)
    if reason:
        return Check(session_id=found.id, ended=reason, limits=limits)
    needs_touch = now - found.last_seen_at >= TOUCH_EVERY
    seen = now if needs_touch else found.last_seen_at
    return Check(user=found.user, session_id=found.id, needs_touch=needs_touch,
                 expires_at=min(seen + limits.idle, found.created_at + limits.lifetime),
                 limits=limits)


def _over(found: UserSession, limits: settings.SessionLimits, now: datetime) -> str:
    if not found.user.active:
        return DISABLED
    if now - found.created_at > limits.lifetime:
        return EXPIRED
    if now - found.last_seen_at > limits.idle:
        return IDLE
    return ""


def touch(session: Session, session_id: int, now: datetime) -> None:
    """Note that the session was used now (one UPDATE; about once a minute per session)."""
    session.execute(update(UserSession)
                    .where(UserSession.id == session_id, UserSession.ended_at.is_(None))
                    .values(last_seen_at=now))


def end(session: Session, session_id: int, reason: str, now: datetime) -> None:
    """End one session (if still open), saying why."""
    session.execute(update(UserSession)
                    .where(UserSession.id == session_id, UserSession.ended_at.is_(None))
                    .values(ended_at=now, end_reason=reason))


def end_all(session: Session, user_id: int, reason: str, now: datetime) -> int:
    """End every open session of one user; returns how many were open."""
    result = session.execute(update(UserSession)
                             .where(UserSession.user_id == user_id,
                                    UserSession.ended_at.is_(None))
                             .values(ended_at=now, end_reason=reason))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def open_sessions(session: Session, user_id: int, now: datetime) -> list[UserSession]:
    """A user's sessions still in use now, newest first (those past a limit are left out)."""
    limits = settings.session_limits(session)
    rows = session.scalars(select(UserSession)
                           .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None),
                                  UserSession.created_at > now - limits.lifetime,
                                  UserSession.last_seen_at >= now - limits.idle)
                           .order_by(UserSession.created_at.desc()))
    return list(rows)


def open_counts(session: Session, now: datetime) -> dict[int, int]:
    """How many sessions each user has in use now, by user id."""
    limits = settings.session_limits(session)
    rows = session.execute(select(UserSession.user_id, func.count())
                           .where(UserSession.ended_at.is_(None),
                                  UserSession.created_at > now - limits.lifetime,
                                  UserSession.last_seen_at >= now - limits.idle)
                           .group_by(UserSession.user_id))
    return {user_id: count for user_id, count in rows}


def end_token(session: Session, token: str, reason: str, now: datetime) -> None:
    """End the session this token names (signing out), if it is still open."""
    session.execute(update(UserSession)
                    .where(UserSession.token_hash == token_hash(token),
                           UserSession.ended_at.is_(None))
                    .values(ended_at=now, end_reason=reason))

