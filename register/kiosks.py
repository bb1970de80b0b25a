"""Kiosks: the agent's bearer token, the kiosk browser's own credential, one-time pairing
codes and revocation.

A kiosk has two secrets, kept only as SHA-256 hashes:

- the **agent token** (``token_hash``), printed once by ``create-kiosk`` for the kiosk agent's
  token file; it authenticates the hardware readers on the API;
- the **browser credential** (``browser_token_hash``), a random value the kiosk's browser gets
  in an HttpOnly cookie by exchanging a **pairing code**: 8 characters from an alphabet without
  look-alikes, valid 10 minutes, used once. Pairing a browser replaces the one before.

A revoked kiosk (``revoked_at``) is refused on both at once. Pairing it again clears that and
issues a new agent token as well, so the old one stays dead. Wrong pairing codes are counted
per address and for everyone (audit entries ``kiosk.pair_failed``): an 8-character code cannot
be guessed online.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, joinedload

from register import audit
from register.errors import NotFound, RegisterError, ValidationError
from register.models import AgentHeartbeat, AuditEvent, Kiosk, LockerBank, utc_now

# No 0/O, 1/I/L, U/V confusion: every character reads one way on a screen or on paper.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8
CODE_LIFETIME = timedelta(minutes=10)
# Wrong codes allowed in a window, from one address and from everyone. 30^8 codes: at these
# rates a guess succeeds about once in ten billion windows.
FAILURE_WINDOW = timedelta(minutes=10)
MAX_FAILURES_PER_ADDRESS = 10
MAX_FAILURES_IN_ALL = 200
PAIR_FAILED = "kiosk.pair_failed"

# Reasons for a refused pairing; the web layer maps them to HTTP statuses.
BAD_CODE, EXPIRED_CODE, TOO_MANY = "bad_pairing_code", "expired_pairing_code", "too_many_tries"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_agent_token() -> str:
    return secrets.token_urlsafe(32)


# --- creating kiosks and their agent tokens -------------------------------------------------

def create_kiosk(session: Session, name: str, bank_name: str,
                 actor: str = "cli") -> tuple[Kiosk, str]:
    """A new kiosk and its agent token. The token is shown once; only its hash is kept."""
    name = " ".join(name.split())
    if not name or len(name) > 80:
        raise ValidationError("Give the kiosk a name of 1 to 80 characters.")
    bank = session.scalar(select(LockerBank).where(LockerBank.name == bank_name))
    if bank is None:
        raise NotFound(f"There is no locker bank called {bank_name!r}.")
    if session.scalar(select(Kiosk).where(Kiosk.name == name)):
        raise ValidationError(f"A kiosk called {name} already exists.")
    token = new_agent_token()
    kiosk = Kiosk(name=name, bank=bank, token_hash=hash_token(token))
    session.add(kiosk)
    audit.record(session, actor, "kiosk.create", f"kiosk:{name}", f"bank {bank_name}")
    return kiosk, token


def reissue_kiosk_token(session: Session, kiosk: Kiosk, actor: str = "cli") -> str:
    """A new agent token for ``kiosk``; the old one stops working at once."""
    token = new_agent_token()
    kiosk.token_hash = hash_token(token)
    audit.record(session, actor, "kiosk.token", f"kiosk:{kiosk.name}")
    return token


def kiosk_named(session: Session, name: str) -> Kiosk:
    kiosk = session.scalar(select(Kiosk).where(Kiosk.name == name))
    if kiosk is None:
        names = ", ".join(session.scalars(select(Kiosk.name).order_by(Kiosk.name))) or "none"
        raise NotFound(f"There is no kiosk called {name!r} (kiosks: {names}).")
    return kiosk


# --- who is calling -------------------------------------------------------------------------

# One indexed read each (both hashes are unique), with the kiosk's bank for the page.
_BY_AGENT_TOKEN = (select(Kiosk).where(Kiosk.token_hash == bindparam("token_hash"),
                                       Kiosk.revoked_at.is_(None))
                   .options(joinedload(Kiosk.bank)))
_BY_BROWSER_TOKEN = (select(Kiosk).where(Kiosk.browser_token_hash == bindparam("token_hash"),
                                         Kiosk.revoked_at.is_(None))
                     .options(joinedload(Kiosk.bank)))


def kiosk_for_token(session: Session, token: str | None, browser: bool = False,
                    ) -> Kiosk | None:
    """The kiosk whose agent token (or, with ``browser``, whose paired browser's credential)
    this is; None if it is nobody's or the kiosk is revoked."""
    if not token:
        return None
    query = _BY_BROWSER_TOKEN if browser else _BY_AGENT_TOKEN
    return session.scalar(query, {"token_hash": hash_token(token)})


# --- pairing codes --------------------------------------------------------------------------

@dataclass(frozen=True)
class PairingCode:
    """A code to type (or scan) at the kiosk's browser, shown once. ``agent_token`` is set
    when pairing a revoked kiosk also replaced the agent's token (shown once too)."""

    kiosk_name: str
    code: str  # as typed: "K7QM3XPD"
    expires_at: datetime
    agent_token: str | None = None

    @property
    def grouped(self) -> str:
        """As shown: "K7QM-3XPD"."""
        return group(self.code)


def group(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def normalise_pairing_code(raw: str) -> str:
    """What was typed, in capitals, without spaces or dashes."""
    return "".join(ch for ch in raw.upper() if ch not in " -\t\r\n")


def start_pairing(session: Session, kiosk: Kiosk, actor: str,
                  now: datetime | None = None) -> PairingCode:
    """A fresh one-time pairing code for ``kiosk``, replacing any earlier unused one. The
    browser paired now keeps working until a new one is paired with the code. A revoked kiosk
    is restored, with a new agent token."""
    now = now or utc_now()
    agent_token = None
    if kiosk.revoked_at is not None:
        agent_token = new_agent_token()
        kiosk.token_hash = hash_token(agent_token)
        kiosk.revoked_at = None
        audit.record(session, actor, "kiosk.restore", f"kiosk:{kiosk.name}",
                     "revocation lifted; new agent token issued", at=now)
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    kiosk.pairing_code_hash = hash_token(code)
    kiosk.pairing_code_expires_at = now + CODE_LIFETIME
    audit.record(session, actor, "kiosk.pairing_code", f"kiosk:{kiosk.name}",
                 f"valid until {kiosk.pairing_code_expires_at.isoformat()}", at=now)
    return PairingCode(kiosk.name, code, kiosk.pairing_code_expires_at, agent_token)


@dataclass(frozen=True)
class Pairing:
    """The outcome of typing a pairing code: the kiosk and the browser's new credential, or a
    refusal to show (``reason`` and a sentence). A failure is recorded either way, so the
    caller commits either way."""

    kiosk_name: str | None = None
    browser_token: str | None = None
    reason: str = ""
    refusal: str = ""


def pair_browser(session: Session, raw_code: str, remote_addr: str,
                 now: datetime | None = None) -> Pairing:
    """Exchange a pairing code for a new browser credential, inside the caller's unit of work.
    The code is used up; the kiosk's previous browser is unpaired."""
    now = now or utc_now()
    code = normalise_pairing_code(raw_code)
    where = f"browser@{remote_addr or 'unknown'}"
    held = _held_back(session, where, now)
    if held:
        return _failed(session, where, TOO_MANY, held, now)
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return _failed(session, where, BAD_CODE, _BAD_CODE_SENTENCE, now)
    kiosk = session.scalar(select(Kiosk).where(Kiosk.pairing_code_hash == hash_token(code),
                                               Kiosk.revoked_at.is_(None)))
    if kiosk is None:
        return _failed(session, where, BAD_CODE, _BAD_CODE_SENTENCE, now)
    expires = kiosk.pairing_code_expires_at
    if expires is None or expires <= now:
        kiosk.pairing_code_hash = kiosk.pairing_code_expires_at = None
        return _failed(session, where, EXPIRED_CODE,
                       "That pairing code has expired: codes last 10 minutes. Ask the office "
                       "for a new one.", now, kiosk.name)
    browser_token = secrets.token_urlsafe(32)
    replaced = kiosk.browser_token_hash is not None
    kiosk.browser_token_hash = hash_token(browser_token)
    kiosk.pairing_code_hash = kiosk.pairing_code_expires_at = None
    audit.record(session, where, "kiosk.pair", f"kiosk:{kiosk.name}",
                 "browser paired" + ("; the previous browser is unpaired" if replaced else ""),
                 at=now)
    return Pairing(kiosk.name, browser_token)


_BAD_CODE_SENTENCE = ("That pairing code is not right, or it has already been used. Check it "
                      "and try again, or ask the office for a new one.")


def _held_back(session: Session, where: str, now: datetime) -> str:
    """A sentence if too many wrong codes were tried lately, from here or from anywhere."""
    recent = (select(func.count()).select_from(AuditEvent)
              .where(AuditEvent.action == PAIR_FAILED, AuditEvent.at > now - FAILURE_WINDOW))
    if (session.scalar(recent.where(AuditEvent.actor == where)) or 0) >= \
            MAX_FAILURES_PER_ADDRESS:
        return ("Too many wrong pairing codes from this screen. Wait 10 minutes, then try "
                "again.")
    if (session.scalar(recent) or 0) >= MAX_FAILURES_IN_ALL:
        return ("Too many wrong pairing codes have been tried. Wait 10 minutes, then try "
                "again, or ask IT.")
    return ""


def _failed(session: Session, where: str, reason: str, sentence: str, now: datetime,
            kiosk_name: str | None = None) -> Pairing:
    subject = f"kiosk:{kiosk_name}" if kiosk_name else ""
    audit.record(session, where, PAIR_FAILED, subject, reason, at=now)
    return Pairing(reason=reason, refusal=sentence)


# --- revocation -----------------------------------------------------------------------------

class AlreadyRevoked(RegisterError):
    reason = "already_revoked"


def revoke(session: Session, kiosk: Kiosk, actor: str, now: datetime | None = None) -> None:
    """From now on the kiosk's browser and its agent token are refused, until it is paired
    again. Any unused pairing code is void."""
    if kiosk.revoked_at is not None:
        raise AlreadyRevoked(f"{kiosk.name} is already revoked. Pair it again to bring it back.")
    now = now or utc_now()
    kiosk.revoked_at = now
    kiosk.browser_token_hash = None
    kiosk.pairing_code_hash = kiosk.pairing_code_expires_at = None
    kiosk.asking_until = None
    audit.record(session, actor, "kiosk.revoke", f"kiosk:{kiosk.name}",
                 "browser and agent token refused", at=now)


# --- the admin's list -----------------------------------------------------------------------

@dataclass(frozen=True)
class KioskRow:
    id: int
    name: str
    bank: str
    browser_paired: bool
    code_waiting_until: datetime | None  # an unused pairing code, valid until then
    revoked_at: datetime | None
    last_heartbeat: datetime | None  # the agent's, if it has one


def overview(session: Session, now: datetime | None = None) -> list[KioskRow]:
    """Every kiosk, by name, with its bank, pairing state and the agent's last heartbeat."""
    now = now or utc_now()
    rows = session.execute(
        select(Kiosk, LockerBank.name, AgentHeartbeat.last_seen_at)
        .join(LockerBank, Kiosk.bank_id == LockerBank.id)
        .outerjoin(AgentHeartbeat, AgentHeartbeat.kiosk_id == Kiosk.id)
        .order_by(Kiosk.name))
    found = []
    for kiosk, bank, heartbeat in rows:
        expires = kiosk.pairing_code_expires_at
        found.append(KioskRow(
            kiosk.id, kiosk.name, bank, kiosk.browser_token_hash is not None,
            expires if kiosk.pairing_code_hash and expires and expires > now else None,
            kiosk.revoked_at, heartbeat))
    return found
