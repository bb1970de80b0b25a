"""Server-side sign-in sessions: a captured cookie is worth nothing once its session has ended
(signing out, a password change, a disabled account, even one enabled again), and sessions
end by themselves when unused too long or too old (a moved clock, never a wait)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from sqlalchemy import select

from kiosk import auth
from kiosk.extensions import db
from register import sessions, settings
from register.db import unit_of_work
from register.models import AuditEvent, User, UserSession
from tests.conftest import PASSWORD

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
NEW_PASSWORD = "plum orbit lantern seven"


class Clock:
    """The time the web app reads, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock(T0)
    monkeypatch.setattr(auth, "utc_now", clock)
    return clock


def person_page(web_school) -> str:
    return f"/office/people/{web_school.alice.id}"


def assert_refused(response, web_school) -> None:
    """Sent to sign in, and nothing of the register in what came back."""
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    body = response.get_data(as_text=True)
    assert web_school.alice.name not in body and "490154203237518" not in body


def cookie(client) -> str:
    return client.get_cookie("session").value


def replay(app, value: str):
    """A fresh browser holding a captured cookie."""
    other = app.test_client()
    other.set_cookie("session", value)
    return other


def sessions_of(app, username: str) -> list[UserSession]:
    with app.app_context():
        return list(db.session.scalars(
            select(UserSession).join(UserSession.user).where(User.username == username)
            .order_by(UserSession.id)))


def test_a_signed_in_browser_reaches_the_register(client, auth, web_school):
    auth.login()
    page = client.get(person_page(web_school))
    assert page.status_code == 200 and web_school.alice.name in page.get_data(as_text=True)


def test_the_cookie_holds_a_random_token_and_the_database_only_its_hash(app, client, auth,
                                                                         web_school):
    auth.login()
    with client.session_transaction() as cookie_session:
        token = cookie_session[auth_key()]
        assert set(cookie_session) <= {auth_key(), "_permanent", "_fresh", "csrf_token"}
    assert len(token) >= 40
    [row] = sessions_of(app, "office")
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() != token
    assert row.remote_addr == "127.0.0.1" and row.ended_at is None
    with app.app_context():
        assert db.session.scalar(select(User.last_sign_in_at)
                                 .where(User.username == "office")) is not None


def auth_key() -> str:
    return auth.SESSION_KEY


def test_a_cookie_replayed_after_signing_out_is_refused(app, client, auth, web_school):
    auth.login()
    captured = cookie(client)
    auth.logout()
    assert_refused(replay(app, captured).get(person_page(web_school)), web_school)
    [row] = sessions_of(app, "office")
    assert row.end_reason == sessions.LOGOUT and row.ended_at is not None


def test_a_cookie_replayed_after_a_password_change_is_refused(app, client, auth, web_school):
    auth.login()
    captured = cookie(client)
    elsewhere = app.test_client()  # the same user on another computer
    elsewhere.post("/login", data={"username": "office", "password": PASSWORD})
    changed = client.post("/account/password", data={
        "current": PASSWORD, "new": NEW_PASSWORD, "again": NEW_PASSWORD})
    assert changed.status_code == 302 and changed.headers["Location"] == "/office/"
    # The browser that changed it carries on, with a fresh session ...
    assert client.get(person_page(web_school)).status_code == 200
    assert cookie(client) != captured
    # ... and every session from before is over.
    assert_refused(replay(app, captured).get(person_page(web_school)), web_school)
    assert_refused(elsewhere.get(person_page(web_school)), web_school)
    reasons = [s.end_reason for s in sessions_of(app, "office")]
    assert reasons == [sessions.PASSWORD_CHANGED, sessions.PASSWORD_CHANGED, ""]


def test_a_cookie_replayed_after_the_account_is_disabled_is_refused(app, client, auth,
                                                                     web_school):
    auth.login()
    captured = cookie(client)
    admin = app.test_client()
    admin.post("/login", data={"username": "admin", "password": PASSWORD})
    office_id = user_id(app, "office")
    assert admin.post(f"/admin/users/{office_id}/disable").status_code == 302
    assert_refused(replay(app, captured).get(person_page(web_school)), web_school)
    assert_refused(client.get(person_page(web_school)), web_school)


def test_enabling_the_account_again_does_not_revive_an_old_cookie(app, client, auth,
                                                                   web_school):
    auth.login()
    captured = cookie(client)
    admin = app.test_client()
    admin.post("/login", data={"username": "admin", "password": PASSWORD})
    office_id = user_id(app, "office")
    admin.post(f"/admin/users/{office_id}/disable")
    admin.post(f"/admin/users/{office_id}/enable")
    assert_refused(replay(app, captured).get(person_page(web_school)), web_school)
    # A new sign-in works.
    again = app.test_client()
    again.post("/login", data={"username": "office", "password": PASSWORD})
    assert again.get(person_page(web_school)).status_code == 200


def test_an_account_disabled_in_the_database_is_refused_and_its_session_ended(app, client,
                                                                               auth, web_school):
    auth.login()
    with app.app_context(), unit_of_work(db.session()) as transaction:
        transaction.scalar(select(User).where(User.username == "office")).active = False
    assert_refused(client.get(person_page(web_school)), web_school)
    [row] = sessions_of(app, "office")
    assert row.end_reason == sessions.DISABLED


def test_a_cookie_from_before_server_side_sessions_is_refused(client, web_school, app):
    with client.session_transaction() as old:  # signed with the real key: a forged user id
        old["user_id"] = user_id(app, "admin")
    assert_refused(client.get(person_page(web_school)), web_school)
    with client.session_transaction() as after:
        assert "user_id" not in after


def test_an_unknown_token_is_refused(client, web_school):
    with client.session_transaction() as forged:
        forged[auth_key()] = "not-a-session-anyone-started"
    assert_refused(client.get(person_page(web_school)), web_school)


def user_id(app, username: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


# --- idle and absolute expiry, on a moved clock ----------------------------------------------

def test_a_session_unused_for_longer_than_the_idle_limit_ends(app, client, auth, web_school,
                                                              clock):
    auth.login()
    clock.advance(minutes=29)
    assert client.get(person_page(web_school)).status_code == 200
    clock.advance(minutes=29)  # 29 minutes since last used: still in
    assert client.get(person_page(web_school)).status_code == 200
    clock.advance(minutes=31)
    assert_refused(client.get(person_page(web_school)), web_school)
    [row] = sessions_of(app, "office")
    assert row.end_reason == sessions.IDLE and row.ended_at == clock.now
    notice = client.get("/login").get_data(as_text=True)
    assert "You were signed out after 30 minutes without use." in notice


def test_a_session_in_constant_use_still_ends_after_its_longest_life(app, client, auth,
                                                                     web_school, clock):
    auth.login()
    for _ in range(12 * 4):
        clock.advance(minutes=15)
        assert client.get("/office/").status_code == 200
    clock.advance(minutes=1)  # 12 hours and a minute after signing in
    assert_refused(client.get(person_page(web_school)), web_school)
    [row] = sessions_of(app, "office")
    assert row.end_reason == sessions.EXPIRED
    assert "A sign-in lasts at most 12 hours." in client.get("/login").get_data(as_text=True)


def test_the_limits_are_the_admins_settings_and_apply_at_once(app, client, auth, web_school,
                                                              clock):
    auth.login()
    with app.app_context(), unit_of_work(db.session()) as transaction:
        settings.put_session_limits(transaction, "60", "2", "test")
    clock.advance(minutes=45)
    assert client.get(person_page(web_school)).status_code == 200
    clock.advance(minutes=59)
    assert client.get(person_page(web_school)).status_code == 200
    clock.advance(minutes=17)  # 2 hours and a minute
    assert_refused(client.get(person_page(web_school)), web_school)
    assert "A sign-in lasts at most 2 hours." in client.get("/login").get_data(as_text=True)


def test_last_use_is_written_about_once_a_minute_not_on_every_page(app, client, auth,
                                                                   web_school, clock):
    auth.login()
    for _ in range(5):
        clock.advance(seconds=10)
        assert client.get("/office/").status_code == 200
    [row] = sessions_of(app, "office")
    assert row.last_seen_at == T0  # 50 seconds of pages: no write
    clock.advance(seconds=15)
    # A page that only reads (read_only_view) still opens after the session is touched.
    assert client.get("/office/people/new").status_code == 200
    [row] = sessions_of(app, "office")
    assert row.last_seen_at == T0 + timedelta(seconds=65)


def test_the_cookie_expires_with_the_sign_in(client, auth, web_school, clock):
    """Unused, the cookie goes when the idle limit would end the session; in use, it is
    renewed, but never beyond the sign-in's longest life."""
    assert _cookie_expiry(auth.login()) == T0 + timedelta(minutes=30)
    clock.advance(minutes=20)
    assert _cookie_expiry(client.get("/office/")) == T0 + timedelta(minutes=50)
    while clock.now < T0 + timedelta(hours=11, minutes=40):
        clock.advance(minutes=20)
        response = client.get("/office/")
        assert response.status_code == 200
    assert _cookie_expiry(response) == T0 + timedelta(hours=12)


def _cookie_expiry(response) -> datetime | None:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith("session="):
            for part in header.split(";"):
                if part.strip().lower().startswith("expires="):
                    return parsedate_to_datetime(part.split("=", 1)[1])
    return None


def test_a_signature_outlives_no_sign_in(app):
    assert app.permanent_session_lifetime <= timedelta(hours=24)


# --- a one-time password must be changed before anything else -------------------------------

def test_a_user_with_a_one_time_password_must_change_it_first(app, client, auth, web_school):
    with app.app_context(), unit_of_work(db.session()) as transaction:
        office = transaction.scalar(select(User).where(User.username == "office"))
        office.must_change_password = True
    signed_in = auth.login(password=PASSWORD)
    assert signed_in.headers["Location"] == "/account/password"
    for page in ("/office/", person_page(web_school), "/office/lockers", "/"):
        response = client.get(page)
        assert response.status_code == 302, page
        assert response.headers["Location"] == "/account/password"
    form = client.get("/account/password").get_data(as_text=True)
    assert "You signed in with a one-time password. Choose your own now" in form
    refused = client.post("/account/password", data={
        "current": PASSWORD, "new": "password1234", "again": "password1234"})
    assert refused.status_code == 400
    assert "on a list of common passwords" in refused.get_data(as_text=True)
    changed = client.post("/account/password", data={
        "current": PASSWORD, "new": NEW_PASSWORD, "again": NEW_PASSWORD})
    assert changed.headers["Location"] == "/office/"
    assert client.get(person_page(web_school)).status_code == 200


def test_signing_out_works_while_a_password_must_change(app, client, auth, web_school):
    with app.app_context(), unit_of_work(db.session()) as transaction:
        transaction.scalar(select(User).where(User.username == "office")
                           ).must_change_password = True
    auth.login()
    assert auth.logout().headers["Location"] == "/login"
    assert client.get("/office/").headers["Location"].startswith("/login")


@pytest.mark.parametrize(("form", "sentence"), [
    ({"current": "wrong password!", "new": NEW_PASSWORD, "again": NEW_PASSWORD},
     "Your current password is not right"),
    ({"current": PASSWORD, "new": NEW_PASSWORD, "again": NEW_PASSWORD + "x"},
     "The two new passwords are not the same"),
    ({"current": PASSWORD, "new": "short one", "again": "short one"},
     "at least 12 characters"),
    ({"current": PASSWORD, "new": PASSWORD, "again": PASSWORD},
     "not the one you have now"),
])
def test_a_password_change_is_refused_with_a_sentence(app, client, auth, web_school, form,
                                                      sentence):
    auth.login()
    response = client.post("/account/password", data=form)
    assert response.status_code == 400
    assert sentence in response.get_data(as_text=True)
    assert client.get(person_page(web_school)).status_code == 200  # still signed in
    auth.logout()
    assert auth.login(password=PASSWORD).status_code == 302  # the old password still works


def test_a_password_change_is_audited_without_the_password(app, client, auth, web_school):
    auth.login("slt")
    client.post("/account/password", data={
        "current": PASSWORD, "new": NEW_PASSWORD, "again": NEW_PASSWORD})
    with app.app_context():
        events = db.session.scalars(select(AuditEvent)).all()
    assert ("slt", "user.password_change", "user:slt") in {
        (e.actor, e.action, e.subject) for e in events}
    assert not any(NEW_PASSWORD in e.detail or PASSWORD in e.detail for e in events)
    auth.logout()
    assert auth.login("slt", NEW_PASSWORD).headers["Location"] == "/slt/"


# --- the same rules in the service layer, with the clock passed in ---------------------------

def test_sessions_check_takes_the_clock(session, school):
    user = User(username="u", password_hash="x", role="office")
    session.add(user)
    session.flush()
    token = sessions.start(session, user, "10.0.0.9", T0)
    session.commit()
    assert sessions.check(session, token, T0 + timedelta(seconds=30)).user is user
    assert sessions.check(session, token, T0 + timedelta(seconds=30)).needs_touch is False
    assert sessions.check(session, token, T0 + timedelta(minutes=2)).needs_touch is True
    assert sessions.check(session, token, T0 + timedelta(minutes=31)).ended == sessions.IDLE
    sessions.touch(session, sessions.check(session, token, T0).session_id, T0 + timedelta(hours=12))
    assert sessions.check(session, token, T0 + timedelta(hours=12, seconds=1)
                          ).ended == sessions.EXPIRED
    assert sessions.check(session, "nonsense", T0).user is None
