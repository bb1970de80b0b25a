"""Office, SLT and admin accounts; kiosk pairing tokens; sign-in throttling."""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session, joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from register import audit
from register.errors import NotFound, ValidationError
from register.models import Kiosk, LockerBank, LoginFailure, Role, User, utc_now

MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10

@functools.cache
def _dummy_hash() -> str:
    """Checked against when the username is unknown, so both cases take the same time. Made
    then, not at import: scrypt takes 32 MiB that a worker which signs nobody in need not
    reach (a worker's peak is its memory: bench/register_print.py)."""
    return generate_password_hash("not-a-real-password")


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in: the user, or a refusal safe to show (it never says which part
    was wrong). A failure is recorded either way, so it must be committed either way."""

    user: User | None
    refusal: str = ""


def create_user(session: Session, username: str, password: str, role: str,
                actor: str = "cli") -> User:
    username = username.strip().lower()
    if role not in set(Role):
        raise ValidationError(f"Role must be one of: {', '.join(Role)}.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"Use a password of at least {MIN_PASSWORD_LENGTH} characters.")
    if session.scalar(select(User).where(User.username == username)):
        raise ValidationError(f"A user called {username} already exists.")
    user = User(username=username, password_hash=generate_password_hash(password), role=role)
    session.add(user)
    audit.record(session, actor, "user.create", f"user:{username}", f"role {role}")
    return user


def authenticate(
    session: Session, username: str, password: str, remote_addr: str = "",
    now: datetime | None = None,
) -> SignIn:
    """Check a sign-in, inside the caller's unit of work, which commits whatever the outcome:
    failures count across all workers."""
    now = now or utc_now()
    # What no username holds (a NUL, control characters) cannot match one: PostgreSQL refuses
    # a NUL in a query outright.
    username = username.replace("\x00", "").strip().lower()
    since = now - FAILURE_WINDOW
    failures = session.scalar(
        select(func.count()).select_from(LoginFailure)
        .where(LoginFailure.username == username, LoginFailure.at > since)
    ) or 0
    if failures >= MAX_FAILURES:
        return SignIn(None, "Too many failed attempts for this account. Wait 15 minutes or ask "
                            "an admin.")
    user = session.scalar(select(User).where(User.username == username, User.active))
    if user is None or not check_password_hash(user.password_hash, password):
        if user is None:
            check_password_hash(_dummy_hash(), password)
        session.add(LoginFailure(username=username, remote_addr=remote_addr, at=now))
        audit.record(session, f"anonymous@{remote_addr}", "signin.failed", f"user:{username}",
                     at=now)
        return SignIn(None, "That username and password do not match.")
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    audit.record(session, username, "signin", f"user:{username}", at=now)
    return SignIn(user)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_kiosk(session: Session, name: str, bank_name: str) -> tuple[Kiosk, str]:
    """A new kiosk and its token. The token is shown once; only its hash is kept."""
    bank = session.scalar(select(LockerBank).where(LockerBank.name == bank_name))
    if bank is None:
        raise NotFound(f"There is no locker bank called {bank_name!r}.")
    if session.scalar(select(Kiosk).where(Kiosk.name == name)):
        raise ValidationError(f"A kiosk called {name} already exists.")
    token = secrets.token_urlsafe(32)
    kiosk = Kiosk(name=name, bank=bank, token_hash=hash_token(token))
    session.add(kiosk)
    audit.record(session, "cli", "kiosk.create", f"kiosk:{name}", f"bank {bank_name}")
    return kiosk, token


def reissue_kiosk_token(session: Session, kiosk: Kiosk) -> str:
    token = secrets.token_urlsafe(32)
    kiosk.token_hash = hash_token(token)
    audit.record(session, "cli", "kiosk.token", f"kiosk:{kiosk.name}")
    return token


# One indexed read (token_hash is unique), with the kiosk's bank for the page.
_KIOSK_BY_TOKEN = (select(Kiosk).where(Kiosk.token_hash == bindparam("token_hash"))
                   .options(joinedload(Kiosk.bank)))


def kiosk_for_token(session: Session, token: str | None) -> Kiosk | None:
    if not token:
        return None
    return session.scalar(_KIOSK_BY_TOKEN, {"token_hash": hash_token(token)})
