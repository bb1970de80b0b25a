"""Passwords: the rules a new one must meet, and how they are hashed and checked.

Hashes are argon2id (argon2-cffi) at OWASP's minimum for argon2id: 19 MiB of memory, 2
passes, 1 lane. That costs about 30 ms here and roughly 0.15 s on a Raspberry Pi 4, once
per sign-in. Hashes made by older versions of the product (Werkzeug's scrypt and pbkdf2) are
still checked, and ``needs_rehash`` says when a sign-in should replace one.
"""

from __future__ import annotations

import functools
from importlib import resources

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from werkzeug.security import check_password_hash

from register.errors import ValidationError

MIN_LENGTH = 12
# Longer passwords are welcome; this only bounds the work one form post can ask for.
MAX_LENGTH = 1000
_ARGON2_PREFIX = "$argon2"
_WERKZEUG_PREFIXES = ("scrypt:", "pbkdf2:")
# OWASP Password Storage Cheat Sheet, argon2id: m=19 MiB, t=2, p=1.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32,
                         salt_len=16, type=Type.ID)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``: an argon2 hash, or an older Werkzeug one.
    A hash in no known form never matches."""
    if stored_hash.startswith(_ARGON2_PREFIX):
        try:
            return _HASHER.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False
    if stored_hash.startswith(_WERKZEUG_PREFIXES):
        try:
            return check_password_hash(stored_hash, password)
        except ValueError:  # a damaged hash
            return False
    return False


def needs_rehash(stored_hash: str) -> bool:
    """True for any hash that is not argon2id at today's parameters: replace it at sign-in."""
    if not stored_hash.startswith(_ARGON2_PREFIX):
        return True
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def verify_dummy(password: str) -> None:
    """Spend what a real check spends, for a username nobody has: an attacker cannot tell from
    the time taken which usernames exist."""
    verify_password(_dummy_hash(), password)


@functools.cache
def _dummy_hash() -> str:
    # Made when first needed, not at import: a worker that signs nobody in never pays for it.
    return _HASHER.hash("not-a-real-password")


def check_new_password(password: str, username: str = "") -> None:
    """Refuse a password that is too short, too easy to guess, or the username itself, with a
    sentence for the person choosing it. Comparisons ignore case and surrounding spaces."""
    folded = password.strip().casefold()
    if not password.strip():
        raise ValidationError("A password cannot be only spaces.")
    if len(password.strip()) < MIN_LENGTH:
        raise ValidationError(f"Use a password of at least {MIN_LENGTH} characters: three or "
                              "four unrelated words are easy to remember and hard to guess.")
    if len(password) > MAX_LENGTH:
        raise ValidationError(f"Use a password of at most {MAX_LENGTH:,} characters.")
    if len(set(folded)) == 1:
        raise ValidationError("A password of one character repeated is too easy to guess.")
    if username and folded == username.strip().casefold():
        raise ValidationError("A password cannot be the username.")
    if folded in common_passwords():
        raise ValidationError("That password is on a list of common passwords that attackers "
                              "try first. Choose another: three or four unrelated words work "
                              "well.")


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list (register/data/common-passwords.txt: where it comes from is said in
    its first lines), lower case; only entries long enough to pass the length rule are kept."""
    text = resources.files("register").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(line.strip().casefold() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))
