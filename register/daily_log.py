"""The daily log: one local day's deposits and collections, in time order, and what they say.

- **Events**: every phone put into a locker or taken out that day (person, category, locker,
  kiosk, time).
- **Still in at the end of the day**: phones in a locker at the time the school day ends
  (a setting, 17:00 unless an admin changes it), wherever they were put in; for today before
  that time, the phones in lockers now.
- **Late collections**: taken out at or after the end of the day. **Early collections**: taken
  out before the "early before" time (15:00 unless changed) on the day they were put in, by
  someone who did not put a phone back in later that day: a lunchtime out-and-back (out at
  12:30, in again at 13:10) is not an early collection.
  **Overnight**: taken out on a later day than they were put in (never flagged early).

Times are the school's local time; ``deposits`` hold UTC. The log is as it stood at ``now``
(nothing after it), so any past moment can be asked about. Queries only: the page, the CSV and
their audit entries live with the web app.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

from register import settings
from register.errors import ValidationError
from register.models import Category, Deposit, Device, Kiosk, Locker
from register.printing import name_key

# Settings (``register.settings``), as local wall-clock times "HH:MM".
DAY_ENDS = "school_day_ends"
EARLY_BEFORE = "early_collection_before"
DEFAULT_DAY_ENDS = time(17, 0)
DEFAULT_EARLY_BEFORE = time(15, 0)

DEPOSITED, COLLECTED = "deposited", "collected"
EARLY, LATE, OVERNIGHT = "early", "late", "overnight"
FLAG_LABELS = {EARLY: "Early", LATE: "Late", OVERNIGHT: "Overnight"}


# --- the school day's times ------------------------------------------------------------------

@dataclass(frozen=True)
class DayTimes:
    day_ends: time = DEFAULT_DAY_ENDS
    early_before: time = DEFAULT_EARLY_BEFORE


def _parse_time(text: str, what: str) -> time:
    try:
        value = time.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(f"Give {what} as a time of day, e.g. 17:00.") from None
    if value.second or value.microsecond or value.tzinfo:
        raise ValidationError(f"Give {what} in hours and minutes, e.g. 17:00.")
    return value


def day_times(session: Session) -> DayTimes:
    """The school's settings, or the defaults if unset (or unreadable: never a broken page)."""
    try:
        ends = _parse_time(settings.get(session, DAY_ENDS, DEFAULT_DAY_ENDS.isoformat("minutes")),
                           "the end of the day")
    except ValidationError:
        ends = DEFAULT_DAY_ENDS
    try:
        early = _parse_time(settings.get(session, EARLY_BEFORE,
                                         DEFAULT_EARLY_BEFORE.isoformat("minutes")),
                            "the early time")
    except ValidationError:
        early = DEFAULT_EARLY_BEFORE
    return DayTimes(ends, min(early, ends))


def set_day_times(session: Session, day_ends: str, early_before: str, actor: str) -> DayTimes:
    """Change the settings (audited by ``settings.put``); the caller commits."""
    wanted = DayTimes(_parse_time(day_ends, "the end of the school day"),
                      _parse_time(early_before, "the time before which a collection is early"))
    if wanted.early_before > wanted.day_ends:
        raise ValidationError("A collection cannot be early after the school day has ended: "
                              "choose an early time no later than the end of the day.")
    current = day_times(session)
    if wanted.day_ends != current.day_ends:
        settings.put(session, DAY_ENDS, wanted.day_ends.isoformat("minutes"), actor)
    if wanted.early_before != current.early_before:
        settings.put(session, EARLY_BEFORE, wanted.early_before.isoformat("minutes"), actor)
    return wanted


# --- the log ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class LogEntry:
    """A phone put in or taken out; for "still in", ``at`` is when it was put in."""

    at: datetime
    kind: str  # deposited or collected
    person_id: int
    name: str
    category: str
    locker: int
    bank: str
    kiosk: str  # "" if none was recorded
    deposited_at: datetime
    flag: str = ""  # early, late or overnight (collections only)

    @property
    def category_label(self) -> str:
        return Category(self.category).label

    @property
    def flag_label(self) -> str:
        return FLAG_LABELS.get(self.flag, "")


@dataclass(frozen=True)
class DailyLog:
    day: date
    times: DayTimes
    ends_at: datetime  # the end of the school day, as an instant
    as_of: datetime  # "still in" is counted at this instant: the end of the day, or now
    entries: list[LogEntry]  # deposits and collections, in time order
    still_in: list[LogEntry]  # by name

    @property
    def day_over(self) -> bool:
        return self.as_of >= self.ends_at

    def _count(self, kind: str = "", flag: str = "") -> list[LogEntry]:
        return [e for e in self.entries if (not kind or e.kind == kind)
                and (not flag or e.flag == flag)]

    @property
    def deposits(self) -> list[LogEntry]:
        return self._count(DEPOSITED)

    @property
    def collections(self) -> list[LogEntry]:
        return self._count(COLLECTED)

    @property
    def late(self) -> list[LogEntry]:
        return self._count(COLLECTED, LATE)

    @property
    def early(self) -> list[LogEntry]:
        return self._count(COLLECTED, EARLY)

    @property
    def overnight(self) -> list[LogEntry]:
        return self._count(COLLECTED, OVERNIGHT)

    @property
    def records(self) -> int:
        """How many lines the log holds (for the audit trail)."""
        return len(self.entries) + len(self.still_in)


def daily_log(session: Session, day: date, zone: tzinfo, now: datetime,
              times: DayTimes | None = None) -> DailyLog:
    if day > now.astimezone(zone).date():
        raise ValidationError("That day has not come yet: choose today or an earlier day.")
    times = times or day_times(session)
    starts = datetime.combine(day, time(0), zone)
    ends_midnight = datetime.combine(day + timedelta(days=1), time(0), zone)
    ends_at = datetime.combine(day, times.day_ends, zone)
    as_of = min(ends_at, now)
    early_until = datetime.combine(day, times.early_before, zone)

    deposits = list(session.scalars(
        select(Deposit)
        .where(or_(and_(Deposit.deposited_at >= starts, Deposit.deposited_at < ends_midnight),
                   and_(Deposit.collected_at >= starts, Deposit.collected_at < ends_midnight),
                   and_(Deposit.deposited_at < as_of,
                        or_(Deposit.collected_at.is_(None), Deposit.collected_at > as_of))))
        .options(selectinload(Deposit.device).selectinload(Device.owner),
                 selectinload(Deposit.locker).selectinload(Locker.bank))))
    kiosks: dict[int, str] = {k.id: k.name for k in session.scalars(select(Kiosk))}

    def entry(deposit: Deposit, at: datetime, kind: str, kiosk_id: int | None,
              flag: str = "") -> LogEntry:
        owner = deposit.device.owner
        return LogEntry(at, kind, owner.id, owner.name, owner.category, deposit.locker.number,
                        deposit.locker.bank.name, kiosks.get(kiosk_id or 0, ""),
                        deposit.deposited_at, flag)

    entries: list[LogEntry] = []
    still_in: list[LogEntry] = []
    for deposit in deposits:
        put_in, taken_out = deposit.deposited_at, deposit.collected_at
        if starts <= put_in < ends_midnight and put_in <= now:
            entries.append(entry(deposit, put_in, DEPOSITED, deposit.deposit_kiosk_id))
        if taken_out is not None and starts <= taken_out < ends_midnight and taken_out <= now:
            entries.append(entry(deposit, taken_out, COLLECTED, deposit.collect_kiosk_id,
                                 _flag(put_in, taken_out, starts, early_until, ends_at)))
        if put_in < as_of and (taken_out is None or taken_out > as_of):
            still_in.append(entry(deposit, put_in, DEPOSITED, deposit.deposit_kiosk_id))
    entries = _out_and_back_is_not_early(entries)
    # Within one second a phone can go in and out: the deposit first.
    entries.sort(key=lambda e: (e.at, e.kind != DEPOSITED, name_key(e.name), e.locker))
    still_in.sort(key=lambda e: (name_key(e.name), e.bank, e.locker))
    return DailyLog(day, times, ends_at, as_of, entries, still_in)


def _out_and_back_is_not_early(entries: list[LogEntry]) -> list[LogEntry]:
    """An early collection followed, the same day, by the same person putting a phone back
    in was a break (lunch, a call), not leaving early: it keeps no flag."""
    back_at: dict[int, datetime] = {}
    for e in entries:
        if e.kind == DEPOSITED:
            back_at[e.person_id] = max(e.at, back_at.get(e.person_id, e.at))
    return [replace(e, flag="") if e.flag == EARLY and back_at.get(e.person_id, e.at) > e.at
            else e for e in entries]


def _flag(put_in: datetime, taken_out: datetime, day_starts: datetime, early_until: datetime,
          ends_at: datetime) -> str:
    if put_in < day_starts:
        return OVERNIGHT
    if taken_out >= ends_at:
        return LATE
    if taken_out < early_until:
        return EARLY
    return ""
