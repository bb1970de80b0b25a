"""Sign-in throttling that slows guessing without letting anyone lock an account out."""

from __future__ import annotations

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session

from register import audit
from register.models import SignInThrottle


def account_key(username: str) -> str:
    return f"account:{username}"


def account_address_prefix(username: str) -> str:
    return f"account-address:{username}|"


def unlock(session: Session, username: str, actor: str) -> None:
    """Clear every counter that holds ``username`` back (from any address), and audit it."""
    username = username.strip().lower()
    session.execute(delete(SignInThrottle).where(or_(
        SignInThrottle.key == account_key(username),
        SignInThrottle.key.startswith(account_address_prefix(username), autoescape=True),
    )))
    audit.record(session, actor, "signin.unlock", f"user:{username}")
