"""Erasure ("the right to be forgotten"): an admin removes a person and everything about them.

``erase_person`` runs in the caller's unit of work, on top of register.forget:

1. It checks the reason (required, and kept in the audit trail after the name has gone, so
   it must not name them or hold a long number such as an IMEI or a badge) and that the admin
   is not erasing the person their own account is.
2. A user account linked to the person is disabled and its sessions end; it keeps its
   username, which is how the audit trail names what that user did (accountability), but
   loses its email address.
3. The "person.erase" entry is recorded (subject ``person:ID``, the reason and what was
   removed, by count), then ``forget`` deletes the person, phones, deposits, duty periods,
   requests and decisions and acknowledgements, and blanks the detail of audit entries about
   their records.
4. The one-day operational rows that may name them go: kiosk page events that show their
   first name, label codes or badge are deleted, and stored scan answers that do are replaced
   by a neutral answer (the key stays claimed, so a repeated scan still does nothing twice).

After the caller commits, ``clear_deleted_pages`` checkpoints SQLite's write-ahead log
(``secure_delete`` already zeroed the deleted rows in the pages): the name and IMEIs are then
in neither the database file nor its ``-wal`` file. PostgreSQL keeps deleted rows as dead
tuples until VACUUM, and in any backup taken before (README, "Subject access and erasure").
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from register import accounts, audit, forget
from register.db import execute
from register.deposits import open_deposit
from register.errors import ValidationError, refusal
from register.models import AuditRedaction, KioskEvent, Person, ScanReceipt, User
from register.subject_access import counted
from register.text import clean_text

MAX_REASON = 300
NOT_CLEARED = ("A long-running read kept SQLite's write-ahead log (the database's -wal file) "
               "from being emptied, so older copies of the erased rows may stay in it until "
               "it is: restart the service at a quiet time, which empties it.")
_LONG_NUMBER = re.compile(r"\d{8,}")
# What a repeated scan gets back once the answer it had named an erased person.
ERASED_ANSWER = refusal("erased", "This scan's answer was removed with a person's record.")


@dataclass(frozen=True)
class Erased:
    """What an erasure removed, by kind (no name: the person is "person #ID" from now on)."""

    person_id: int
    removed: dict[str, int]  # as register.forget.Footprint.counts(), and kiosk rows
    audit_entries_blanked: int
    accounts_disabled: list[str]
    erasure_entry_id: int

    def describe(self) -> str:
        """"2 phones, 14 deposits, ...": the kinds it removed any of."""
        return describe_counts(self.removed)

    @property
    def removed_lines(self) -> list[str]:
        return counted_kinds(self.removed)


def describe_counts(counts: dict[str, int]) -> str:
    """"2 phones, 1 deposit": the kinds there are any of."""
    return ", ".join(counted_kinds(counts)) or "nothing else"


def counted_kinds(counts: dict[str, int]) -> list[str]:
    return [counted(count, kind) for kind, count in counts.items() if count]


def check_reason(person: Person, typed: str) -> str:
    """The reason as kept: one line, present, not naming the person, no long number."""
    reason = " ".join(clean_text(typed, "The reason").split())
    if not reason:
        raise ValidationError("Give a reason for the erasure (for example: asked in writing "
                              "on 3 March, or left and asked to be forgotten). It is kept in "
                              "the audit trail.")
    if len(reason) > MAX_REASON:
        raise ValidationError(f"Keep the reason under {MAX_REASON} characters.")
    named = _name_in(person, reason)
    if named:
        raise ValidationError(f"The reason contains “{named}”, part of their name. The "
                              "reason is kept after the name is erased, so it must not name "
                              "them: write it without the name.")
    if _LONG_NUMBER.search(reason) or (person.badge_id and person.badge_id in reason):
        raise ValidationError("The reason must not hold a long number (an IMEI or a badge "
                              "number): it is kept in the audit trail after the record goes.")
    return reason


def _name_in(person: Person, reason: str) -> str | None:
    """The first part of the person's name (two letters or more) that the reason contains as
    a word, ignoring case."""
    words = {word.casefold() for word in re.findall(r"\w+", reason)}
    return next((part for part in re.findall(r"\w+", person.name)
                 if len(part) > 1 and part.casefold() in words), None)


def blockers(session: Session, person: Person, acting_user_id: int | None = None,
             ) -> list[str]:
    """Why ``person`` cannot be erased now, in sentences (none: they can be)."""
    found = []
    if acting_user_id is not None and session.scalar(select(User.id).where(
            User.id == acting_user_id, User.person_id == person.id)) is not None:
        found.append("Your own account is linked to this person: you cannot erase yourself. "
                     "Ask another admin.")
    for device in person.devices:
        deposit = open_deposit(session, device)
        if deposit is not None:
            # Erased, the deposit would go and the locker would look free with a phone inside.
            found.append(f"Their {device.description} is in locker {deposit.locker.number} "
                         f"({deposit.locker.bank.name}): give it back first (they collect it "
                         "at the kiosk, or the office opens the locker).")
    return found


def erase_person(session: Session, person: Person, reason: str, actor: str, now: datetime,
                 acting_user_id: int | None = None) -> Erased:
    """Erase ``person`` in the caller's unit of work (it commits; then, on SQLite, call
    ``clear_deleted_pages``). ``acting_user_id`` is the admin's own account, if any."""
    reason = check_reason(person, reason)
    refused = blockers(session, person, acting_user_id)
    if refused:
        raise ValidationError(refused[0])
    linked = list(session.scalars(select(User).where(User.person_id == person.id)
                                  .order_by(User.username)))
    for user in linked:
        accounts.disable(session, user, actor, now, acting_user_id)  # refuses the last admin
        user.email = ""
    needles = _needles(person)
    found = forget.footprint(session, person)
    kiosk_rows = _forget_operational_rows(session, needles)
    removed = {**found.counts(), "kiosk screen events and scan answers": kiosk_rows}
    entry = audit.record(session, actor, "person.erase", f"person:{person.id}",
                         f"{reason} (removed: {describe_counts(removed)})", at=now)
    session.flush()
    before = _blanked(session)
    forget.forget(session, person, redact_with=entry)
    return Erased(found.person_id, removed, _blanked(session) - before,
                  [user.username for user in linked], entry.id)


def _blanked(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditRedaction)) or 0


# --- the one-day operational tables ---------------------------------------------------------

@dataclass(frozen=True)
class _Needles:
    """What, in a stored scan answer or page event, points at the person."""

    words: frozenset[str]  # their first name (how the kiosk greets them), casefolded
    codes: frozenset[str]  # label codes, badge, IMEIs, and the kiosk's holder key

    def found_in(self, data: Any) -> bool:
        for text in _strings(data):
            if text in self.codes or any(code in text for code in self.codes):
                return True
            if self.words & {word.casefold() for word in re.findall(r"\w+", text)}:
                return True
        return False


def _needles(person: Person) -> _Needles:
    codes = {device.label_code for device in person.devices}
    codes |= {imei for device in person.devices for imei in (device.imei, device.imei2) if imei}
    if person.badge_id:
        codes.add(person.badge_id)
    # register.deposits.ScanResult.holder: the page's opaque key for whose card it is.
    codes.add(hashlib.sha256(f"kiosk-holder:{person.id}".encode()).hexdigest()[:12])
    return _Needles(frozenset({person.first_name.casefold()}), frozenset(codes))


def _strings(data: Any) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from _strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from _strings(value)


def _forget_operational_rows(session: Session, needles: _Needles) -> int:
    """Delete the page events and neutralise the stored answers that point at the person.
    Both tables hold about a day (older rows are forgotten as new ones come), so reading them
    whole is cheap; matching in Python sees the JSON as stored on either database. A first
    name shared with someone else loses that person's rows too: a day's screen events and
    repeat answers, never a record."""
    events = [ident for ident, data in session.execute(select(KioskEvent.id, KioskEvent.data))
              if needles.found_in(data)]
    answers = [ident for ident, body in session.execute(select(ScanReceipt.id, ScanReceipt.body))
               if body != ERASED_ANSWER and needles.found_in(body)]
    if events:
        execute(session, delete(KioskEvent).where(KioskEvent.id.in_(events)))
    for ident in answers:
        execute(session, update(ScanReceipt).where(ScanReceipt.id == bindparam("receipt"))
                .values(body=ERASED_ANSWER), {"receipt": ident})
    return len(events) + len(answers)


# --- after the commit -----------------------------------------------------------------------

def clear_deleted_pages(engine: Engine) -> bool:
    """On SQLite, copy the write-ahead log into the database file and empty it (TRUNCATE),
    so no older copy of a deleted page stays in the ``-wal`` file; ``secure_delete`` has
    zeroed the deleted rows in the pages themselves. Returns False if a reader kept the log
    from being emptied (the next checkpoint does it). Nothing to do on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return True
    connection = engine.raw_connection()  # outside any transaction: a checkpoint must be
    try:
        cursor = connection.cursor()
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        row: Any = cursor.fetchone()  # (busy, frames in the log, frames copied)
        cursor.close()
    finally:
        connection.close()
    return row is not None and not row[0]
