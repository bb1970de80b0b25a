"""The register's tables. Plain SQLAlchemy 2.0 declarative models: no Flask here.

Invariants that matter under concurrency live in the database, not only in Python:
one open deposit per phone and one phone per locker are partial unique indexes.

Every change to these tables comes with an Alembic migration (register/migrations): a school's
Pi upgrades its database in place with ``flask --app kiosk init-db``.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, time

from sqlalchemy import (
    DDL,
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from register.text import search_form


def utc_now() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC on every backend, always returned as an aware UTC datetime."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous: pass an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class Category(enum.StrEnum):
    """The stakeholders named by the school's policy."""

    STAFF = "staff"
    GOVERNOR = "governor"
    VISITOR = "visitor"
    PARENT = "parent"
    AGENCY = "agency"
    STUDENT = "student"
    VOLUNTEER = "volunteer"
    CONTRACTOR = "contractor"

    @property
    def label(self) -> str:
        return {"agency": "Agency staff", "student": "Student (trainee)"}.get(
            self.value, self.value.capitalize()
        )


class Role(enum.StrEnum):
    ADMIN = "admin"
    OFFICE = "office"
    SLT = "slt"


class LockerBank(Base):
    __tablename__ = "locker_banks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    location: Mapped[str] = mapped_column(String(120), default="")

    lockers: Mapped[list[Locker]] = relationship(
        back_populates="bank", order_by="Locker.number", cascade="all, delete-orphan"
    )


class Locker(Base):
    __tablename__ = "lockers"
    __table_args__ = (UniqueConstraint("bank_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("locker_banks.id"))
    number: Mapped[int] = mapped_column(Integer)
    out_of_service: Mapped[bool] = mapped_column(Boolean, default=False)

    bank: Mapped[LockerBank] = relationship(back_populates="lockers")

    @property
    def display_name(self) -> str:
        return f"locker {self.number} ({self.bank.name})"


class Person(Base):
    """A stakeholder: anyone whose work brings them into contact with pupils."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    # The name as searched for (register.text.search_form): kept with the name, so search is
    # case- and accent-blind alike on SQLite and PostgreSQL.
    search_name: Mapped[str] = mapped_column(String(120), index=True, default="",
                                             server_default="")
    category: Mapped[str] = mapped_column(String(20))
    badge_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    fixed_locker_id: Mapped[int | None] = mapped_column(ForeignKey("lockers.id"), unique=True)
    email: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    left_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    left_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)

    fixed_locker: Mapped[Locker | None] = relationship()
    devices: Mapped[list[Device]] = relationship(back_populates="owner", order_by="Device.id")

    @validates("name")
    def _keep_search_name(self, _key: str, name: str) -> str:
        self.search_name = search_form(name)[:120]
        return name

    @property
    def category_label(self) -> str:
        return Category(self.category).label

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else self.name

    @property
    def current_devices(self) -> list[Device]:
        return [d for d in self.devices if d.retired_at is None]


class Device(Base):
    """A phone on the register. The label code goes on the QR sticker; the IMEI never does."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    imei: Mapped[str] = mapped_column(String(15), unique=True)
    imei2: Mapped[str | None] = mapped_column(String(15), unique=True)
    make: Mapped[str] = mapped_column(String(60), default="")
    model: Mapped[str] = mapped_column(String(60), default="")
    label_code: Mapped[str] = mapped_column(String(16), unique=True)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    registered_by: Mapped[str] = mapped_column(String(80), default="")
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    verified_by: Mapped[str | None] = mapped_column(String(80))
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    retired_reason: Mapped[str | None] = mapped_column(String(200))

    owner: Mapped[Person] = relationship(back_populates="devices")

    @property
    def description(self) -> str:
        return " ".join(part for part in (self.make, self.model) if part) or "Phone"


class Kiosk(Base):
    """A paired kiosk at one locker bank. Only a hash of its token is kept."""

    __tablename__ = "kiosks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("locker_banks.id"))
    # The agent's bearer token (``create-kiosk`` prints it once). Only hashes are kept.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The kiosk browser's own credential, given for a one-time pairing code; one browser at a time.
    browser_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    pairing_code_hash: Mapped[str | None] = mapped_column(String(64))
    pairing_code_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # A revoked kiosk's cookie and bearer token get 401 until it is paired again.
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    # The page is asking "who are you?" ("I need my phone today"): until then, the next scan on
    # the agent's readers only names the person (see register.scans).
    asking_until: Mapped[datetime | None] = mapped_column(UtcDateTime)

    bank: Mapped[LockerBank] = relationship()


class Deposit(Base):
    """A phone in a locker. Open while ``collected_at`` is null."""

    __tablename__ = "deposits"
    __table_args__ = (
        Index(
            "one_open_deposit_per_device",
            "device_id",
            unique=True,
            sqlite_where=text("collected_at IS NULL"),
            postgresql_where=text("collected_at IS NULL"),
        ),
        Index(
            "one_phone_per_locker",
            "locker_id",
            unique=True,
            sqlite_where=text("collected_at IS NULL"),
            postgresql_where=text("collected_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    locker_id: Mapped[int] = mapped_column(ForeignKey("lockers.id"))
    deposited_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    deposit_kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosks.id"))
    collected_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    collect_kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosks.id"))
    collected_by: Mapped[str | None] = mapped_column(String(80))

    device: Mapped[Device] = relationship()
    locker: Mapped[Locker] = relationship()
    door: Mapped[DepositDoor | None] = relationship(viewonly=True)

    @property
    def door_closed_at(self) -> datetime | None:
        """When the locker door was seen closed after this deposit: the deposit is complete."""
        return self.door.door_closed_at if self.door else None


class DepositDoor(Base):
    """The locker door seen closed again after a deposit (reported by the kiosk agent)."""

    __tablename__ = "deposit_doors"

    deposit_id: Mapped[int] = mapped_column(ForeignKey("deposits.id"), primary_key=True)
    door_closed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    # The stakeholder this user is: nobody decides their own exception request.
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    email: Mapped[str] = mapped_column(String(200), default="")
    # Set by an admin's password reset: the one-time password must be changed at sign-in.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False,
                                                       server_default=text("false"))
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    person: Mapped[Person | None] = relationship()

    @property
    def display_name(self) -> str:
        return self.person.name if self.person else self.username


class LoginFailure(Base):
    """Failed sign-ins, kept briefly, to throttle password guessing across all workers."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, index=True)


class UserSession(Base):
    """One sign-in. The cookie holds a random id; only its hash is kept here, and a session
    ended (logout, password change, disabled account, "sign out everywhere", idle or too old)
    is never revived."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end_reason: Mapped[str] = mapped_column(String(40), default="")
    remote_addr: Mapped[str] = mapped_column(String(64), default="")

    user: Mapped[User] = relationship()


class SignInThrottle(Base):
    """A failure counter per key (an account, an account at an address, an address, everyone),
    updated in one statement so that concurrent attempts cannot slip past it."""

    __tablename__ = "sign_in_throttles"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    held_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AuditEvent(Base):
    """Who did or saw what, when. Never holds an IMEI: ``subject`` names a record by id."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40), index=True)
    subject: Mapped[str] = mapped_column(String(100), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    # sha256 of the previous entry's hash and this entry's fields: `audit-verify` walks it.
    entry_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")


# PostgreSQL refuses to change or delete an audit entry, whoever asks (the app, a script,
# psql), with two narrow doors that only this product's own code opens, each for one
# transaction (SET LOCAL): the retention purge deletes entries older than a year (the shortest
# audit retention an admin can set; register/purge.py) and an erasure blanks the detail of an
# entry it first listed in audit_redactions (register/forget.py), changing nothing else.
# Made with the table by create_all (the tests) and by migrations 7c4d2e9a1f30, b5d91e2c7a64.
AUDIT_APPEND_ONLY = (
    """CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND current_setting('register.audit_purge', true) = 'on'
                AND OLD.at < (now() AT TIME ZONE 'UTC') - interval '1 year' THEN
            RETURN OLD;
        END IF;
        IF TG_OP = 'UPDATE' AND current_setting('register.audit_redact', true) = 'on'
                AND NEW.id = OLD.id AND NEW.at = OLD.at AND NEW.actor = OLD.actor
                AND NEW.action = OLD.action AND NEW.subject = OLD.subject
                AND NEW.entry_hash = OLD.entry_hash
                AND EXISTS (SELECT 1 FROM audit_redactions WHERE event_id = OLD.id) THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE =
            'audit entries cannot be changed or deleted (' || TG_OP || ' of entry '
            || OLD.id || ')';
    END
    $$""",
    """CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()""",
)
for _statement in AUDIT_APPEND_ONLY:
    event.listen(AuditEvent.__table__, "after_create",
                 DDL(_statement).execute_if(dialect="postgresql"))  # type: ignore[no-untyped-call]


class AuditPurge(Base):
    """Where the trail now starts: the last entry a retention purge removed, and its hash, so
    ``audit-verify`` checks the first entry kept against it. The newest row is the anchor."""

    __tablename__ = "audit_purges"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    through_id: Mapped[int] = mapped_column(Integer)  # the last entry removed
    through_hash: Mapped[str] = mapped_column(String(64))  # its entry_hash
    removed: Mapped[int] = mapped_column(Integer)


class AuditRedaction(Base):
    """An entry whose detail an erasure blanked (it named a reason about an erased person).
    Its hash is kept as it was, so the entries after it still chain; ``audit-verify`` takes
    the entry itself on trust and says how many it did."""

    __tablename__ = "audit_redactions"

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # no FK: purged in time
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    erasure_event_id: Mapped[int] = mapped_column(Integer)  # the "person.erase" entry


# --- readers, locks and the kiosk agent -------------------------------------------

class ScanReceipt(Base):
    """The first answer to a scan sent with an idempotency key; a repeat gets it back as it was.

    The scan claims its key before it acts (``INSERT ... ON CONFLICT DO NOTHING``): of two
    identical requests racing, the unique constraint lets one act; the other finds the answer.
    """

    __tablename__ = "scan_receipts"
    __table_args__ = (UniqueConstraint("kiosk_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id"))
    key: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, index=True)


class KioskEvent(Base):
    """Something the kiosk page should show: a scan made on a hardware reader, a lock that did
    not open, a door left open. The page polls for events with ids above the last it saw."""

    __tablename__ = "kiosk_events"
    __table_args__ = (Index("kiosk_events_by_kiosk", "kiosk_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id"))
    kind: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, index=True)


class AgentHeartbeat(Base):
    """The kiosk agent's last heartbeat. A kiosk "has an agent" once it has sent one.

    ``readers`` maps a reader's name (``rfid``, ``scanner``) to
    ``{"connected": bool, "detail": str, "since": ISO time of the last change}``.
    """

    __tablename__ = "agent_heartbeats"

    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id"), primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    readers: Mapped[dict[str, dict[str, object]]] = mapped_column(JSON, default=dict)

    kiosk: Mapped[Kiosk] = relationship()


class LockerDoor(Base):
    """A locker door's state as the agent last reported it; written only when it changes."""

    __tablename__ = "locker_doors"

    locker_id: Mapped[int] = mapped_column(ForeignKey("lockers.id"), primary_key=True)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id"), index=True)  # reported it
    state: Mapped[str] = mapped_column(String(10))  # open, closed or unknown
    since: Mapped[datetime] = mapped_column(UtcDateTime)
    warned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # "left open" published

    locker: Mapped[Locker] = relationship()


class LockCommand(Base):
    """"Open locker N" for one kiosk's agent. Handed out at most once, and never once it is
    older than a few seconds: no locker opens late, or by itself on power-up."""

    __tablename__ = "lock_commands"
    __table_args__ = (Index("lock_commands_pending", "kiosk_id", "handed_out_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id"))
    action: Mapped[str] = mapped_column(String(10), default="open")
    locker_number: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(20))  # deposit, collect, emergency
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, index=True)
    handed_out_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ok: Mapped[bool | None] = mapped_column(Boolean)
    error: Mapped[str] = mapped_column(String(200), default="")


# --- exceptions agreed by SLT, and who is on duty ---------------------------------

class ExceptionRequest(Base):
    """A request to keep a phone while on duty, and its outcome.

    The window is kept in the school's local dates and times (a recurring "every Tuesday,
    07:30 to 17:00" means local time, whatever the clocks do); ``weekdays`` lists the days it
    applies, Monday = 0. Status: pending, approved, declined, revoked or expired.
    """

    __tablename__ = "exception_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    category: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(300))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    day_from: Mapped[time | None] = mapped_column(Time)
    day_until: Mapped[time | None] = mapped_column(Time)
    weekdays: Mapped[str] = mapped_column(String(7), default="0123456")
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    approvals_needed: Mapped[int] = mapped_column(Integer, default=1)
    conditions: Mapped[str] = mapped_column(String(300), default="")
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_via: Mapped[str] = mapped_column(String(10))  # kiosk, office or slt
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When the kiosk told the requester the outcome (a request not agreed is said once, at
    # their next scan or "I need my phone today", without the reason).
    requester_told_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    person: Mapped[Person] = relationship()
    decisions: Mapped[list[ExceptionDecision]] = relationship(
        back_populates="request", order_by="ExceptionDecision.id")


class ExceptionDecision(Base):
    """Every approval, decline, revocation and expiry: who, when, what, why."""

    __tablename__ = "exception_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("exception_requests.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the system
    action: Mapped[str] = mapped_column(String(10))  # approve, decline, revoke, expire
    note: Mapped[str] = mapped_column(String(300), default="")

    request: Mapped[ExceptionRequest] = relationship(back_populates="decisions")
    user: Mapped[User | None] = relationship()


class Setting(Base):
    """School-wide settings an admin changes without a deploy."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


class DutyPeriod(Base):
    """From scanning in (depositing, or under an exception) to going off duty."""

    __tablename__ = "duty_periods"
    __table_args__ = (
        Index(
            "one_open_duty_per_person",
            "person_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    start_kind: Mapped[str] = mapped_column(String(10))  # deposit or exception
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end_kind: Mapped[str | None] = mapped_column(String(10))  # collect or sign_out
    kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosks.id"))

    person: Mapped[Person] = relationship()


# --- data protection: the policy acknowledged, and the evidence kept after a purge ------

class PolicyVersion(Base):
    """The school's phone policy as adopted at one annual review. The newest is current."""

    __tablename__ = "policy_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(40), unique=True)
    adopted_on: Mapped[date] = mapped_column(Date)
    summary: Mapped[str] = mapped_column(Text)  # what the kiosk shows: a few sentences
    text: Mapped[str] = mapped_column(Text)  # the whole policy, printed by the office
    published_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    published_by: Mapped[str] = mapped_column(String(80))


class PolicyAcknowledgement(Base):
    """A stakeholder said they had read one version: at the kiosk, or on paper at the office
    (recorded by the office on their behalf)."""

    __tablename__ = "policy_acknowledgements"
    __table_args__ = (UniqueConstraint("person_id", "policy_version_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    policy_version_id: Mapped[int] = mapped_column(ForeignKey("policy_versions.id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    via: Mapped[str] = mapped_column(String(10))  # kiosk or office
    kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosks.id"))
    recorded_by: Mapped[str] = mapped_column(String(100))  # kiosk:N or the office user

    person: Mapped[Person] = relationship()
    policy_version: Mapped[PolicyVersion] = relationship()


class ComplianceWeek(Base):
    """Staff-days in one week for one stakeholder category, kept before the duty periods and
    deposits behind them are purged: counts only, no names (register/archive.py)."""

    __tablename__ = "compliance_weeks"

    week_of: Mapped[date] = mapped_column(Date, primary_key=True)  # Monday
    category: Mapped[str] = mapped_column(String(20), primary_key=True)  # stakeholder
    on_duty: Mapped[int] = mapped_column(Integer)
    compliant: Mapped[int] = mapped_column(Integer)
    with_exception: Mapped[int] = mapped_column(Integer)


class ExceptionWeek(Base):
    """Exception requests made in one week in one exception category, by outcome (the
    policy report's columns), kept before the requests are purged: counts only."""

    __tablename__ = "exception_weeks"

    week_of: Mapped[date] = mapped_column(Date, primary_key=True)  # Monday
    category: Mapped[str] = mapped_column(String(20), primary_key=True)  # exception category
    requested: Mapped[int] = mapped_column(Integer)
    agreed: Mapped[int] = mapped_column(Integer)
    expired: Mapped[int] = mapped_column(Integer)
    revoked: Mapped[int] = mapped_column(Integer)
    declined: Mapped[int] = mapped_column(Integer)
    lapsed: Mapped[int] = mapped_column(Integer)
    pending: Mapped[int] = mapped_column(Integer)


# --- incidents under the phone policy ------------------------------------------------------

incident_people = Table(
    "incident_people", Base.metadata,
    Column("incident_id", ForeignKey("incidents.id"), primary_key=True),
    Column("person_id", ForeignKey("people.id"), primary_key=True, index=True),
)
incident_devices = Table(
    "incident_devices", Base.metadata,
    Column("incident_id", ForeignKey("incidents.id"), primary_key=True),
    Column("device_id", ForeignKey("devices.id"), primary_key=True, index=True),
)


class Incident(Base):
    """Something the phone policy asks staff to "report and record" (register/incidents.py):
    not a safeguarding concern, which goes to the school's own system and the DSL."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    location: Mapped[str] = mapped_column(String(120), default="")
    what_happened: Mapped[str] = mapped_column(Text)
    reported_by: Mapped[str] = mapped_column(String(120))  # who told the school, as typed
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    recorded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action_taken: Mapped[str] = mapped_column(Text, default="")
    action_by: Mapped[str] = mapped_column(String(120), default="")
    escalated_to: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)  # open, closed
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    recorded_by: Mapped[User | None] = relationship()
    people: Mapped[list[Person]] = relationship(secondary=incident_people,
                                                order_by="Person.name")
    devices: Mapped[list[Device]] = relationship(secondary=incident_devices,
                                                 order_by="Device.id")
