"""The fire alarm: a kiosk's agent reports that the fire panel's contact went into alarm.

What happens is the school's choice (Admin, Settings, ``fire_alarm_lockers``): open every
locker at that kiosk's bank (through the emergency opening, register.lock_commands), or keep
them locked, the default. Either way it is in the audit trail (``fire.alarm``), and an alarm
flag with its time is raised that every SLT screen shows until SLT or an admin clears it.

The flag is a setting (one row, JSON), so no table is needed: it holds every alarm since it
was last cleared, and the agent's key for each, so a report repeated after a lost answer
acts once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from register import audit, lock_commands
from register.errors import NotFound, ValidationError
from register.models import Kiosk, Setting, utc_now

LOCKERS = "fire_alarm_lockers"
OPEN, KEEP_LOCKED = "open", "keep_locked"
CHOICES = {KEEP_LOCKED: "Keep every locker locked",
           OPEN: "Open every locker at the bank of the kiosk that reported the alarm"}
FLAG = "fire_alarm_flag"
ACTOR = "fire alarm"
# An alarm that reaches the server this late (the server was down) is recorded and shown,
# but opens nothing: by then people may be back inside.
TOO_LATE_TO_OPEN = timedelta(minutes=10)
MAX_KEY = 64


@dataclass(frozen=True)
class Alarm:
    kiosk: str
    at: datetime
    key: str


@dataclass(frozen=True)
class AlarmFlag:
    """Every alarm since the flag was last cleared, first first."""

    alarms: tuple[Alarm, ...]

    @property
    def first(self) -> Alarm:
        return self.alarms[0]

    @property
    def kiosks(self) -> str:
        return ", ".join(dict.fromkeys(kiosk_label(a.kiosk) for a in self.alarms))


@dataclass(frozen=True)
class Outcome:
    kiosk: str  # its name
    repeat: bool  # the same alarm reported again: nothing more was done
    opened: int  # lockers asked to open
    message: str


def kiosk_label(name: str) -> str:
    """"Staff room kiosk" for a kiosk named "Staff room" (or "Staff room kiosk")."""
    return name if name.lower().endswith("kiosk") else f"{name} kiosk"


def lockers_choice(session: Session) -> str:
    setting = session.get(Setting, LOCKERS)
    return setting.value if setting and setting.value in CHOICES else KEEP_LOCKED


def put_lockers_choice(session: Session, choice: str, actor: str) -> None:
    if choice not in CHOICES:
        raise ValidationError("Fire alarm: choose whether to open the lockers or keep them "
                              "locked.")
    if choice != lockers_choice(session):
        setting = session.get(Setting, LOCKERS) or Setting(key=LOCKERS)
        setting.value = choice
        session.add(setting)
        audit.record(session, actor, "settings.change", f"setting:{LOCKERS}", choice)


def current_alarm(session: Session) -> AlarmFlag | None:
    setting = session.get(Setting, FLAG)
    if setting is None or not setting.value:
        return None
    alarms = tuple(Alarm(a["kiosk"], datetime.fromisoformat(a["at"]), a["key"])
                   for a in json.loads(setting.value))
    return AlarmFlag(alarms) if alarms else None


def _save_flag(session: Session, alarms: tuple[Alarm, ...]) -> None:
    setting = session.get(Setting, FLAG) or Setting(key=FLAG)
    setting.value = json.dumps([{"kiosk": a.kiosk, "at": a.at.isoformat(), "key": a.key}
                                for a in alarms])
    session.add(setting)


def report_alarm(session: Session, kiosk_id: int, key: str, seen_at: datetime | None = None,
                 now: datetime | None = None) -> Outcome:
    """A kiosk's agent saw the fire panel go into alarm at ``seen_at`` (its clock; now if
    not given). Inside the caller's unit of work."""
    now = now or utc_now()
    late = seen_at is not None and now - seen_at > TOO_LATE_TO_OPEN
    kiosk = session.get(Kiosk, kiosk_id)
    if kiosk is None:
        raise NotFound("There is no such kiosk.")
    if not key or len(key) > MAX_KEY:
        raise ValidationError(f"Send the alarm's key (1 to {MAX_KEY} characters).")
    flag = current_alarm(session)
    earlier = flag.alarms if flag else ()
    if any(a.key == key and a.kiosk == kiosk.name for a in earlier):
        return Outcome(kiosk.name, True, 0, "This alarm was already recorded.")
    _save_flag(session, (*earlier, Alarm(kiosk.name, now, key)))
    choice = lockers_choice(session)
    opened = 0
    if choice == OPEN and late:
        done = (f"Lockers at {kiosk.bank.name} not opened: the alarm was reported more than "
                f"{TOO_LATE_TO_OPEN.seconds // 60} minutes after it went off.")
    elif choice == OPEN:
        openings = lock_commands.emergency_open(
            session, [kiosk.bank_id], f"Fire alarm reported by the {kiosk_label(kiosk.name)}",
            ACTOR, now)
        opened = sum(o.lockers for o in openings)
        done = f"{opened} lockers at {kiosk.bank.name} asked to open (the school's setting)."
    else:
        done = f"Lockers at {kiosk.bank.name} kept locked (the school's setting)."
    audit.record(session, ACTOR, "fire.alarm", f"kiosk:{kiosk.id}",
                 f"Fire alarm at the {kiosk_label(kiosk.name)}. {done}", at=now)
    return Outcome(kiosk.name, False, opened, f"Fire alarm recorded. {done}")


def clear_alarm(session: Session, actor: str, now: datetime | None = None) -> bool:
    """SLT or an admin says the alarm is over: the banner goes. False if none was raised."""
    flag = current_alarm(session)
    if flag is None:
        return False
    _save_flag(session, ())
    audit.record(session, actor, "fire.alarm_cleared", "",
                 f"Fire alarm of {flag.first.at.isoformat(timespec='minutes')} "
                 f"({flag.kiosks}) cleared.", at=now)
    return True
