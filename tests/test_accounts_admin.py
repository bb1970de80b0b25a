"""Accounts for admins, on the page and on the command line: list, create, disable and
enable, reset a password, unlock, sign out everywhere; every action audited, no password in
the audit trail, and no way to lock the school out of its own register."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from kiosk.extensions import db
from register.db import unit_of_work
from register.models import AuditEvent, User, UserSession
from tests.conftest import PASSWORD

NEW_PASSWORD = "plum orbit lantern seven"
ONE_TIME = re.compile(r'id="one-time-password">([a-z0-9-]+)<')


@pytest.fixture
def admin(app, web_school):
    """A browser signed in as the admin."""
    browser = app.test_client()
    assert browser.post("/login", data={"username": "admin", "password": PASSWORD}
                        ).status_code == 302
    return browser


def signed_in(app, username: str, password: str = PASSWORD):
    browser = app.test_client()
    response = browser.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser


def user(app, username: str) -> User:
    with app.app_context():
        found = db.session.scalar(select(User).where(User.username == username))
        db.session.expunge(found)
        return found


def audit_trail(app) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def audited(app) -> set[tuple[str, str, str]]:
    return {(e.actor, e.action, e.subject) for e in audit_trail(app)}


def open_sessions(app, username: str) -> int:
    with app.app_context():
        return len(db.session.scalars(
            select(UserSession).join(UserSession.user)
            .where(User.username == username, UserSession.ended_at.is_(None))).all())


def page_text(response) -> str:
    return response.get_data(as_text=True)


# --- the list ----------------------------------------------------------------------------

def test_the_list_shows_each_user_their_role_last_sign_in_and_sessions(app, admin, web_school):
    signed_in(app, "office")
    signed_in(app, "office")
    page = page_text(admin.get("/admin/users"))
    assert all(name in page for name in ("office", "slt", "admin"))
    office_row = re.search(r"<tr>\s*<td><a [^>]*>office</a>.*?</tr>", page, re.S).group(0)
    assert "Office" in office_row and "2 sessions" in office_row and "never" not in office_row
    slt_row = re.search(r"<tr>\s*<td><a [^>]*>slt</a>.*?</tr>", page, re.S).group(0)
    assert "never" in slt_row and "<td>no</td>" in slt_row


def test_a_users_page_lists_where_they_are_signed_in(app, admin, web_school):
    signed_in(app, "office")
    page = page_text(admin.get(f"/admin/users/{user(app, 'office').id}"))
    assert "Signed in now" in page and "127.0.0.1" in page
    assert admin.get("/admin/users/999").status_code == 404


# --- create ----------------------------------------------------------------------------

def test_an_admin_adds_a_user_who_gets_a_one_time_password_shown_once(app, admin, web_school):
    response = admin.post("/admin/users", data={
        "username": "J.Smith", "role": "slt", "person": "alice adams",
        "email": "j.smith@school.example"})
    assert response.status_code == 200
    page = page_text(response)
    one_time = ONE_TIME.search(page).group(1)
    assert len(one_time) >= 12 and "only time it is shown" in page
    assert "who is Alice Adams on the register" in page
    # Never again: not on the user's page, the list, or in the cookie.
    made = user(app, "j.smith")
    assert one_time not in page_text(admin.get(f"/admin/users/{made.id}"))
    assert one_time not in page_text(admin.get("/admin/users"))
    assert made.role == "slt" and made.person_id == web_school.alice.id
    assert made.email == "j.smith@school.example" and made.must_change_password
    assert one_time not in made.password_hash
    # They sign in with it, and must choose their own first.
    new_user = app.test_client()
    first = new_user.post("/login", data={"username": "j.smith", "password": one_time})
    assert first.headers["Location"] == "/account/password"
    assert new_user.get("/slt/").headers["Location"] == "/account/password"
    new_user.post("/account/password", data={
        "current": one_time, "new": NEW_PASSWORD, "again": NEW_PASSWORD})
    assert new_user.get("/slt/").status_code == 200
    assert ("admin", "user.create", "user:j.smith") in audited(app)
    assert ("admin", "user.link", "user:j.smith") in audited(app)
    assert not any(one_time in e.detail for e in audit_trail(app))


@pytest.mark.parametrize(("form", "sentence"), [
    ({"username": "office", "role": "office"}, "A user called office already exists."),
    ({"username": "two words", "role": "office"}, "A username is 2 to 80 lower-case letters"),
    ({"username": "newbie", "role": "janitor"}, "Role must be one of"),
    ({"username": "newbie", "role": "office", "person": "Nobody Known"},
     "Nobody called Nobody Known is on the register"),
    ({"username": "newbie", "role": "office", "email": "not an address"},
     "not an address does not look like an email address."),
])
def test_adding_a_user_is_refused_with_a_sentence(app, admin, web_school, form, sentence):
    response = admin.post("/admin/users", data=form)
    assert response.status_code == 400
    assert sentence in page_text(response)
    assert "one-time-password" not in page_text(response)
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "newbie")) is None


# --- disable, enable ---------------------------------------------------------------------

def test_disabling_ends_every_session_and_enabling_lets_them_sign_in_afresh(app, admin,
                                                                              web_school):
    office = signed_in(app, "office")
    office_id = user(app, "office").id
    response = admin.post(f"/admin/users/{office_id}/disable", follow_redirects=True)
    assert "office is disabled and cannot sign in; 1 open session ended." in page_text(response)
    assert office.get("/office/").headers["Location"].startswith("/login")
    refused = app.test_client().post("/login", data={"username": "office",
                                                     "password": PASSWORD})
    assert refused.status_code == 401
    response = admin.post(f"/admin/users/{office_id}/enable", follow_redirects=True)
    assert "office can sign in again" in page_text(response)
    assert office.get("/office/").headers["Location"].startswith("/login")  # old one stays ended
    assert signed_in(app, "office").get("/office/").status_code == 200
    assert {("admin", "user.disable", "user:office"),
            ("admin", "user.enable", "user:office")} <= audited(app)


def test_an_admin_cannot_disable_themselves(app, admin, web_school):
    response = admin.post(f"/admin/users/{user(app, 'admin').id}/disable", follow_redirects=True)
    assert "You cannot disable your own account: ask another admin." in page_text(response)
    assert user(app, "admin").active
    assert admin.get("/admin/users").status_code == 200


def test_the_last_active_admin_cannot_be_disabled(app, runner, web_school):
    result = runner.invoke(args=["disable-user", "admin"])
    assert result.exit_code == 1
    assert "admin is the only active admin" in result.output
    assert user(app, "admin").active
    with app.app_context(), unit_of_work(db.session()) as transaction:
        transaction.add(User(username="deputy", password_hash="x", role="admin"))
    assert runner.invoke(args=["disable-user", "admin"]).exit_code == 0
    assert not user(app, "admin").active


# --- reset password, sign out everywhere, unlock ------------------------------------------

def test_a_password_reset_shows_a_one_time_password_and_ends_their_sessions(app, admin,
                                                                             web_school):
    office = signed_in(app, "office")
    response = admin.post(f"/admin/users/{user(app, 'office').id}/reset-password")
    one_time = ONE_TIME.search(page_text(response)).group(1)
    assert "signed out everywhere" in page_text(response)
    assert office.get("/office/").headers["Location"].startswith("/login")
    old = app.test_client().post("/login", data={"username": "office", "password": PASSWORD})
    assert old.status_code == 401
    fresh = app.test_client()
    assert fresh.post("/login", data={"username": "office", "password": one_time}
                      ).headers["Location"] == "/account/password"
    assert ("admin", "user.password_reset", "user:office") in audited(app)
    assert not any(one_time in e.detail for e in audit_trail(app))


def test_sign_out_everywhere_ends_every_browser_of_that_user_only(app, admin, web_school):
    first, second = signed_in(app, "office"), signed_in(app, "office")
    slt = signed_in(app, "slt")
    response = admin.post(f"/admin/users/{user(app, 'office').id}/sign-out-everywhere",
                          follow_redirects=True)
    assert "office is signed out everywhere: 2 open sessions ended." in page_text(response)
    for browser in (first, second):
        assert browser.get("/office/").headers["Location"].startswith("/login")
    assert slt.get("/slt/").status_code == 200
    assert ("admin", "user.sign_out_everywhere", "user:office") in audited(app)


def _held_back(app) -> bool:
    """Guess wrong until the right password from this address is held back (at most 30)."""
    browser = app.test_client()
    for _ in range(30):
        browser.post("/login", data={"username": "office", "password": "a wrong guess"})
        right = browser.post("/login", data={"username": "office", "password": PASSWORD})
        if right.status_code != 302:
            return True
        browser.post("/logout")
    return False


def test_unlock_lets_a_throttled_account_sign_in_again_at_once(app, admin, web_school):
    assert _held_back(app)
    response = admin.post(f"/admin/users/{user(app, 'office').id}/unlock", follow_redirects=True)
    assert "office may try to sign in again at once" in page_text(response)
    assert signed_in(app, "office").get("/office/").status_code == 200
    assert ("admin", "signin.unlock", "user:office") in audited(app)


# --- admin settings: how long a sign-in lasts ----------------------------------------------

def test_the_session_limits_are_settings_an_admin_changes(app, admin, web_school):
    form = page_text(admin.get("/admin/settings"))
    assert 'name="idle_minutes"' in form and 'value="30"' in form and 'value="12"' in form
    saved = admin.post("/admin/settings", data={"idle_minutes": "45", "lifetime_hours": "8"},
                       follow_redirects=True)
    assert "Sign-ins end after 45 minutes unused, and last at most 8 hours." in page_text(saved)
    assert {("admin", "settings.change", "setting:session_idle_minutes"),
            ("admin", "settings.change", "setting:session_lifetime_hours")} <= audited(app)


@pytest.mark.parametrize(("idle", "lifetime", "sentence"), [
    ("4", "12", "give a number of minutes from 5 to 480."),
    ("481", "12", "give a number of minutes from 5 to 480."),
    ("thirty", "12", "give a number of minutes from 5 to 480."),
    ("30", "0", "give a number of hours from 1 to 24."),
    ("30", "25", "give a number of hours from 1 to 24."),
    ("30", "", "give a number of hours from 1 to 24."),
])
def test_session_limits_out_of_range_are_refused_with_a_sentence(app, admin, web_school,
                                                                  idle, lifetime, sentence):
    response = admin.post("/admin/settings", data={
        "idle_minutes": idle, "lifetime_hours": lifetime, "second_approver": "medical"})
    assert response.status_code == 400
    assert sentence in page_text(response)
    assert not any(e.action == "settings.change" for e in audit_trail(app))


# --- the same on the command line --------------------------------------------------------

def test_disable_and_enable_user_on_the_command_line(app, runner, web_school):
    office = signed_in(app, "office")
    result = runner.invoke(args=["disable-user", "Office"])
    assert result.exit_code == 0, result.output
    assert "office is disabled; 1 open session ended." in result.output
    assert office.get("/office/").headers["Location"].startswith("/login")
    assert runner.invoke(args=["enable-user", "office"]).exit_code == 0
    assert office.get("/office/").headers["Location"].startswith("/login")
    assert signed_in(app, "office").get("/office/").status_code == 200
    assert {("cli", "user.disable", "user:office"),
            ("cli", "user.enable", "user:office")} <= audited(app)


def test_reset_password_prints_a_one_time_password_once(app, runner, web_school):
    office = signed_in(app, "office")
    result = runner.invoke(args=["reset-password", "office"])
    assert result.exit_code == 0
    one_time = re.search(r"One-time password for office: (\S+)", result.output).group(1)
    assert office.get("/office/").headers["Location"].startswith("/login")
    fresh = app.test_client()
    assert fresh.post("/login", data={"username": "office", "password": one_time}
                      ).headers["Location"] == "/account/password"
    assert ("cli", "user.password_reset", "user:office") in audited(app)
    assert not any(one_time in e.detail for e in audit_trail(app))


def test_sign_out_everywhere_and_unlock_on_the_command_line(app, runner, web_school):
    office = signed_in(app, "office")
    result = runner.invoke(args=["sign-out-everywhere", "office"])
    assert result.exit_code == 0
    assert "office is signed out everywhere: 1 open session ended." in result.output
    assert office.get("/office/").headers["Location"].startswith("/login")
    assert _held_back(app)
    result = runner.invoke(args=["unlock-user", "office"])
    assert result.exit_code == 0 and "may try to sign in again at once" in result.output
    assert signed_in(app, "office").get("/office/").status_code == 200
    assert {("cli", "user.sign_out_everywhere", "user:office"),
            ("cli", "signin.unlock", "user:office")} <= audited(app)


@pytest.mark.parametrize("command", ["disable-user", "enable-user", "reset-password",
                                     "unlock-user", "sign-out-everywhere"])
def test_an_unknown_user_is_a_sentence_and_exit_status_1(app, runner, web_school, command):
    result = runner.invoke(args=[command, "nobody"])
    assert result.exit_code == 1
    assert "There is no user called nobody." in result.output
