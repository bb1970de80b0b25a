"""Fixtures: every test runs on a real database, SQLite by default or PostgreSQL when
TEST_DATABASE_URL names one (``make test`` runs the suite on both)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from kiosk import create_app
from kiosk.extensions import db
from register import kiosks, people, scans, settings
from register.db import configure_engine, database_url, unit_of_work
from register.models import Base, Device, Kiosk, LockerBank, Person, User

LONDON = ZoneInfo("Europe/London")
PASSWORD = "correct horse battery"
# Cheap to check, unlike the production default: tests sign in hundreds of times.
FAST_HASH = generate_password_hash(PASSWORD, "pbkdf2:sha256:1000")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def pytest_report_header() -> str:
    return f"database: {_postgres_url() or 'SQLite (a new file per test)'}"


def _postgres_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL")
    return database_url(url) if url else None


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    """A throwaway PostgreSQL database for this run, so runs never share tables."""
    url = _postgres_url()
    if url is None:
        yield None
        return
    server = make_url(url)
    name = f"kiosk_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    test_url = server.set(database=name).render_as_string(hide_password=False)
    engine = create_engine(test_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    yield test_url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def database_url_for_test(postgres_database: str | None, tmp_path: Path) -> Iterator[str]:
    if postgres_database is None:
        yield f"sqlite:///{tmp_path / 'register.sqlite3'}"
        return
    yield postgres_database
    engine = create_engine(postgres_database)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def engine(database_url_for_test: str) -> Iterator[Engine]:
    engine = create_engine(database_url_for_test)
    configure_engine(engine)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A plain SQLAlchemy session for service-layer tests: no Flask involved."""
    with Session(engine) as session:
        yield session


@dataclass
class School:
    """A small school: two banks of four lockers, a kiosk at each, three people."""

    staff_room: LockerBank
    reception: LockerBank
    staff_kiosk: Kiosk
    reception_kiosk: Kiosk
    staff_kiosk_token: str
    reception_kiosk_token: str
    alice: Person  # one phone, no own locker
    bob: Person  # two phones
    carol: Person  # one phone, own locker 3 in the staff room
    alice_phone: Device
    bob_phone: Device
    bob_work_phone: Device
    carol_phone: Device


def build_school(session: Session) -> School:
    staff_room = people.add_bank(session, "Staff room", 4, "test")
    reception = people.add_bank(session, "Reception", 4, "test")
    staff_kiosk, staff_token = kiosks.create_kiosk(session, "Staff kiosk", "Staff room")
    reception_kiosk, reception_token = kiosks.create_kiosk(session, "Front kiosk", "Reception")

    def person(name: str, badge: str, locker: int | None = None) -> Person:
        return people.add_person(session, people.PersonDetails(
            name=name, category="staff", badge_id=badge, fixed_locker_id=locker), "test")

    def phone(owner: Person, imei: str, model: str) -> Device:
        return people.register_device(
            session, owner, people.DeviceDetails(imei=imei, make="Test", model=model), "test")

    alice = person("Alice Adams", "0003887558")
    bob = person("Bob Brown", "0000000222")
    carol = person("Carol Clark", "0000000333", staff_room.lockers[2].id)
    school = School(
        staff_room, reception, staff_kiosk, reception_kiosk, staff_token, reception_token,
        alice, bob, carol,
        alice_phone=phone(alice, "490154203237518", "A1"),
        bob_phone=phone(bob, "354178036859789", "B1"),
        bob_work_phone=phone(bob, "352099001761481", "B2"),
        carol_phone=phone(carol, "350077523237513", "C1"),
    )
    session.commit()
    return school


@pytest.fixture
def school(session: Session) -> School:
    return build_school(session)


class Shown(SimpleNamespace):
    """A scan's answer as the kiosk shows it, its fields readable as attributes; ``str`` is
    the sentence on the screen."""

    def __str__(self) -> str:
        return str(self.message)


def _shown(value: Any) -> Any:
    if isinstance(value, dict):
        return Shown(**{key: _shown(item) for key, item in value.items()})
    if isinstance(value, list):
        return [_shown(item) for item in value]
    return value


def scan_code(session: Session, kiosk_id: int, code: str, now: datetime | None = None,
              zone: tzinfo = LONDON, **options: Any) -> Shown:
    """A scan through the real use case in its own unit of work, as the web layer runs it."""
    with unit_of_work(session):
        answer = scans.scan(session, kiosk_id, scans.ScanRequest(code, **options), zone, now)
    shown = _shown({**answer.body, "reason": answer.reason, "repeated": answer.repeated})
    shown.body = answer.body
    return shown


def set_rescan_guard(session: Session, seconds: int) -> None:
    """The admin's second-scan guard (60 s unless set): a test of what a later scan does, or of
    something else that scans twice in a row, turns it off."""
    settings.put(session, settings.RESCAN_GUARD_SECONDS, str(seconds), "test")
    session.commit()


def set_rescan_guard_in(app: Any, seconds: int) -> None:
    """The same, for the web app's database."""
    with app.app_context(), Session(db.engine) as session:
        set_rescan_guard(session, seconds)


# --- the web app ---------------------------------------------------------------------------

@pytest.fixture
def app_config(database_url_for_test: str, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    # Production is the default; the tests ask for the demo, as `make run` does (a test of
    # production behaviour sets PRODUCTION itself), and so do the commands they start.
    monkeypatch.setenv("KIOSK_ENV", "demo")
    return {
        "TESTING": True,
        "KIOSK_ENV": "demo",
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url_for_test,
        "WTF_CSRF_ENABLED": False,
        "SCHOOL_NAME": "Test Primary School",
    }


@pytest.fixture
def app(app_config: dict[str, object]):
    app = create_app(app_config)
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def web_school(app) -> School:
    """The same school, built outside any request; its objects stay readable after commit."""
    with app.app_context(), Session(db.engine, expire_on_commit=False) as session:
        school = build_school(session)
        for username, role in (("office", "office"), ("slt", "slt"), ("admin", "admin")):
            session.add(User(username=username, password_hash=FAST_HASH, role=role))
        session.commit()
    return school


class AuthActions:
    def __init__(self, client) -> None:
        self._client = client

    def login(self, username: str = "office", password: str = PASSWORD):
        return self._client.post("/login", data={"username": username, "password": password})

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# --- pairing a kiosk's browser -------------------------------------------------------------

def new_pairing_code(app, kiosk_name: str = "Staff kiosk") -> str:
    """A one-time pairing code for the kiosk, as an admin makes one."""
    with app.app_context(), unit_of_work(db.session()) as session:
        return kiosks.start_pairing(session, kiosks.kiosk_named(session, kiosk_name),
                                    "test").code


def pair_browser(client, kiosk_name: str = "Staff kiosk"):
    """Pair ``client`` as the kiosk's screen, as its browser does once: a one-time code
    typed at /kiosk/pair, exchanged for the browser's own cookie."""
    code = new_pairing_code(client.application, kiosk_name)
    form = client.get("/kiosk/pair").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    response = client.post("/kiosk/pair", data={"code": code,
                                                "csrf_token": csrf.group(1) if csrf else ""})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response
