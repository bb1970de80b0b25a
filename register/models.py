"""The register's tables. Plain SQLAlchemy 2.0 declarative models: no Flask here.

Invariants that matter under concurrency live in the database, not only in Python:
one open deposit per phone and one phone per locker are partial unique indexes.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


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
    category: Mapped[str] = mapped_column(String(20))
    badge_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    fixed_locker_id: Mapped[int | None] = mapped_column(ForeignKey("lockers.id"), unique=True)
    email: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    left_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)

    fixed_locker: Mapped[Locker | None] = relationship()
    devices: Mapped[list[Device]] = relationship(back_populates="owner", order_by="Device.id")

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
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)

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


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class LoginFailure(Base):
    """Failed sign-ins, kept briefly, to throttle password guessing across all workers."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, index=True)


class AuditEvent(Base):
    """Who did or saw what, when. Never holds an IMEI: ``subject`` names a record by id."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40), index=True)
    subject: Mapped[str] = mapped_column(String(100), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
