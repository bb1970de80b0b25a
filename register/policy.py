"""The school's phone policy, acknowledged: the versions adopted at each annual review, and
who said they had read which version, when and where.

- An admin publishes a version (title, version, the date it was adopted, a summary short enough
  for the kiosk's screen, and the whole text the office prints). The newest is current.
- Each active stakeholder acknowledges the current version once: at the kiosk, on a scan, by
  tapping **I have read it** under its summary; or on paper, recorded by the office on their
  behalf (visitors and contractors). A second acknowledgement of the same version does nothing.
- The kiosk never waits for it: the scan acts as always, and its answer also carries the
  summary and a short-lived signed token (``AskTokens``) naming the person, the version and
  the kiosk, which the tap sends back. The scan pays for this with at most one indexed
  statement (``unread``), and none when no version has been published (the current version's
  id rides on the statement that reads the kiosk: ``CURRENT_VERSION_ID``).
- Coverage: by stakeholder category, how many active people have acknowledged the current
  version; and who has not, for the office.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, bindparam, exists, func, select
from sqlalchemy.orm import Session

from register import audit
from register.db import execute, insert_unless_present
from register.errors import NotFound, RegisterError, ValidationError
from register.models import (
    Category,
    Person,
    PolicyAcknowledgement,
    PolicyVersion,
    utc_now,
)
from register.text import clean_text

KIOSK, OFFICE = "kiosk", "office"  # where an acknowledgement was made (``via``)
TITLE_LIMIT, VERSION_LIMIT = 200, 40  # the columns' sizes
SUMMARY_LIMIT = 600  # a few sentences: what fits on the kiosk's 7-inch screen beside a result
TEXT_LIMIT = 300_000  # a long policy with its appendices is about 40,000 characters
FIRST_YEAR, LAST_YEAR = 2000, 2099
ASK_VALID_FOR = timedelta(minutes=5)  # the tap comes while the result is on the screen
WHOLE_POLICY = "The whole policy is on paper at the office."

# The current version's id, as a column of another statement (the scan's kiosk read): the
# newest by id, read off the primary key's index.
CURRENT_VERSION_ID = select(func.max(PolicyVersion.id)).scalar_subquery()
_ACKNOWLEDGED = exists().where(PolicyAcknowledgement.person_id == bindparam("person_id"),
                               PolicyAcknowledgement.policy_version_id == PolicyVersion.id)
# The scan's one statement: the version's summary, only if this person has not read it.
_UNREAD = (select(PolicyVersion.id, PolicyVersion.version, PolicyVersion.title,
                  PolicyVersion.summary)
           .where(PolicyVersion.id == bindparam("version_id"), ~_ACKNOWLEDGED))


# --- versions --------------------------------------------------------------------------------

def publish_version(session: Session, title: str, version: str, adopted_on: date | str,
                    summary: str, text: str, actor: str,
                    now: datetime | None = None) -> PolicyVersion:
    """A new current version, from the annual review; refuses with a sentence, saving
    nothing, when a field is missing, too long, or the version's name is taken."""
    title = _one_line(title, "The title", TITLE_LIMIT)
    version = _one_line(version, "The version", VERSION_LIMIT)
    adopted = _adopted_on(adopted_on)
    summary = _paragraphs(summary, "The summary for the kiosk")
    text = _paragraphs(text, "The whole text")
    if len(summary) > SUMMARY_LIMIT:
        raise ValidationError(
            f"The summary for the kiosk is {len(summary):,} characters: at most "
            f"{SUMMARY_LIMIT} fit on the kiosk's screen. Keep it to a few sentences; the whole "
            "text is printed for anyone who wants it.")
    if len(text) > TEXT_LIMIT:
        raise ValidationError(f"The whole text is {len(text):,} characters: at most "
                              f"{TEXT_LIMIT:,}.")
    taken = session.scalar(select(PolicyVersion).where(
        func.lower(PolicyVersion.version) == version.lower()))
    if taken is not None:
        raise ValidationError(
            f"Version {taken.version} was already published (adopted "
            f"{taken.adopted_on:%-d %B %Y}). Give this review's version a new name, such as "
            "the school year it starts.")
    current = current_version(session)
    if current is not None and adopted < current.adopted_on:
        raise ValidationError(
            f"The current version, {current.version}, was adopted on "
            f"{current.adopted_on:%-d %B %Y}: a new version is adopted on or after that day.")
    now = now or utc_now()
    published = PolicyVersion(title=title, version=version, adopted_on=adopted,
                              summary=summary, text=text, published_at=now,
                              published_by=actor)
    session.add(published)
    session.flush()
    audit.record(session, actor, "policy.publish", f"policy:{published.id}",
                 f"version {version}, adopted {adopted.isoformat()}", at=now)
    return published


def current_version(session: Session) -> PolicyVersion | None:
    """The newest version published, or None before the first."""
    return session.scalar(select(PolicyVersion).order_by(PolicyVersion.id.desc()).limit(1))


def versions(session: Session) -> list[PolicyVersion]:
    """Every version, newest first."""
    return list(session.scalars(select(PolicyVersion).order_by(PolicyVersion.id.desc())))


def version_by_id(session: Session, version_id: int) -> PolicyVersion:
    found = session.get(PolicyVersion, version_id)
    if found is None:
        raise NotFound("There is no such version of the policy.")
    return found


def _one_line(typed: str, what: str, limit: int) -> str:
    value = " ".join(clean_text(typed, what).split())
    if not value:
        raise ValidationError(f"{what} is needed.")
    if len(value) > limit:
        raise ValidationError(f"{what} is {len(value)} characters: at most {limit}.")
    return value


def _paragraphs(typed: str, what: str) -> str:
    """Line breaks kept (they are the paragraphs), Windows' CR LF as LF, spaces at the ends of
    lines dropped, and several blank lines as one (the printed policy's paragraph break)."""
    lines = clean_text(typed.replace("\r\n", "\n").replace("\r", "\n"), what).split("\n")
    value = re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in lines)).strip()
    if not value:
        raise ValidationError(f"{what} is needed.")
    return value


def _adopted_on(typed: date | str) -> date:
    try:
        day = typed if isinstance(typed, date) else date.fromisoformat(typed.strip())
    except ValueError:
        raise ValidationError("Give the date it was adopted as a date, e.g. "
                              "2026-09-01.") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValidationError(f"Give the date it was adopted between {FIRST_YEAR} and "
                              f"{LAST_YEAR}.")
    return day


# --- acknowledgements ------------------------------------------------------------------------

@dataclass(frozen=True)
class Acknowledged:
    """An acknowledgement as recorded; ``new`` is False when it had been made before."""

    person_id: int
    version: str
    at: datetime
    via: str
    new: bool


def needs_acknowledgement(session: Session, person_id: int) -> PolicyVersion | None:
    """The current version if this person has not acknowledged it, else None (also when no
    version has been published)."""
    current = current_version(session)
    if current is None:
        return None
    done = session.scalar(select(PolicyAcknowledgement.id).where(
        PolicyAcknowledgement.person_id == person_id,
        PolicyAcknowledgement.policy_version_id == current.id))
    return None if done is not None else current


def acknowledge(session: Session, person: Person, version: PolicyVersion, via: str,
                recorded_by: str, kiosk_id: int | None = None,
                now: datetime | None = None) -> Acknowledged:
    """Record that ``person`` has read ``version``, in the caller's unit of work: at the kiosk
    (``via`` kiosk, ``kiosk_id``) or on paper (``via`` office, ``recorded_by`` the office
    user). Once per person and version: of two taps racing, the unique index keeps one, and
    only that one is audited."""
    if via not in (KIOSK, OFFICE):
        raise ValueError(f"via is {KIOSK} or {OFFICE}")
    now = now or utc_now()
    inserted = insert_unless_present(
        session, PolicyAcknowledgement,
        {"person_id": person.id, "policy_version_id": version.id, "at": now, "via": via,
         "kiosk_id": kiosk_id, "recorded_by": recorded_by},
        ("person_id", "policy_version_id"), returning=PolicyAcknowledgement.id).scalar()
    if inserted is None:
        earlier = session.scalars(select(PolicyAcknowledgement).where(
            PolicyAcknowledgement.person_id == person.id,
            PolicyAcknowledgement.policy_version_id == version.id)).one()
        return Acknowledged(person.id, version.version, earlier.at, earlier.via, new=False)
    where = "at the kiosk" if via == KIOSK else "on paper, recorded by the office"
    audit.record(session, recorded_by, "policy.acknowledge", f"person:{person.id}",
                 f"version {version.version} (policy:{version.id}), {where}", at=now)
    return Acknowledged(person.id, version.version, now, via, new=True)


# --- the kiosk's question --------------------------------------------------------------------

@dataclass(frozen=True)
class Ask:
    """The policy a person has not yet acknowledged, as the kiosk shows it."""

    version_id: int
    version: str
    title: str
    summary: str


def unread(session: Session, person_id: int, version_id: int) -> Ask | None:
    """The version (the current one, whose id the caller read) if this person has not
    acknowledged it: one indexed statement, for the scan path (Core: no ORM bookkeeping)."""
    row = execute(session, _UNREAD, {"version_id": version_id, "person_id": person_id}).first()
    return None if row is None else Ask(row.id, row.version, row.title, row.summary)


class AskRefused(RegisterError):
    """A tap whose token is not one this kiosk was given, or is too old."""

    reason = "policy_ask"


@dataclass(frozen=True)
class AskTokens:
    """Short-lived tokens for the kiosk's **I have read it**: ``person.version.kiosk.expiry``
    and an HMAC of them with the app's secret key. The scan's answer carries one; the tap
    sends it back, from the same kiosk, within ``valid_for``."""

    secret: bytes
    valid_for: timedelta = ASK_VALID_FOR

    def issue(self, person_id: int, version_id: int, kiosk_id: int, now: datetime) -> str:
        expires = int((now + self.valid_for).timestamp())
        payload = f"{person_id}.{version_id}.{kiosk_id}.{expires}"
        return f"{payload}.{self._mac(payload)}"

    def read(self, token: object, kiosk_id: int, now: datetime) -> tuple[int, int]:
        """The person's and the version's ids; AskRefused if the token was not made here
        for this kiosk, or has expired."""
        parts = token.split(".") if isinstance(token, str) and len(token) <= 200 else []
        if len(parts) != 5 or not all(part.isascii() and part.isdigit() for part in parts[:4]):
            raise AskRefused(_NOT_ASKED_HERE)
        payload, mac = ".".join(parts[:4]), parts[4]
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise AskRefused(_NOT_ASKED_HERE)
        person_id, version_id, asked_at, expires = (int(part) for part in parts[:4])
        if asked_at != kiosk_id:
            raise AskRefused(_NOT_ASKED_HERE)
        if now.timestamp() > expires:
            raise AskRefused("That question has timed out: nothing was recorded. Scan again "
                             "to see the policy's summary.")
        return person_id, version_id

    def _mac(self, payload: str) -> str:
        return hmac.new(self.secret, f"policy-ask:{payload}".encode(), hashlib.sha256
                        ).hexdigest()[:32]


_NOT_ASKED_HERE = ("That question was not asked at this kiosk: nothing was recorded. Scan "
                   "again to see the policy's summary.")


def acknowledge_at_kiosk(session: Session, tokens: AskTokens, token: object, kiosk_id: int,
                         now: datetime | None = None) -> tuple[Person, Acknowledged]:
    """The tap on **I have read it**, in the caller's unit of work."""
    now = now or utc_now()
    person_id, version_id = tokens.read(token, kiosk_id, now)
    person = session.get(Person, person_id)
    version = session.get(PolicyVersion, version_id)
    if person is None or version is None:  # erased, or a database restored meanwhile
        raise AskRefused(_NOT_ASKED_HERE)
    return person, acknowledge(session, person, version, KIOSK, f"kiosk:{kiosk_id}",
                               kiosk_id, now)


def ask_body(ask: Ask, token: str | None) -> dict[str, str | None]:
    """What a scan's answer carries for the kiosk (``policy``)."""
    return {"version": ask.version, "title": ask.title, "summary": ask.summary,
            "whole": WHOLE_POLICY, "token": token}


# --- coverage --------------------------------------------------------------------------------

@dataclass(frozen=True)
class CoverageRow:
    category: str
    label: str
    people: int  # active stakeholders in the category
    acknowledged: int  # of them, those who acknowledged the current version

    @property
    def not_yet(self) -> int:
        return self.people - self.acknowledged

    @property
    def rate(self) -> float | None:
        return self.acknowledged / self.people if self.people else None


@dataclass(frozen=True)
class Coverage:
    """Who has acknowledged the current version, by category; ``version`` None before the
    first is published."""

    version: PolicyVersion | None
    rows: list[CoverageRow]

    @property
    def total(self) -> CoverageRow:
        return CoverageRow("", "All", sum(r.people for r in self.rows),
                           sum(r.acknowledged for r in self.rows))


def coverage(session: Session) -> Coverage:
    """Every stakeholder category in the policy's order, with its active people and how many
    of them acknowledged the current version. Counts only: no names."""
    current = current_version(session)
    version_id = current.id if current is not None else -1
    counted = session.execute(
        select(Person.category, func.count(Person.id), func.count(PolicyAcknowledgement.id))
        .outerjoin(PolicyAcknowledgement, and_(
            PolicyAcknowledgement.person_id == Person.id,
            PolicyAcknowledgement.policy_version_id == version_id))
        .where(Person.active).group_by(Person.category))
    by_category = {category: (people, acknowledged) for category, people, acknowledged in counted}
    return Coverage(current, [
        CoverageRow(category.value, category.label, *by_category.get(category.value, (0, 0)))
        for category in Category])


def not_acknowledged(session: Session, category: str | None = None) -> list[Person]:
    """Active people who have not acknowledged the current version, by name; in one
    stakeholder category if given. Empty before a version is published."""
    current = current_version(session)
    if current is None:
        return []
    query = (select(Person).where(Person.active, ~exists().where(
        PolicyAcknowledgement.person_id == Person.id,
        PolicyAcknowledgement.policy_version_id == current.id))
        .order_by(Person.search_name, Person.id))
    if category:
        if category not in {c.value for c in Category}:
            raise ValidationError("Choose one of the stakeholder categories.")
        query = query.where(Person.category == category)
    return list(session.scalars(query))
