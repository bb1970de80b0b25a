"""Sign-in throttling (register.throttle through accounts.authenticate), on a real database with
an injected clock; the web view's client address, behind trusted proxies; and two gunicorn
workers taking concurrent attempts."""

from __future__ import annotations

import http.client
import os
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.config import ConfigError, load
from register import accounts, throttle
from register.db import unit_of_work
from register.models import AuditEvent, LoginFailure, SignInThrottle, User
from tests.conftest import FAST_HASH, PASSWORD
from tests.servers import Gunicorn

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
WRONG = "not the password"
HERE = "10.0.0.7"
ELSEWHERE = "10.0.0.8"


@pytest.fixture
def users(session: Session) -> Session:
    for name in ("office", "admin"):
        session.add(User(username=name, password_hash=FAST_HASH, role=name))
    session.commit()
    return session


def sign_in(session: Session, password: str = WRONG, address: str = HERE,
            at: datetime = T0, username: str = "office") -> accounts.SignIn:
    with unit_of_work(session):
        return accounts.authenticate(session, username, password, address, now=at)


def checked(session: Session, username: str = "office") -> int:
    """How many attempts reached the password check (each failed one leaves a record)."""
    return session.scalar(select(func.count()).select_from(LoginFailure)
                          .where(LoginFailure.username == username)) or 0


def test_the_delay_grows_from_the_fourth_failure_and_is_said_in_words(users):
    session = users
    for _ in range(4):  # three free, and the fourth is checked too
        assert sign_in(session).refusal == "That username and password do not match."
    held = sign_in(session, PASSWORD, at=T0 + timedelta(milliseconds=500))
    assert held.user is None
    assert held.refusal == ("Too many attempts from this computer. Try again in 1 second, or "
                            "ask an admin to unlock the account.")
    assert checked(session) == 4  # the right password was never checked while held
    assert "do not match" in sign_in(session, at=T0 + timedelta(seconds=1)).refusal
    # Then 2 s, 4 s, 8 s ...
    assert "Try again in 2 seconds" in sign_in(session, at=T0 + timedelta(seconds=1.5)).refusal
    assert "do not match" in sign_in(session, at=T0 + timedelta(seconds=3)).refusal
    assert "Try again in 4 seconds" in sign_in(session, at=T0 + timedelta(seconds=3)).refusal
    assert checked(session) == 6


def test_the_delay_is_capped_at_fifteen_minutes(users):
    session = users
    at = T0
    for _ in range(20):
        outcome = sign_in(session, at=at)
        if "Try again" in outcome.refusal:
            at = at + timedelta(minutes=15)  # never more than this
            outcome = sign_in(session, at=at)
        assert "do not match" in outcome.refusal
    held = sign_in(session, at=at + timedelta(seconds=1))
    assert "Try again in 15 minutes" in held.refusal
    assert sign_in(session, PASSWORD, at=at + timedelta(minutes=15)).user is not None


def test_the_right_password_from_another_address_works_while_one_is_held(users):
    session = users
    for _ in range(5):
        sign_in(session)
    assert "Try again" in sign_in(session, PASSWORD).refusal
    assert sign_in(session, PASSWORD, address=ELSEWHERE).user is not None
    assert "Try again" in sign_in(session, PASSWORD).refusal  # still held here


def test_a_success_starts_the_count_at_that_address_again(users):
    session = users
    for _ in range(3):
        sign_in(session)
    assert sign_in(session, PASSWORD).user is not None
    for _ in range(4):
        assert "do not match" in sign_in(session).refusal


def test_an_account_takes_at_most_100_failures_an_hour_then_waits_for_the_hour(users):
    session = users
    for n in range(100):  # from 100 addresses: no address is held
        assert "do not match" in sign_in(session, address=f"10.1.0.{n}",
                                         at=T0 + timedelta(seconds=n)).refusal
    held = sign_in(session, PASSWORD, address=ELSEWHERE, at=T0 + timedelta(minutes=20))
    assert held.refusal == ("Too many failed sign-ins for this account in the last hour. Try "
                            "again in 40 minutes, or ask an admin to unlock the account.")
    assert checked(session) == 100
    # Another account is not affected, and this one signs in when the hour is over.
    assert sign_in(session, PASSWORD, address=ELSEWHERE, username="admin",
                   at=T0 + timedelta(minutes=20)).user is not None
    assert sign_in(session, PASSWORD, address=ELSEWHERE, at=T0 + timedelta(hours=1)).user


def test_one_address_trying_one_password_on_30_usernames_is_held_back(users):
    session = users
    refusals = [sign_in(session, username=f"user{n}", at=T0 + timedelta(seconds=n / 100))
                for n in range(30)]
    reached = sum(checked(session, f"user{n}") for n in range(30))
    assert reached == 11  # ten free, the eleventh starts the wait
    assert all("do not match" in refusal.refusal for refusal in refusals[:11])
    assert all(refusal.refusal.startswith("Too many failed sign-ins from this computer.")
               for refusal in refusals[11:])
    # The right password from another computer still works.
    assert sign_in(session, PASSWORD, address=ELSEWHERE, at=T0 + timedelta(seconds=3)).user


def test_past_the_global_ceiling_only_addresses_with_no_failure_today_may_try(users):
    session = users
    # 999 failures this hour from across the network (set as they would be left).
    session.add(SignInThrottle(key="everyone", failures=999, window_started_at=T0))
    session.commit()
    assert "do not match" in sign_in(session, at=T0 + timedelta(minutes=10)).refusal
    held = sign_in(session, PASSWORD, at=T0 + timedelta(minutes=10, seconds=5))
    assert held.refusal.startswith("Too many failed sign-ins on this server in the last hour. "
                                   "Try again in 50 minutes")
    assert sign_in(session, PASSWORD, address=ELSEWHERE,
                   at=T0 + timedelta(minutes=10, seconds=5)).user is not None
    assert sign_in(session, PASSWORD, at=T0 + timedelta(hours=1)).user is not None


def test_an_admin_unlocks_an_account_held_everywhere(users):
    session = users
    for n in range(100):
        sign_in(session, address=f"10.1.0.{n % 50}", at=T0 + timedelta(seconds=n))
    assert "Try again" in sign_in(session, PASSWORD, at=T0 + timedelta(minutes=2)).refusal
    with unit_of_work(session):
        throttle.unlock(session, "Office", actor="admin")
    assert sign_in(session, PASSWORD, address="10.1.0.3", at=T0 + timedelta(minutes=2)).user
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "signin.unlock"))
    assert (event.actor, event.subject) == ("admin", "user:office")
    assert checked(session) == 100  # the record of failures is kept


def test_unknown_usernames_are_counted_like_real_ones(users):
    session = users
    for _ in range(4):
        assert "do not match" in sign_in(session, username="nobody").refusal
    assert "Try again" in sign_in(session, username="nobody").refusal


def test_old_counters_and_failure_records_are_purged(users):
    session = users
    sign_in(session, address="10.9.9.9", at=T0)
    later = T0 + timedelta(days=31)
    sign_in(session, at=later)  # a failure purges what is old
    keys = set(session.scalars(select(SignInThrottle.key)))
    assert keys == {"pair:office|10.0.0.7", "address:10.0.0.7", "account:office", "everyone"}
    assert [f.remote_addr for f in session.scalars(select(LoginFailure))] == [HERE]
    with unit_of_work(session):
        throttle.purge(session, later + timedelta(days=3))
    assert session.scalar(select(func.count()).select_from(SignInThrottle)) == 0


def test_waits_are_said_in_seconds_then_minutes():
    assert throttle.describe_wait(timedelta(seconds=0.2)) == "1 second"
    assert throttle.describe_wait(timedelta(seconds=59)) == "59 seconds"
    assert throttle.describe_wait(timedelta(seconds=61)) == "2 minutes"
    assert throttle.describe_wait(timedelta(minutes=1)) == "1 minute"


# --- the web view: which address ---------------------------------------------------------------

def post_login(client, password: str, remote_addr: str, forwarded_for: str | None = None):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post("/login", data={"username": "office", "password": password},
                       headers=headers, environ_base={"REMOTE_ADDR": remote_addr})


def test_the_sign_in_page_says_how_long_to_wait(client, web_school):
    for _ in range(4):
        post_login(client, WRONG, HERE)
    response = post_login(client, PASSWORD, HERE)
    assert response.status_code in (401, 429)
    assert b"Too many attempts from this computer. Try again in 1 second" in response.data
    assert post_login(client, PASSWORD, ELSEWHERE).status_code == 302


def test_without_trusted_proxies_a_forwarded_address_is_ignored(client, web_school):
    for n in range(5):  # a client cannot dodge its hold by inventing addresses
        post_login(client, WRONG, HERE, forwarded_for=f"192.0.2.{n}")
    assert b"Try again" in post_login(client, PASSWORD, HERE, forwarded_for="192.0.2.99").data


@pytest.fixture
def proxied_client(app_config):
    from kiosk import create_app
    from kiosk.extensions import db

    app = create_app({**app_config, "TRUSTED_PROXIES": 1})
    with app.app_context():
        db.create_all()
    yield app.test_client()
    with app.app_context():
        db.engine.dispose()


def test_behind_one_trusted_proxy_the_forwarded_address_is_the_clients(proxied_client,
                                                                         web_school):
    proxy = "127.0.0.1"
    for _ in range(5):
        post_login(proxied_client, WRONG, proxy, forwarded_for=HERE)
    assert b"Try again" in post_login(proxied_client, PASSWORD, proxy, forwarded_for=HERE).data
    # Another staff member behind the same proxy is not held back.
    assert post_login(proxied_client, PASSWORD, proxy, forwarded_for=ELSEWHERE).status_code == 302
    # Only the last hop counts: an address the client put in front is not believed.
    spoofed = post_login(proxied_client, PASSWORD, proxy, forwarded_for=f"192.0.2.1, {HERE}")
    assert b"Try again" in spoofed.data


def test_hsts_behind_a_trusted_proxy_comes_from_x_forwarded_proto(proxied_client, client):
    over_https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": HERE}
    assert "Strict-Transport-Security" in proxied_client.get("/login", headers=over_https).headers
    assert "Strict-Transport-Security" not in proxied_client.get("/login").headers
    # Without TRUSTED_PROXIES the header is the client's word, and not believed.
    assert "Strict-Transport-Security" not in client.get("/login", headers=over_https).headers


@pytest.mark.parametrize("value", ["one", "-1", "6", "1.5", "²"])
def test_trusted_proxies_must_be_a_small_number(tmp_path, value):
    with pytest.raises(ConfigError, match=f"TRUSTED_PROXIES={value} is not a number"):
        load(str(tmp_path), {"KIOSK_ENV": "demo", "TRUSTED_PROXIES": value})
    assert load(str(tmp_path), {"KIOSK_ENV": "demo"})["TRUSTED_PROXIES"] == 0
    assert load(str(tmp_path), {"KIOSK_ENV": "demo", "TRUSTED_PROXIES": "2"})[
        "TRUSTED_PROXIES"] == 2


# --- two gunicorn workers, concurrent attempts ---------------------------------------------------

ATTEMPTS = 40


@pytest.fixture
def gunicorn(engine, database_url_for_test, tmp_path) -> Iterator[int]:
    """The product under gunicorn with two workers, as `make run` serves it, on this test's
    database (a SQLite file, or the PostgreSQL test database), with CSRF on."""
    with Session(engine) as session:
        session.add(User(username="office", password_hash=FAST_HASH, role="office"))
        session.commit()
    env = {**os.environ, "KIOSK_ENV": "demo", "DATABASE_URL": database_url_for_test}
    server = Gunicorn("kiosk:create_app()", env, tmp_path / "gunicorn.log")
    server.start()
    try:
        yield server.port
    finally:
        server.stop()
    assert "Traceback" not in server.log.read_text(), server.log.read_text()


def _login_form(port: int) -> tuple[str, str]:
    """A browser's first step: the sign-in page's session cookie and its CSRF token."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/login")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie", "").split(";", 1)[0]
    connection.close()
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, page
    return cookie, match.group(1)


def test_concurrent_attempts_on_two_workers_do_not_slip_past_the_throttle(gunicorn, engine):
    forms = [_login_form(gunicorn) for _ in range(ATTEMPTS)]
    start = threading.Barrier(ATTEMPTS)
    answers: list[tuple[int, str]] = []

    def attempt(cookie: str, token: str) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", gunicorn, timeout=60)
        body = urlencode({"csrf_token": token, "username": "office", "password": WRONG})
        start.wait()
        connection.request("POST", "/login", body, {
            "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        answers.append((response.status, response.read().decode()))
        connection.close()

    threads = [threading.Thread(target=attempt, args=form) for form in forms]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began

    assert len(answers) == ATTEMPTS
    assert {status for status, _ in answers} <= {401, 429}
    mismatched = sum("That username and password do not match." in page for _, page in answers)
    held = sum("Too many attempts from this computer." in page for _, page in answers)
    assert mismatched + held == ATTEMPTS
    with Session(engine) as session:
        reached = checked(session)
        audited = session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "signin.failed"))
    # The policy: four at once, then one more after 1 s, 3 s, 7 s ... of the burst.
    allowed = 4 + sum(1 for wait in (1, 3, 7, 15, 31) if wait <= elapsed)
    assert 4 <= reached <= allowed, (reached, elapsed)
    assert reached == mismatched == audited
