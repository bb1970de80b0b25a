"""Senior leadership, on a tablet: requests to decide, exceptions agreed, and who is on duty now.

Every decision goes through ``register.exception_requests`` (decision rows and audit entries);
these views parse the form, call it, and turn a refusal into a sentence on the request's card.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from kiosk.auth import actor, roles_required
from kiosk.extensions import db
from register import audit, duty, exception_requests, fire, kiosk_link, notify
from register.db import read_only, unit_of_work
from register.errors import RegisterError
from register.exception_requests import APPROVED, CATEGORIES, DECLINED, REVOKED, Window
from register.models import (
    Deposit,
    Device,
    ExceptionRequest,
    Locker,
    LockerBank,
    Role,
    User,
    utc_now,
)
from register.text import whole_number

bp = Blueprint("slt", __name__, url_prefix="/slt")
log = logging.getLogger(__name__)

POLL_SECONDS = 5  # how often the tablet asks for new requests (SLT_POLL_SECONDS overrides)


@bp.before_request
@roles_required(Role.SLT)
def require_slt() -> None:
    """Every page here is for SLT (and admins)."""


# --- what the page shows ---------------------------------------------------------------------

@dataclass(frozen=True)
class PendingCard:
    """A request waiting for a decision, as this user sees it."""

    request: ExceptionRequest
    category: str
    window: str
    asked: str  # who asked, how and when
    approvals: str  # "Needs 1 approval", "1 of 2 approvals"
    approved_by: str  # names so far, for two-approver requests
    blocked: str  # why this user cannot decide it; empty when they can
    version: str  # changes when the card would read differently


@dataclass(frozen=True)
class ApprovedCard:
    request: ExceptionRequest
    category: str
    window: str
    approved_by: str
    approved_at: str
    in_effect: bool
    own: bool


@dataclass(frozen=True)
class DutyRow:
    """One person on duty and how the policy is met for them: ``state`` is locked,
    exception, due (to deposit: their exception ended) or gap (neither)."""

    name: str
    category: str
    since: str
    state: str
    text: str


def _zone() -> tzinfo:
    zone: tzinfo = current_app.extensions["school_zone"]
    return zone


def _when(moment: datetime, now: datetime, zone: tzinfo) -> str:
    local = moment.astimezone(zone)
    if local.date() == now.astimezone(zone).date():
        return f"today {local:%H:%M}"
    return f"{local:%a %-d %b}, {local:%H:%M}"


def _names(names: list[str]) -> str:
    return " and ".join(names)


def _asked(exception: ExceptionRequest, now: datetime, zone: tzinfo) -> str:
    """How and when the request came: "at Staff room kiosk, today 07:50", or "through the
    office, recorded by jsmith, today 09:12"."""
    when = _when(exception.requested_at, now, zone)
    if exception.requested_via == "kiosk":
        kiosk = exception.requested_by.removeprefix("kiosk:")
        return f"at {'the kiosk' if kiosk == exception.requested_by else kiosk}, {when}"
    through = "SLT" if exception.requested_via == "slt" else f"the {exception.requested_via}"
    return f"through {through}, recorded by {exception.requested_by}, {when}"


def pending_cards(user: User, now: datetime, zone: tzinfo) -> list[PendingCard]:
    cards = []
    for exception in exception_requests.pending(db.session()):
        approvers = [d for d in exception.decisions if d.action == "approve"]
        names = exception_requests.approved_by(exception)
        if exception.approvals_needed > 1:
            approvals = f"{len(approvers)} of {exception.approvals_needed} approvals"
        else:
            approvals = "Needs 1 approval"
        blocked = ""
        if user.person_id is not None and user.person_id == exception.person_id:
            blocked = "Another SLT member must decide this"
        elif any(d.user_id == user.id for d in approvers):
            blocked = "You have approved this: another SLT member must approve it too"
        cards.append(PendingCard(
            exception, CATEGORIES[exception.category], Window.of(exception).describe(),
            _asked(exception, now, zone), approvals, _names(names), blocked,
            f"{len(exception.decisions)}"))
    return cards


def approved_cards(user: User, now: datetime, zone: tzinfo) -> list[ApprovedCard]:
    return [
        ApprovedCard(
            exception, CATEGORIES[exception.category], Window.of(exception).describe(),
            _names(exception_requests.approved_by(exception)) or "SLT",
            _when(exception.decided_at, now, zone) if exception.decided_at else "",
            Window.of(exception).covers(now, zone),
            user.person_id is not None and user.person_id == exception.person_id)
        for exception in exception_requests.approved_current(db.session(), zone, now)
    ]


def _lockers_held() -> dict[int, str]:
    """Where each person's phones are locked away now: "Staff room locker 5" where the school
    has several banks (each may have a locker 5), else "locker 5" ("lockers 5 and 7")."""
    session = db.session()
    several = (session.scalar(select(func.count()).select_from(LockerBank)) or 0) > 1
    by_bank: dict[int, dict[str, list[str]]] = {}
    for owner_id, number, bank in session.execute(
            select(Device.owner_id, Locker.number, LockerBank.name)
            .join(Deposit, Deposit.device_id == Device.id)
            .join(Locker, Deposit.locker_id == Locker.id)
            .join(LockerBank, Locker.bank_id == LockerBank.id)
            .where(Deposit.collected_at.is_(None)).order_by(LockerBank.name, Locker.number)):
        by_bank.setdefault(owner_id, {}).setdefault(bank, []).append(str(number))
    return {owner_id: _names([
        f"{bank + ' ' if several else ''}locker{'s' if len(numbers) > 1 else ''} "
        f"{_names(numbers)}" for bank, numbers in banks.items()])
        for owner_id, banks in by_bank.items()}


def duty_rows(now: datetime, zone: tzinfo) -> list[DutyRow]:
    rows = []
    held = _lockers_held()
    for entry in duty.on_duty_now(db.session(), zone, now):
        if entry.lockers:
            state = "locked"
            where = held.get(entry.person.id, "a locker")
            text = f"Phone locked away: {where}"
        elif entry.exception is not None:
            window = Window.of(entry.exception)
            ends = window.today_ends(now, zone)
            until = "the end of the day" if ends.time() == ends.time().min else f"{ends:%H:%M}"
            agreed = _names(exception_requests.approved_by(entry.exception)) or "SLT"
            state, text = "exception", f"Exception until {until}, agreed by {agreed}"
        elif entry.without_phone:
            state, text = "none", "No phone registered: signed in without one"
        elif entry.due_to_deposit and entry.exception_ended is not None:
            state, text = "due", f"Due to deposit: {_ended(entry.exception_ended, now, zone)}"
        else:
            state, text = "gap", "No phone locked away and no exception"
        rows.append(DutyRow(entry.person.name, entry.person.category_label,
                            f"{entry.since.astimezone(zone):%H:%M}", state, text))
    first = {"due": 0, "gap": 0, "exception": 1, "locked": 1, "none": 1}
    return sorted(rows, key=lambda r: (first[r.state], r.name))


def _ended(exception: ExceptionRequest, now: datetime, zone: tzinfo) -> str:
    if exception.status == REVOKED and exception.decided_at:
        return f"exception revoked at {exception.decided_at.astimezone(zone):%H:%M}"
    ends = Window.of(exception).today_ends(now, zone)
    return f"exception ended at {ends:%H:%M}" if ends <= now else "exception ended"


def _title(count: int) -> str:
    return f"({count}) SLT" if count else "SLT"


def _expire_due(now: datetime) -> None:
    """Close what has ended, so the tablet never offers to decide a request that is over.
    Reads first: the write lock is taken only when something has actually ended."""
    zone, session = _zone(), db.session()
    with read_only(session):
        due = exception_requests.any_due_to_expire(session, zone, now)
    if due:
        with unit_of_work(session):
            exception_requests.expire_due(session, zone, now)


def _render(errors: dict[int, dict[str, str]] | None = None, problem: str = "") -> str:
    """The tablet's page, and its audit entry: one unit of work, after any expiry."""
    now, zone = utc_now(), _zone()
    _expire_due(now)
    with unit_of_work(db.session()):
        return _page(now, zone, errors or {}, problem)


def _page(now: datetime, zone: tzinfo, errors: dict[int, dict[str, str]], problem: str) -> str:
    user = g.user
    pending = pending_cards(user, now, zone)
    approved = approved_cards(user, now, zone)
    rows = duty_rows(now, zone)
    deposits = list(db.session.scalars(
        select(Deposit).where(Deposit.collected_at.is_(None))
        .options(joinedload(Deposit.device).joinedload(Device.owner), joinedload(Deposit.locker),
                 joinedload(Deposit.door))
        .order_by(Deposit.deposited_at)
    ))
    alerts = kiosk_link.attention(db.session(), now)
    shown = {c.request.id for c in pending} | {c.request.id for c in approved}
    # A refusal about a request no longer listed (decided meanwhile) goes at the top.
    problem = problem or "; ".join(e["message"] for i, e in errors.items() if i not in shown)
    audit.record(db.session(), actor(), "slt.now.view",
                 detail=f"{len(pending)} pending, {len(approved)} approved, {len(rows)} on duty")
    alarm = fire.current_alarm(db.session())
    return render_template(
        "slt/now.html", fire_alarm=alarm, fire_alarm_key=fire_alarm_key(alarm),
        pending=pending, approved=approved, rows=rows,
        deposits=deposits, alerts=alerts, with_doors=kiosk_link.any_agent(db.session()),
        errors=errors, problem=problem, title=_title(len(pending)),
        in_effect=sum(c.in_effect for c in approved),
        gaps=sum(r.state in ("gap", "due") for r in rows),
        poll_seconds=current_app.config.get("SLT_POLL_SECONDS", POLL_SECONDS))


@bp.route("/")
def now() -> str:
    return _render()


@bp.route("/pending.json")
def pending_json() -> Any:
    """What the tablet polls: every pending request as its card, and the count for the title.
    ``have`` lists the ids the page shows already; only new ones are written to the audit."""
    g.background_poll = True  # its answer leaves the sign-in cookie alone (kiosk/auth.py)
    now, zone, session = utc_now(), _zone(), db.session()
    _expire_due(now)
    have = {n for i in request.args.get("have", "").split(",")
            if (n := whole_number(i)) is not None}
    with read_only(session):
        cards = pending_cards(g.user, now, zone)
        body = {
            "fire_alarm": fire_alarm_key(fire.current_alarm(session)),
            "count": len(cards),
            "title": f"{_title(len(cards))} · {current_app.config['SCHOOL_NAME']}",
            "requests": [{"id": c.request.id, "version": c.version,
                          "person": c.request.person.name,
                          "html": render_template("slt/_pending_card.html", card=c, errors={})}
                         for c in cards],
        }
        new = [c.request.id for c in cards if c.request.id not in have]
    if new:  # the audit trail says which requests this user has now been shown
        with unit_of_work(session):
            audit.record(session, actor(), "slt.requests.shown",
                         detail=", ".join(f"exception:{i}" for i in new))
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def fire_alarm_key(alarm: fire.AlarmFlag | None) -> str:
    """What the tablet's poll compares with its page: when the alarm (the first since the
    flag was cleared) went off, or "" when there is none."""
    return "" if alarm is None else alarm.first.at.isoformat()


@bp.route("/fire-alarm/clear", methods=["POST"])
def fire_alarm_clear() -> Any:
    """The alarm is over: the banner goes from every SLT screen (audited)."""
    with unit_of_work(db.session()) as session:
        cleared = fire.clear_alarm(session, actor())
    flash("Fire alarm cleared." if cleared else "There was no fire alarm to clear.")
    return redirect(url_for("slt.now"))


# --- decisions -----------------------------------------------------------------------------

@bp.route("/requests/<int:request_id>/approve", methods=["POST"])
def approve(request_id: int) -> Any:
    return _decide(request_id, "approve", request.form.get("conditions", ""))


@bp.route("/requests/<int:request_id>/decline", methods=["POST"])
def decline(request_id: int) -> Any:
    return _decide(request_id, "decline", request.form.get("reason", ""))


@bp.route("/exceptions/<int:request_id>/revoke", methods=["POST"])
def revoke(request_id: int) -> Any:
    return _decide(request_id, "revoke", request.form.get("reason", ""))


def _decide(request_id: int, action: str, text: str) -> Any:
    try:
        with unit_of_work(db.session()) as session:
            # PostgreSQL: two tablets deciding one request take turns (SQLite holds the lock).
            exception = session.get(ExceptionRequest, request_id, with_for_update=True)
            if exception is None:
                abort(404)
            user = session.get_one(User, g.user.id)
            if action == "approve":
                exception_requests.approve(session, exception, user, text)
            elif action == "decline":
                exception_requests.decline(session, exception, user, text)
            else:
                exception_requests.revoke(session, exception, user, text)
            message = _done(exception, action)
            decided = exception.status in (APPROVED, DECLINED, REVOKED)
    except RegisterError as error:
        errors = {request_id: {"action": action, "message": str(error), "text": text}}
        return _render(errors), 422
    if decided:  # committed: the requester may be told by email (one approval of two is not)
        with read_only(db.session()) as session:
            announce_decision(session.get_one(ExceptionRequest, request_id))
    flash(message)
    return redirect(url_for("slt.now"))


def _done(exception: ExceptionRequest, action: str) -> str:
    name = exception.person.name
    if action == "revoke":
        return f"Revoked {name}'s exception: it has ended."
    if action == "decline":
        return f"Declined {name}'s request."
    if exception.status != APPROVED:
        approvals = sum(d.action == "approve" for d in exception.decisions)
        return (f"Your approval of {name}'s request is recorded: it needs "
                f"{exception.approvals_needed - approvals} more SLT approval.")
    conditions = f" Conditions: {exception.conditions}." if exception.conditions else ""
    return f"Approved {name}: {Window.of(exception).describe()}.{conditions}"


# --- telling SLT, and the requester --------------------------------------------------------

def announce_decision(exception: ExceptionRequest) -> threading.Thread | None:
    """Email the requester SLT's decision just committed, with the reason or conditions, when
    SMTP is configured and they have an address. Never raises: the decision stands whatever
    happens to the email. The kiosk tells them too, without the reason (it is public)."""
    try:
        config = {**os.environ,
                  **{k: v for k, v in current_app.config.items() if k.startswith("SMTP_")}}
        settings = notify.SmtpSettings.from_mapping(config)
        address = exception.person.email.strip()
        if settings is None or not address:
            return None
        if not current_app.config.get("PUBLIC_URL"):  # as for SLT's: no email without it
            log.error("PUBLIC_URL is not set: no email to the requester of exception:%s",
                      exception.id)
            return None
        zone = _zone()
        action = {APPROVED: "approve", DECLINED: "decline", REVOKED: "revoke"}[exception.status]
        last = next(d for d in reversed(exception.decisions) if d.action == action)
        deciders = [d.user.display_name for d in exception.decisions
                    if d.action == action and d.user is not None]
        note = exception.conditions if exception.status == APPROVED else last.note
        message = notify.decision_message(
            exception.person.first_name, exception.status, Window.of(exception).describe(),
            _names(deciders) or "SLT", f"{last.at.astimezone(zone):%a %-d %b at %H:%M}",
            note, str(current_app.config["SCHOOL_NAME"]), settings.sender, address)
        return notify.send_in_background(settings, [message], "the requester")
    except Exception:  # email is a courtesy: the decision is already saved
        log.exception("could not prepare the email to the requester of exception:%s",
                      exception.id)
        return None


def announce_new_request(exception: ExceptionRequest, exclude_user_id: int | None = None,
                         ) -> threading.Thread | None:
    """Email SLT about a request just committed, when SMTP is configured. Never raises: the
    request stands whatever happens to the email. Returns the sending thread, if any."""
    try:
        config = {**os.environ,
                  **{k: v for k, v in current_app.config.items() if k.startswith("SMTP_")}}
        settings = notify.SmtpSettings.from_mapping(config)
        if settings is None:
            return None
        addresses = notify.slt_addresses(db.session(), exclude_user_id)
        if not addresses:
            return None
        # The link comes from the configuration only, never from the request's Host header.
        public = str(current_app.config.get("PUBLIC_URL") or "")
        if not public:
            log.error("PUBLIC_URL is not set: no email to SLT about exception:%s (its link "
                      "would have nowhere to point)", exception.id)
            return None
        link = public.rstrip("/") + url_for("slt.now")
        school = str(current_app.config["SCHOOL_NAME"])
        messages = [notify.request_message(exception.person.name, link, school, settings.sender,
                                           address) for address in addresses]
        return notify.send_in_background(settings, messages)
    except Exception:  # email is a courtesy: the request is already saved
        log.exception("could not prepare the email to SLT about exception:%s", exception.id)
        return None
