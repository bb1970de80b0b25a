"""Sign-in throttling that slows guessing down without letting anyone lock an account out.

Every attempt is counted under four keys before its password is checked:

- the account at one client address: the first 3 failures are free, then each makes the
  next attempt from that address wait twice as long (1 s, 2 s, 4 s ... at most 15 minutes);
- the client address, whatever the username: 10 free, then the same growing wait (one
  computer trying one password on many accounts);
- the account, from anywhere: at most 100 failures an hour, then the account waits for the
  rest of the hour;
- everyone: past 1,000 failures an hour, only addresses with no failure this day may try
  until the hour ends.

A held-back attempt never reaches the password check. Counting is one ``INSERT .. ON CONFLICT
DO UPDATE .. RETURNING`` per key, which holds the key's row until the sign-in's unit of work
ends: concurrent attempts (any worker, any process) queue on it and see each other's counts,
so none slips past. A success undoes its own reservation and clears the account's counter
at that address, so the right password from another address works while one is held back.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Insert,
    Update,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from register import audit, retention
from register.db import deleted, execute
from register.models import Base, LoginFailure, SignInThrottle, UtcDateTime, utc_now

MAX_WAIT = timedelta(minutes=15)
# Failure records are kept for the record (and the admin's view of an account) as long as the
# retention setting says (register/retention.py, "login_failures": 30 days unless an admin
# changes it); the audit trail keeps every failure for its own retention.
# A throttle row is purged this long after its window ended.
THROTTLE_ROWS_KEPT = timedelta(days=1)
_KEY_PART = 80  # usernames are at most 80 characters (User.username); addresses 64


@dataclass(frozen=True)
class Rule:
    """How one kind of key holds attempts back. ``free`` failures in ``window`` cost nothing;
    past them each failure doubles the wait before the next attempt (``growing``), or, with a
    ``ceiling``, the key waits for the rest of its window."""

    kind: str
    window: timedelta
    free: int = 0
    growing: bool = False
    ceiling: int | None = None

    def key(self, username: str, address: str) -> str:
        if self.kind == "pair":
            return f"pair:{username}|{address}"
        if self.kind == "address":
            return f"address:{address}"
        if self.kind == "account":
            return f"account:{username}"
        return "everyone"

    def hold_after(self, failures: int, window_started_at: datetime, now: datetime,
                   ) -> datetime | None:
        """Until when the key is held after its ``failures``-th failure in this window."""
        if self.ceiling is not None and failures >= self.ceiling:
            return window_started_at + self.window
        if self.growing and failures > self.free:
            doublings = min(failures - self.free - 1, 20)  # 2**20 s is past the cap anyway
            return now + min(timedelta(seconds=2 ** doublings), MAX_WAIT)
        return None


PAIR = Rule("pair", timedelta(days=1), free=3, growing=True)
ADDRESS = Rule("address", timedelta(days=1), free=10, growing=True)
ACCOUNT = Rule("account", timedelta(hours=1), ceiling=100)
EVERYONE = Rule("everyone", timedelta(hours=1), ceiling=1000)
RULES = (PAIR, ADDRESS, ACCOUNT, EVERYONE)

_HELD_BACK = {
    "pair": "Too many attempts from this computer. Try again in {wait}, or ask an admin to "
            "unlock the account.",
    "address": "Too many failed sign-ins from this computer. Try again in {wait}, or ask an "
               "admin to unlock your account.",
    "account": "Too many failed sign-ins for this account in the last hour. Try again in "
               "{wait}, or ask an admin to unlock the account.",
    "everyone": "Too many failed sign-ins on this server in the last hour. Try again in "
                "{wait}, or from a computer where nobody has mistyped a password today.",
}


@dataclass
class Attempt:
    """One sign-in attempt, counted under each key before its password is checked. ``held``
    names the rule holding it back (then nothing stays counted), ``wait`` for how long."""

    username: str
    address: str
    at: datetime
    held: str = ""
    wait: timedelta = timedelta(0)
    counted: dict[str, tuple[int, datetime]] = field(default_factory=dict)

    @property
    def refusal(self) -> str:
        return _HELD_BACK[self.held].format(wait=describe_wait(self.wait)) if self.held else ""


def describe_wait(wait: timedelta) -> str:
    """``5 seconds``, ``1 minute``, ``15 minutes``: rounded up, never "0"."""
    seconds = max(1, math.ceil(wait.total_seconds()))
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def key_parts(username: str, address: str) -> tuple[str, str]:
    """What the keys are made of: the username as sign-in reads it, and the address."""
    return username[:_KEY_PART], (address or "unknown")[:64]


def reserve(session: Session, username: str, address: str, now: datetime | None = None,
            ) -> Attempt:
    """Count an attempt under every key, or find it held back (and count nothing). Runs in the
    sign-in's unit of work, before the password is checked."""
    now = now or utc_now()
    username, address = key_parts(username, address)
    attempt = Attempt(username, address, now)
    for rule in RULES:
        # The everyone key counts every attempt: whether its ceiling holds one back depends on
        # the address's record, below.
        conditional = rule is not EVERYONE
        row = execute(session, _count_statement(_dialect(session), conditional), {
            "the_key": rule.key(username, address), "at": now,
            "window_start": now - rule.window,
        }).one_or_none()
        if row is None:  # held: the row's hold has not run out
            held_until = session.scalar(select(SignInThrottle.held_until).where(
                SignInThrottle.key == rule.key(username, address)))
            return _held(session, attempt, rule, (held_until or now) - now)
        attempt.counted[rule.kind] = (row.failures, row.window_started_at)
        if rule is EVERYONE and row.held_until is not None and row.held_until > now:
            address_failures = attempt.counted[ADDRESS.kind][0] - 1
            if address_failures > 0:
                return _held(session, attempt, rule, row.held_until - now)
    return attempt


def _held(session: Session, attempt: Attempt, rule: Rule, wait: timedelta) -> Attempt:
    _uncount(session, attempt)
    attempt.counted.clear()
    attempt.held, attempt.wait = rule.kind, max(wait, timedelta(seconds=1))
    return attempt


def _uncount(session: Session, attempt: Attempt) -> None:
    keys = [rule.key(attempt.username, attempt.address) for rule in RULES
            if rule.kind in attempt.counted]
    if keys:
        execute(session, update(SignInThrottle).where(SignInThrottle.key.in_(keys))
                .values(failures=SignInThrottle.failures - 1))


def failed(session: Session, attempt: Attempt) -> None:
    """The password was wrong: hold each key whose count now calls for it, and keep a record
    (and purge old rows while here: failures are when they grow)."""
    for rule in RULES:
        failures, window_started_at = attempt.counted[rule.kind]
        held_until = rule.hold_after(failures, window_started_at, attempt.at)
        if held_until is not None:
            execute(session, _HOLD, {"the_key": rule.key(attempt.username, attempt.address),
                                     "until": held_until})
    session.add(LoginFailure(username=attempt.username, remote_addr=attempt.address,
                             at=attempt.at))
    purge(session, attempt.at)


def succeeded(session: Session, attempt: Attempt) -> None:
    """The password was right: this attempt was no failure, and the account's counter at
    this address starts again."""
    execute(session, delete(SignInThrottle).where(
        SignInThrottle.key == PAIR.key(attempt.username, attempt.address)))
    attempt.counted.pop(PAIR.kind, None)
    _uncount(session, attempt)


def unlock(session: Session, username: str, actor: str) -> None:
    """Clear every counter holding ``username`` back: the account's, the account's at every
    address, and those of the addresses it failed from today. Audited."""
    username, _ = key_parts(username.strip().lower(), "")
    since = utc_now() - ADDRESS.window
    addresses = session.scalars(select(LoginFailure.remote_addr).distinct().where(
        LoginFailure.username == username, LoginFailure.at > since)).all()
    session.execute(delete(SignInThrottle).where(or_(
        SignInThrottle.key == ACCOUNT.key(username, ""),
        SignInThrottle.key.startswith(f"pair:{username}|", autoescape=True),
        SignInThrottle.key.in_([ADDRESS.key(username, address) for address in addresses]),
    )))
    audit.record(session, actor, "signin.unlock", f"user:{username}")


@dataclass(frozen=True)
class Purged:
    counters: int  # throttle rows
    failures: int  # failure records


def purge(session: Session, now: datetime | None = None,
          failures_before: datetime | None = None, dry_run: bool = False) -> Purged:
    """Delete throttle rows whose window ended more than a day ago and are not holding, and
    failure records dated before ``failures_before`` (by default, older than the retention
    setting allows). ``dry_run``: only count them."""
    now = now or utc_now()
    if failures_before is None:
        failures_before = retention.retention(session).cutoff("login_failures", now)
    longest = max(rule.window for rule in RULES)
    old_counters = (SignInThrottle.window_started_at < now - longest - THROTTLE_ROWS_KEPT,
                    or_(SignInThrottle.held_until.is_(None), SignInThrottle.held_until < now))
    old_failures = LoginFailure.at < failures_before
    if dry_run:
        return Purged(_count(session, SignInThrottle, *old_counters),
                      _count(session, LoginFailure, old_failures))
    return Purged(deleted(session, delete(SignInThrottle).where(*old_counters)),
                  deleted(session, delete(LoginFailure).where(old_failures)))


def _count(session: Session, table: type[Base], *conditions: ColumnElement[bool]) -> int:
    return session.scalar(select(func.count()).select_from(table).where(*conditions)) or 0


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


_HOLD: Update = (update(SignInThrottle).where(SignInThrottle.key == bindparam("the_key"))
                 .values(held_until=bindparam("until", type_=UtcDateTime())))


@functools.cache
def _count_statement(dialect_name: str, conditional: bool) -> Insert:
    """One failure more under a key (a new window if the last one ended), returning the count;
    ``conditional``: no row at all while the key is held."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    now = bindparam("at", type_=UtcDateTime())
    new_window = SignInThrottle.window_started_at <= bindparam("window_start",
                                                               type_=UtcDateTime())
    statement = dialect.insert(SignInThrottle).values(
        key=bindparam("the_key"), failures=1, window_started_at=now, held_until=None)
    counted = statement.on_conflict_do_update(
        index_elements=[SignInThrottle.key],
        set_={
            "failures": case((new_window, 1), else_=SignInThrottle.failures + 1),
            "window_started_at": case((new_window, now), else_=SignInThrottle.window_started_at),
        },
        where=(or_(SignInThrottle.held_until.is_(None), SignInThrottle.held_until <= now)
               if conditional else None),
    )
    returning: Insert = counted.returning(SignInThrottle.failures,
                                          SignInThrottle.window_started_at,
                                          SignInThrottle.held_until)
    return returning
