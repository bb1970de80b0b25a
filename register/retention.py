"""How long each kind of record is kept: admin settings with documented defaults.

The purge (register/purge.py, ``flask --app kiosk purge``), the privacy notice, the admin
settings page and docs/data-protection.md all read these, so they never disagree. The
one-day operational tables (scan receipts, kiosk events, lock commands, sign-in throttles)
are not settings: they are forgotten after a day as they always were.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from register import settings
from register.errors import ValidationError
from register.text import whole_number

MONTHS, DAYS = "months", "days"


@dataclass(frozen=True)
class Kind:
    """One kind of record and how long it is kept by default, in its own unit."""

    key: str  # also the setting's name: retention_<key>
    label: str  # as the privacy notice and the settings page say it
    covers: str  # the records it applies to, in plain words
    unit: str  # months or days
    default: int
    low: int
    high: int
    why: str  # why this long, for the notice and the DPIA

    @property
    def setting(self) -> str:
        return f"retention_{self.key}"

    def describe(self, amount: int) -> str:
        """"13 months", "30 days", "2 years" (whole years read better)."""
        if self.unit == MONTHS and amount % 12 == 0:
            years = amount // 12
            return f"{years} year{'' if years == 1 else 's'}"
        unit = self.unit[:-1] if amount == 1 else self.unit
        return f"{amount} {unit}"


KINDS: tuple[Kind, ...] = (
    Kind("deposits", "Deposits, duty periods and kiosk scans",
         "when each phone went into and came out of a locker, and when each person was on "
         "duty", MONTHS, 13, 1, 84,
         "a school year and a term, so the annual review of the policy can look back a year"),
    Kind("exceptions", "Exception requests and decisions",
         "requests to keep a phone on duty, their reasons, and every SLT decision",
         MONTHS, 13, 1, 84,
         "a school year and a term, for the annual review"),
    Kind("incidents", "Incidents",
         "incidents recorded under the phone policy, with the people and phones involved "
         "and the action taken; an incident still open is kept until it is closed",
         MONTHS, 13, 1, 84,
         "a school year and a term, for the annual review"),
    Kind("leavers", "People who have left, with their phones",
         "the register entry and phones of someone marked as left, and everything above "
         "about them", DAYS, 30, 1, 365,
         "long enough to put right a mistaken leaving date, then gone"),
    Kind("login_failures", "Failed sign-ins",
         "the username tried and the computer's network address; sign-ins that have ended, "
         "with their times and address", DAYS, 30, 1, 365,
         "to spot password guessing; of no use after a month"),
    Kind("audit", "Audit trail",
         "who viewed, printed, exported or changed personal data, and when",
         MONTHS, 24, 12, 84,
         "to answer questions about access to personal data, and for inspection"),
)
BY_KEY = {kind.key: kind for kind in KINDS}


@dataclass(frozen=True)
class Retention:
    """The amount kept for each kind, in that kind's unit."""

    amounts: dict[str, int]

    def amount(self, key: str) -> int:
        return self.amounts[key]

    def describe(self, key: str) -> str:
        return BY_KEY[key].describe(self.amounts[key])

    def cutoff(self, key: str, now: datetime) -> datetime:
        """Records of this kind dated before this instant are past keeping."""
        kind, amount = BY_KEY[key], self.amounts[key]
        if kind.unit == DAYS:
            return now - timedelta(days=amount)
        return months_before(now, amount)

    @classmethod
    def defaults(cls) -> Retention:
        return cls({kind.key: kind.default for kind in KINDS})


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months earlier (the 31st becomes the last
    day of a shorter month)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def retention(session: Session) -> Retention:
    """The settings as saved, each checked when it was saved; the default for one not set."""
    amounts = {}
    for kind in KINDS:
        number = whole_number(settings.get(session, kind.setting))
        amounts[kind.key] = (number if number is not None and kind.low <= number <= kind.high
                             else kind.default)
    return Retention(amounts)


def put_retention(session: Session, typed: dict[str, str], actor: str) -> Retention:
    """Check every amount as typed (keyed by kind) and save those that changed; refuses with a
    sentence, saving none, when one is out of range."""
    current = retention(session)
    amounts = {}
    for kind in KINDS:
        number = whole_number(typed.get(kind.key, str(current.amount(kind.key))).strip())
        if number is None or not kind.low <= number <= kind.high:
            raise ValidationError(f"{kind.label}: give a number of {kind.unit} from {kind.low} "
                                  f"to {kind.high}.")
        amounts[kind.key] = number
    for kind in KINDS:
        if amounts[kind.key] != current.amount(kind.key):
            settings.put(session, kind.setting, str(amounts[kind.key]), actor)
    return Retention(amounts)


# Whom a person asks about their data: the school's data protection officer.
DPO_CONTACT = "dpo_contact"
DPO_CONTACT_LIMIT = 300


def dpo_contact(session: Session) -> str:
    """As the admin typed it (a name, an email address, a phone number); "" when not set."""
    return settings.get(session, DPO_CONTACT)


def put_dpo_contact(session: Session, typed: str, actor: str) -> str:
    contact = " ".join(typed.split())
    if len(contact) > DPO_CONTACT_LIMIT:
        raise ValidationError(f"Data protection officer: at most {DPO_CONTACT_LIMIT} "
                              "characters.")
    if contact != dpo_contact(session):
        settings.put(session, DPO_CONTACT, contact, actor)
    return contact
