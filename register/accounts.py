"""Office, SLT and admin accounts; sign-in throttling. (Kiosks: register/kiosks.py.)"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from register import audit, passwords, sessions, throttle
from register.errors import NotFound, ValidationError
from register.models import Person, Role, User, utc_now

MIN_PASSWORD_LENGTH = passwords.MIN_LENGTH


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
    passwords.check_new_password(password, username)
    if session.scalar(select(User).where(User.username == username)):
        raise ValidationError(f"A user called {username} already exists.")
    user = User(username=username, password_hash=passwords.hash_password(password), role=role)
    session.add(user)
    audit.record(session, actor, "user.create", f"user:{username}", f"role {role}")
    return user


def authenticate(
    session: Session, username: str, password: str, remote_addr: str = "",
    now: datetime | None = None,
) -> SignIn:
    """Check a sign-in, inside the caller's unit of work, which commits whatever the outcome:
    the attempt is counted (register.throttle) before the password is checked, and a held-back
    attempt never checks it. A hash in an old form or at old parameters is replaced here."""
    now = now or utc_now()
    # What no username holds (a NUL, control characters) cannot match one: PostgreSQL refuses
    # a NUL in a query outright.
    username = username.replace("\x00", "").strip().lower()
    attempt = throttle.reserve(session, username, remote_addr, now)
    if attempt.held:
        return SignIn(None, attempt.refusal)
    user = session.scalar(select(User).where(User.username == username, User.active))
    if user is None or not passwords.verify_password(user.password_hash, password):
        if user is None:
            passwords.verify_dummy(password)
        throttle.failed(session, attempt)
        audit.record(session, f"anonymous@{attempt.address}", "signin.failed",
                     f"user:{attempt.username}", at=now)
        return SignIn(None, "That username and password do not match.")
    throttle.succeeded(session, attempt)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    audit.record(session, username, "signin", f"user:{username}", at=now)
    return SignIn(user)


# --- Accounts for admins, and everyone's own password (issue 9) ---------------------------

_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,79}")
# Letters and digits nobody misreads (no 0/O, 1/l/I), in four groups of four: about 79 bits.
_ONE_TIME_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


def one_time_password() -> str:
    """A password an admin reads out or writes down once, e.g. ``k7wq-3nfa-xp2d-m9ht``."""
    return "-".join("".join(secrets.choice(_ONE_TIME_ALPHABET) for _ in range(4))
                    for _ in range(4))


def users(session: Session) -> list[User]:
    """Every account, active first, by username, with the person each one is."""
    return list(session.scalars(select(User).options(joinedload(User.person))
                                .order_by(User.active.desc(), User.username)))


def user_named(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFound(f"There is no user called {username.strip()}.")
    return user


def user_by_id(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("That user does not exist.")
    return user


def person_named(session: Session, name: str) -> Person:
    """The one current person of that name (any case), the stakeholder a user is."""
    wanted = " ".join(name.split()).lower()
    found = session.scalars(select(Person).where(func.lower(Person.name) == wanted,
                                                 Person.active)).all()
    if not found:
        raise ValidationError(f"Nobody called {name.strip()} is on the register: add them at "
                              "the office first, or check the spelling.")
    if len(found) > 1:
        raise ValidationError(f"{len(found)} people are called {name.strip()}: give them "
                              "distinct names on the register first.")
    return found[0]


def email_address(address: str) -> str:
    address = address.strip()
    if address and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address):
        raise ValidationError(f"{address} does not look like an email address.")
    return address


def create_account(session: Session, username: str, role: str, person_name: str, email: str,
                   actor: str) -> tuple[User, str]:
    """A new user with a one-time password (returned, to be shown once) that they must change
    when they first sign in."""
    username = username.strip().lower()
    if not _USERNAME.fullmatch(username):
        raise ValidationError("A username is 2 to 80 lower-case letters, digits, dots, dashes "
                              "or underscores, starting with a letter or digit.")
    person = person_named(session, person_name) if person_name.strip() else None
    address = email_address(email)
    password = one_time_password()
    user = create_user(session, username, password, role, actor=actor)
    user.must_change_password = True
    user.email = address
    if person is not None:
        user.person = person
        audit.record(session, actor, "user.link", f"user:{username}", f"person:{person.id}")
    return user, password


def _active_admins(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)
                          .where(User.active, User.role == Role.ADMIN)) or 0


def disable(session: Session, user: User, actor: str, now: datetime,
            acting_user_id: int | None = None) -> int:
    """Disable an account and end its sessions (returns how many were open). An admin cannot
    disable themselves, and the last active admin stays."""
    if user.id == acting_user_id:
        raise ValidationError("You cannot disable your own account: ask another admin.")
    if user.active and user.role == Role.ADMIN and _active_admins(session) <= 1:
        raise ValidationError(f"{user.username} is the only active admin: make or enable "
                              "another admin first, or nobody could manage accounts.")
    ended = sessions.end_all(session, user.id, sessions.DISABLED, now)
    if user.active:
        user.active = False
        audit.record(session, actor, "user.disable", f"user:{user.username}",
                     f"{ended} sessions ended")
    return ended


def enable(session: Session, user: User, actor: str, now: datetime) -> None:
    """Let the user sign in again. Any session from before stays ended: they sign in afresh."""
    sessions.end_all(session, user.id, sessions.DISABLED, now)
    if not user.active:
        user.active = True
        audit.record(session, actor, "user.enable", f"user:{user.username}")


def reset_password(session: Session, user: User, actor: str, now: datetime) -> str:
    """A new one-time password (returned, to be shown once), to be changed at the next
    sign-in; every session of the user ends."""
    password = one_time_password()
    user.password_hash = passwords.hash_password(password)
    user.must_change_password = True
    ended = sessions.end_all(session, user.id, sessions.PASSWORD_RESET, now)
    audit.record(session, actor, "user.password_reset", f"user:{user.username}",
                 f"{ended} sessions ended")
    return password


def unlock(session: Session, user: User, actor: str) -> None:
    """Clear the sign-in throttle that holds this account back, from every address."""
    throttle.unlock(session, user.username, actor)


def sign_out_everywhere(session: Session, user: User, actor: str, now: datetime) -> int:
    """End every session of the user (returns how many were open)."""
    ended = sessions.end_all(session, user.id, sessions.SIGNED_OUT_EVERYWHERE, now)
    audit.record(session, actor, "user.sign_out_everywhere", f"user:{user.username}",
                 f"{ended} sessions ended")
    return ended


def change_password(session: Session, user: User, current: str, new: str, again: str,
                    now: datetime) -> None:
    """The user's own change: the current password, then the new one twice. Every session of
    the user ends (the caller starts a fresh one for the browser that changed it)."""
    if not passwords.verify_password(user.password_hash, current):
        raise ValidationError("Your current password is not right: type it again.")
    if new != again:
        raise ValidationError("The two new passwords are not the same: type them again.")
    if new == current:
        raise ValidationError("Choose a new password, not the one you have now.")
    passwords.check_new_password(new, user.username)
    user.password_hash = passwords.hash_password(new)
    user.must_change_password = False
    sessions.end_all(session, user.id, sessions.PASSWORD_CHANGED, now)
    audit.record(session, user.username, "user.password_change", f"user:{user.username}")
