"""School-wide settings stored in the database, changed by an admin without a deploy: which
exception categories need a second SLT approver, how long a sign-in lasts, and how the kiosk
treats a second scan and whether it plays sounds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from register import audit
from register.errors import ValidationError
from register.models import Setting
from register.text import whole_number

SECOND_APPROVER_CATEGORIES = "second_approver_categories"


def get(session: Session, key: str, default: str = "") -> str:
    setting = session.get(Setting, key)
    return setting.value if setting else default


def put(session: Session, key: str, value: str, actor: str) -> None:
    setting = session.get(Setting, key) or Setting(key=key)
    setting.value = value
    session.add(setting)
    audit.record(session, actor, "settings.change", f"setting:{key}", value[:200])


def second_approver_categories(session: Session) -> set[str]:
    """Exception categories that need two SLT approvals before they take effect."""
    return {c for c in get(session, SECOND_APPROVER_CATEGORIES).split(",") if c}


# Sign-in sessions (register/sessions.py): how long one may sit unused, and how long it may
# last at all. Read on every signed-in request, so a change applies at once to every session.
SESSION_IDLE_MINUTES = "session_idle_minutes"
SESSION_LIFETIME_HOURS = "session_lifetime_hours"
IDLE_MINUTES_DEFAULT, IDLE_MINUTES_RANGE = 30, (5, 480)
LIFETIME_HOURS_DEFAULT, LIFETIME_HOURS_RANGE = 12, (1, 24)


@dataclass(frozen=True)
class SessionLimits:
    idle_minutes: int = IDLE_MINUTES_DEFAULT
    lifetime_hours: int = LIFETIME_HOURS_DEFAULT

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.idle_minutes)

    @property
    def lifetime(self) -> timedelta:
        return timedelta(hours=self.lifetime_hours)

    @classmethod
    def from_stored(cls, idle: str | None, lifetime: str | None) -> SessionLimits:
        """The stored values, each checked when it was saved; the default for one not set."""
        return cls(_stored_number(idle, IDLE_MINUTES_DEFAULT, IDLE_MINUTES_RANGE),
                   _stored_number(lifetime, LIFETIME_HOURS_DEFAULT, LIFETIME_HOURS_RANGE))


def _stored_number(value: str | None, default: int, bounds: tuple[int, int]) -> int:
    number = whole_number(value or "")
    return number if number is not None and bounds[0] <= number <= bounds[1] else default


def session_limits(session: Session) -> SessionLimits:
    return SessionLimits.from_stored(get(session, SESSION_IDLE_MINUTES) or None,
                                     get(session, SESSION_LIFETIME_HOURS) or None)


def put_session_limits(session: Session, idle_minutes: str, lifetime_hours: str,
                       actor: str) -> SessionLimits:
    """Check both numbers as typed and save those that changed; refuses with a sentence (and
    saves neither) when one is out of range."""
    idle = _typed_number(idle_minutes, IDLE_MINUTES_RANGE,
                         "Sign out after unused for: give a number of minutes from {low} to "
                         "{high}.")
    lifetime = _typed_number(lifetime_hours, LIFETIME_HOURS_RANGE,
                             "Longest sign-in: give a number of hours from {low} to {high}.")
    current = session_limits(session)
    if idle != current.idle_minutes:
        put(session, SESSION_IDLE_MINUTES, str(idle), actor)
    if lifetime != current.lifetime_hours:
        put(session, SESSION_LIFETIME_HOURS, str(lifetime), actor)
    return SessionLimits(idle, lifetime)


def _typed_number(value: str, bounds: tuple[int, int], refusal: str) -> int:
    number = whole_number(value.strip())
    if number is None or not bounds[0] <= number <= bounds[1]:
        raise ValidationError(refusal.format(low=bounds[0], high=bounds[1]))
    return number


# The kiosk (register/scans.py, the kiosk page). A scan of the same phone or badge within
# this many seconds of its deposit, or of going on duty under an exception, does not collect
# or sign out: a reader repeating a held card, or a second scan by someone unsure, is the
# common case; taking the phone out again is a button on the screen (0 turns the guard off).
RESCAN_GUARD_SECONDS = "rescan_guard_seconds"
RESCAN_GUARD_DEFAULT, RESCAN_GUARD_RANGE = 60, (0, 600)
# Whether the kiosk page plays a short tone for each result ("on" or "off").
KIOSK_SOUND = "kiosk_sound"
ON, OFF = "on", "off"


@dataclass(frozen=True)
class KioskSettings:
    rescan_guard_seconds: int = RESCAN_GUARD_DEFAULT
    sound: bool = True

    @property
    def rescan_guard(self) -> timedelta:
        return timedelta(seconds=self.rescan_guard_seconds)


def kiosk_settings(session: Session) -> KioskSettings:
    """The kiosk's settings, or the defaults for those not set."""
    guard = _stored_number(get(session, RESCAN_GUARD_SECONDS) or None, RESCAN_GUARD_DEFAULT,
                           RESCAN_GUARD_RANGE)
    return KioskSettings(guard, get(session, KIOSK_SOUND, ON) != OFF)


def rescan_guard(session: Session) -> timedelta:
    return kiosk_settings(session).rescan_guard


def put_kiosk_settings(session: Session, guard_seconds: str, sound: bool, actor: str,
                       ) -> KioskSettings:
    """Check the guard as typed and save what changed; refuses with a sentence (saving
    nothing) when it is out of range."""
    guard = _typed_number(guard_seconds, RESCAN_GUARD_RANGE,
                          "Second scan within: give a number of seconds from {low} to {high}.")
    current = kiosk_settings(session)
    if guard != current.rescan_guard_seconds:
        put(session, RESCAN_GUARD_SECONDS, str(guard), actor)
    if sound != current.sound:
        put(session, KIOSK_SOUND, ON if sound else OFF, actor)
    return KioskSettings(guard, sound)
