"""Password rules, hashing, and the re-hash of old hashes at sign-in (register.passwords)."""

from __future__ import annotations

from importlib import resources

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from kiosk import demo
from register import accounts, passwords
from register.db import unit_of_work
from register.errors import ValidationError
from register.models import User

GOOD = "tangerine bicycle harbour"


@pytest.mark.parametrize(("password", "why"), [
    ("1234567890", "at least 12 characters"),
    ("password12", "at least 12 characters"),
    (" " * 10, "only spaces"),
    (" " * 20, "only spaces"),
    ("\t \n" * 5, "only spaces"),
    ("   short pw   ", "at least 12 characters"),  # spaces around do not count
    ("aaaaaaaaaaaaaaa", "one character repeated"),
    ("ZZZZZZZZZZZZzzzz", "one character repeated"),
    ("password1234", "list of common passwords"),
    ("Password1234", "list of common passwords"),
    ("QWERTY123456", "list of common passwords"),
    ("1q2w3e4r5t6y", "list of common passwords"),
    ("  qwertyuiop123 ", "list of common passwords"),
    ("x" * 1001, "at most 1,000 characters"),
])
def test_weak_passwords_are_refused_with_a_reason(password, why):
    with pytest.raises(ValidationError, match=why):
        passwords.check_new_password(password)


def test_the_username_is_not_a_password():
    with pytest.raises(ValidationError, match="cannot be the username"):
        passwords.check_new_password("Head.Teacher1", username="head.teacher1")
    passwords.check_new_password("head.teacher1 likes tea", username="head.teacher1")


@pytest.mark.parametrize("password", [GOOD, "correct horse battery", "Kettle-Otter-47-Quilt",
                                      "ünïcödé pässwörd", demo.PASSWORD])
def test_good_passwords_pass(password):
    passwords.check_new_password(password, username="office")


def test_the_shipped_list_holds_only_what_the_length_rule_lets_through():
    entries = passwords.common_passwords()
    assert len(entries) > 300
    assert all(len(entry) >= passwords.MIN_LENGTH for entry in entries)
    assert all(entry == entry.casefold() for entry in entries)
    header = resources.files("register").joinpath("data/common-passwords.txt").read_text()
    assert "Django" in header and "zxcvbn" in header  # where it comes from


def test_hashes_are_argon2id_at_owasp_parameters():
    stored = passwords.hash_password(GOOD)
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.hash_password(GOOD) != stored  # salted
    assert passwords.verify_password(stored, GOOD)
    assert not passwords.verify_password(stored, GOOD.upper())
    assert not passwords.needs_rehash(stored)


@pytest.mark.parametrize("old", [
    generate_password_hash(GOOD, "pbkdf2:sha256:1000"),
    generate_password_hash(GOOD, "scrypt:1024:8:1"),
    PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(GOOD),
], ids=["werkzeug-pbkdf2", "werkzeug-scrypt", "argon2id-weaker"])
def test_older_hashes_still_verify_and_ask_to_be_replaced(old):
    assert passwords.verify_password(old, GOOD)
    assert not passwords.verify_password(old, "something else entirely")
    assert passwords.needs_rehash(old)


@pytest.mark.parametrize("damaged", ["", "plain text", "$argon2id$v=19$broken",
                                     "pbkdf2:sha256:1000$salt", "md5$abc"])
def test_a_damaged_or_unknown_hash_never_matches(damaged):
    assert not passwords.verify_password(damaged, GOOD)
    assert passwords.needs_rehash(damaged)


def test_an_unknown_username_costs_a_real_check():
    passwords.verify_dummy(GOOD)  # no error, and the dummy hash is made once
    assert passwords._dummy_hash().startswith("$argon2id$")


def test_create_user_applies_the_rules(session):
    with pytest.raises(ValidationError, match="list of common passwords"):
        accounts.create_user(session, "clerk", "Password1234", "office")
    with pytest.raises(ValidationError, match="cannot be the username"):
        accounts.create_user(session, "receptionist", "Receptionist", "office")
    user = accounts.create_user(session, "clerk", GOOD, "office")
    assert user.password_hash.startswith("$argon2id$")


def _sign_in(session, password: str):
    with unit_of_work(session):
        return accounts.authenticate(session, "office", password, "10.0.0.1")


@pytest.mark.parametrize("method", ["pbkdf2:sha256:1000", "scrypt:32768:8:1"])
def test_an_old_hash_is_replaced_at_sign_in(session, method):
    old = generate_password_hash(GOOD, method)
    session.add(User(username="office", password_hash=old, role="office"))
    session.commit()
    assert _sign_in(session, "the wrong one here").user is None
    assert session.scalar(select(User.password_hash)) == old  # only the right password
    assert _sign_in(session, GOOD).user is not None
    stored = session.scalar(select(User.password_hash))
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert _sign_in(session, GOOD).user is not None
    assert session.scalar(select(User.password_hash)) == stored  # current: left alone


def test_demo_users_sign_in_with_the_published_demo_password(runner, app):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    client = app.test_client()
    response = client.post("/login", data={"username": "office", "password": demo.PASSWORD})
    assert response.status_code == 302
