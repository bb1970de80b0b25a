"""The kiosk screen at a locker bank: no sign-in, paired once by its token."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from kiosk import demo
from kiosk.extensions import db
from kiosk.scanning import scan_response
from kiosk.slt import announce_new_request
from register import exception_requests, kiosk_events, kiosk_link, scans
from register.accounts import kiosk_for_token
from register.db import in_write_transaction
from register.errors import ScanRefused, ValidationError
from register.exception_requests import CATEGORIES, AlreadyAsked, ExceptionRequest
from register.models import Kiosk, utc_now

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk")

COOKIE = "kiosk_token"
FIVE_YEARS = 5 * 365 * 24 * 3600


def paired_kiosk() -> Kiosk | None:
    """The kiosk this browser was paired as, from its cookie or a bearer token."""
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.startswith("Bearer ") else request.cookies.get(COOKIE)
    return kiosk_for_token(db.session, token)


def unpaired() -> tuple[Response, int]:
    return refusal("unpaired", "This kiosk is not paired. Please see the office.", 401)


def refusal(reason: str, message: str, status: int) -> tuple[Response, int]:
    return jsonify(outcome="refused", reason=reason, message=message, locker=None,
                   person=None), status


@bp.route("/pair")
def pair() -> Any:
    """Open once on the kiosk's browser with the token printed by ``create-kiosk``."""
    token = request.args.get("token", "")
    kiosk = kiosk_for_token(db.session, token)
    if kiosk is None:
        return render_template("kiosk/unpaired.html", bad_token=bool(token)), 403
    response = redirect(url_for("kiosk.screen"))
    response.set_cookie(COOKIE, token, max_age=FIVE_YEARS, httponly=True, samesite="Strict",
                        secure=bool(current_app.config["SESSION_COOKIE_SECURE"]))
    return response


@bp.route("")
def screen() -> Any:
    kiosk = paired_kiosk()
    if kiosk is None:
        return render_template("kiosk/unpaired.html", bad_token=False), 403
    demo_codes = [] if current_app.config["PRODUCTION"] else demo.kiosk_samples(db.session)
    return render_template("kiosk/screen.html", kiosk=kiosk, demo_codes=demo_codes,
                           categories=CATEGORIES,
                           idle_seconds=current_app.config["KIOSK_IDLE_SECONDS"],
                           events_after=kiosk_events.latest_id(db.session, kiosk.id))


@bp.route("/scan", methods=["POST"])
def scan() -> Any:
    kiosk = paired_kiosk()
    if kiosk is None:
        return unpaired()
    return scan_response(kiosk.id, request.get_json(silent=True))


@bp.route("/events")
def events() -> Any:
    """What happened at this kiosk's readers and locks since event ``after``, and the state of
    its readers and doors. The page polls this about once a second."""
    kiosk = paired_kiosk()
    if kiosk is None:
        return unpaired()
    after = request.args.get("after", "0")
    if not after.isdigit():
        return jsonify(outcome="refused", reason="bad_request",
                       message="after must be the id of the last event seen."), 400
    found, cursor = kiosk_events.after(db.session, kiosk.id, int(after))
    status = kiosk_link.kiosk_status(db.session, kiosk.id)
    db.session.rollback()  # read only: end the snapshot now
    return jsonify(events=[event.as_dict() for event in found], after=cursor,
                   status=status.as_dict())


# --- asking for an exception ("I need my phone today") -------------------------------------

# Times offered for "today until"; the page also offers the end of the day.
UNTIL_TIMES = (time(12, 0), time(15, 30), time(17, 0))


@bp.route("/identify", methods=["POST"])
def identify() -> Any:
    """Who a scan names, and any request of theirs that still matters today. Changes nothing:
    asking starts with a scan that only identifies."""
    kiosk = paired_kiosk()
    if kiosk is None:
        return unpaired()
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("code"), str):
        return refusal("bad_request", 'Send JSON like {"code": "..."}.', 400)
    zone, now = current_app.extensions["school_zone"], utc_now()
    try:
        person = exception_requests.person_for_code(db.session, payload["code"])
        waiting = exception_requests.pending_for(db.session, person.id, zone, now)
        agreed = exception_requests.active_for(db.session, person.id, zone, now)
        body = {"outcome": "identified", "person": person.name, "first_name": person.first_name,
                "request": _described(waiting or agreed, zone, now),
                "message": _already(person.first_name, waiting, agreed, zone, now),
                "windows": window_choices(now.astimezone(zone))}
    except ScanRefused as refused:
        return refusal(refused.reason, str(refused), refused.status)
    finally:
        db.session.rollback()  # read only
    return jsonify(body)


@bp.route("/ask-mode", methods=["POST"])
def ask_mode() -> Any:
    """``{"on": true}`` while the page asks "scan your badge" (sent again as the question stays
    up), ``{"on": false}`` when it stops: meanwhile the next scan on the kiosk agent's readers
    only identifies the person, and arrives as an ``identified`` scan event."""
    kiosk = paired_kiosk()
    if kiosk is None:
        return unpaired()
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("on"), bool):
        return refusal("bad_request", 'Send JSON like {"on": true}.', 400)
    kiosk_id, on, now = kiosk.id, payload["on"], utc_now()
    until = in_write_transaction(db.session(),
                                 lambda s: scans.set_identifying(s, kiosk_id, on, now))
    return jsonify(on=until is not None, until=until.isoformat() if until else None)


@bp.route("/exception-request", methods=["POST"])
def exception_request() -> Any:
    """``{"code", "category", "reason", "ends_on"?, "until"?}``: a request in the name of
    whoever ``code`` names, pending until SLT decide."""
    kiosk = paired_kiosk()
    if kiosk is None:
        return unpaired()
    try:
        code, category, reason, window_end = _parse_request(request.get_json(silent=True))
    except ValueError as error:
        return refusal("bad_request", str(error), 400)
    zone, name, now = current_app.extensions["school_zone"], kiosk.name, utc_now()
    try:
        made = in_write_transaction(db.session(), lambda s: _described(
            exception_requests.request_at_kiosk(s, code, category, reason, window_end, name,
                                                zone, now),
            zone, now))
    except ScanRefused as refused:
        return refusal(refused.reason, str(refused), refused.status)
    except AlreadyAsked as asked:
        body = {"outcome": "pending", "message": str(asked),
                "request": _described(asked.request, zone, now)}
        db.session.rollback()
        return jsonify(body), 409
    except ValidationError as invalid:
        return refusal("invalid", str(invalid), 422)
    announce_new_request(db.session.get_one(ExceptionRequest, made["id"]))
    return jsonify(outcome="requested", person=made["person"], request=made,
                   message="Waiting for SLT; please deposit your phone meanwhile."), 201


def _already(first_name: str, waiting: ExceptionRequest | None,
             agreed: ExceptionRequest | None, zone: tzinfo, now: datetime) -> str:
    if waiting is not None:
        return str(AlreadyAsked(waiting))
    if agreed is not None:
        shown = _described(agreed, zone, now) or {}
        return (f"{first_name}, SLT have already agreed: you may keep your phone until "
                f"{shown['until']}. Scan as usual.")
    return ""


def _parse_request(payload: object) -> tuple[str, str, str, tuple[date | None, time | None]]:
    if not isinstance(payload, dict):
        raise ValueError("Send JSON with code, category, reason, and ends_on or until.")
    fields = [payload.get(name, "") for name in ("code", "category", "reason")]
    if not all(isinstance(value, str) for value in fields):
        raise ValueError("code, category and reason must be text.")
    ends_on, until = payload.get("ends_on"), payload.get("until")
    try:
        day = date.fromisoformat(ends_on) if ends_on else None
        clock = time.fromisoformat(until) if until else None
    except (TypeError, ValueError):
        raise ValueError("ends_on must be a date (2026-11-27) and until a time (15:30).") from None
    code, category, reason = fields
    return code, category, reason, (day, clock)


def _described(found: ExceptionRequest | None, zone: tzinfo, now: datetime,
               ) -> dict[str, Any] | None:
    """What the kiosk shows of a request: never its free-text reason (the screen is public)."""
    if found is None:
        return None
    window = exception_requests.Window.of(found)
    agreed = found.status == exception_requests.APPROVED
    until = window.today_ends(now, zone)
    return {
        "id": found.id, "status": found.status, "person": found.person.name,
        "category": exception_requests.CATEGORIES[found.category],
        "window": window.describe(),
        "until": "the end of the day" if until.time() == time(0) else f"{until:%H:%M}",
        "approved_by": " and ".join(exception_requests.approved_by(found)) if agreed else None,
        "conditions": found.conditions if agreed else "",
    }


def window_choices(today: datetime) -> list[dict[str, str | None]]:
    """The windows offered at the kiosk: today until a time not yet past, to the end of today,
    or whole days to a near date. ``ends_on`` and ``until`` go back as they are."""
    day = today.date()
    choices: list[dict[str, str | None]] = [
        {"kind": "time", "label": f"{until:%H:%M}", "summary": f"today until {until:%H:%M}",
         "ends_on": day.isoformat(), "until": f"{until:%H:%M}"}
        for until in UNTIL_TIMES if until > today.time().replace(tzinfo=None)]
    choices.append({"kind": "time", "label": "End of day", "summary": "today, all day",
                    "ends_on": day.isoformat(), "until": None})
    friday = day + timedelta(days=(4 - day.weekday()) % 7 or 7)
    if friday - day <= timedelta(days=1):  # Thursday: "until Friday" is today and tomorrow
        friday += timedelta(days=7)
    for label, last in (("Today and tomorrow", day + timedelta(days=1)),
                        (f"Until {friday:%a %-d %b}", friday)):
        choices.append({"kind": "days", "label": label,
                        "summary": f"all day, today to {last:%A %-d %B}",
                        "ends_on": last.isoformat(), "until": None})
    return choices
