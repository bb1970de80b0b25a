"""Sign-in, roles, throttling and CSRF."""

import re

import pytest

from kiosk import create_app
from kiosk.extensions import db
from register import accounts
from register.errors import ValidationError
from register.models import AuditEvent
from tests.conftest import PASSWORD, pair_browser

OFFICE_PAGES = ["/office/", "/office/people/new", "/office/lockers"]
SLT_PAGES = ["/slt/"]


def test_login_page_and_sign_in(client, auth, web_school):
    assert b"Sign in" in client.get("/login").data
    response = auth.login()
    assert response.status_code == 302
    assert response.headers["Location"] == "/office/"


def test_passwords_are_hashed_with_argon2id(session):
    user = accounts.create_user(session, "newbie", "a long enough password", "office")
    assert "a long enough password" not in user.password_hash
    assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_short_passwords_and_unknown_roles_are_refused(session):
    with pytest.raises(ValidationError, match="at least 12 characters"):
        accounts.create_user(session, "x", "short", "office")
    with pytest.raises(ValidationError, match="Role must be one of"):
        accounts.create_user(session, "x", "long enough password", "janitor")


def test_wrong_password_is_refused_without_saying_which_part(client, auth, web_school):
    response = auth.login(password="wrong password")
    assert response.status_code == 401
    assert b"That username and password do not match." in response.data
    unknown = auth.login(username="nobody")
    assert b"That username and password do not match." in unknown.data


def test_sign_in_is_held_back_after_four_failures_from_one_computer(client, auth, web_school):
    for _ in range(4):
        auth.login(password="guess")
    response = auth.login()  # even the right password now waits (tests/test_throttle.py)
    assert response.status_code == 401
    assert b"Too many attempts from this computer. Try again in 1 second" in response.data


@pytest.mark.parametrize("page", OFFICE_PAGES + SLT_PAGES)
def test_anonymous_users_are_sent_to_sign_in(client, web_school, page):
    response = client.get(page)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("page", OFFICE_PAGES)
def test_slt_cannot_reach_office_pages(client, auth, web_school, page):
    auth.login("slt")
    assert client.get(page).status_code == 403


@pytest.mark.parametrize("page", SLT_PAGES)
def test_office_cannot_reach_slt_pages(client, auth, web_school, page):
    auth.login("office")
    assert client.get(page).status_code == 403


@pytest.mark.parametrize("page", OFFICE_PAGES + SLT_PAGES)
def test_admin_reaches_everything(client, auth, web_school, page):
    auth.login("admin")
    assert client.get(page).status_code == 200


@pytest.mark.parametrize("page", OFFICE_PAGES + SLT_PAGES)
def test_kiosk_token_reaches_no_office_or_slt_page(client, web_school, page):
    headers = {"Authorization": f"Bearer {web_school.staff_kiosk_token}"}
    pair_browser(client)
    assert client.get(page, headers=headers).status_code == 302


def test_next_only_follows_local_paths(client, auth, web_school):
    response = client.post("/login?next=https://evil.example/", data={
        "username": "office", "password": PASSWORD})
    assert response.headers["Location"] == "/office/"
    response = client.post("/login?next=/office/lockers", data={
        "username": "office", "password": PASSWORD})
    assert response.headers["Location"] == "/office/lockers"


def test_logout_ends_the_session(client, auth, web_school):
    auth.login()
    auth.logout()
    assert client.get("/office/").status_code == 302


def test_sign_ins_and_failures_are_audited(app, auth, web_school):
    auth.login(password="nope")
    auth.login()
    with app.app_context():
        actions = db.session.scalars(db.select(AuditEvent.action)).all()
    assert "signin.failed" in actions and "signin" in actions


def test_forms_without_csrf_token_are_refused(app_config, web_school):
    app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    client = app.test_client()
    response = client.post("/login", data={"username": "office", "password": PASSWORD})
    assert response.status_code == 400
    page = client.get("/login").data.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={
        "username": "office", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302


def test_kiosk_scan_needs_csrf_header_but_api_does_not(app_config, web_school):
    app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    client = app.test_client()
    pair_browser(client)
    assert client.post("/kiosk/scan", json={"code": "x"}).status_code == 400
    page = client.get("/kiosk").data.decode()
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    response = client.post("/kiosk/scan", json={"code": web_school.alice.badge_id,
                                                "entry": "scanner"},
                           headers={"X-CSRFToken": token})
    assert response.json["outcome"] == "deposited"
    api = client.post("/api/v1/scan", json={"code": web_school.alice.badge_id},
                      headers={"Authorization": f"Bearer {web_school.staff_kiosk_token}"})
    assert api.json["outcome"] == "already_deposited"  # answered: inside the second-scan guard
