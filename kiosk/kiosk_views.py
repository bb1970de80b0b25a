"""The kiosk screen at a locker bank: no sign-in; its browser is paired once with a one-time
pairing code (register.kiosks) and then carries its own credential in a cookie."""

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
from kiosk.answers import refused, refused_for, status_for
from kiosk.auth import bearer_token
from kiosk.extensions import db
from kiosk.scanning import ask_tokens, scan_response
from kiosk.slt import announce_new_request
from register import (
    codes,
    exception_requests,
    kiosk_events,
    kiosk_link,
    kiosks,
    policy,
    scans,
    settings,
)
from register.db import read_only, unit_of_work
from register.errors import RegisterError
from register.exception_requests import CATEGORIES, AlreadyAsked
from register.models import ExceptionRequest, Kiosk, Person, utc_now
from register.text import whole_number

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk")

COOKIE = "kiosk_browser"
OLD_COOKIE = "kiosk_token"  # held the agent's token before pairing codes: no longer read
FIVE_YEARS = 5 * 365 * 24 * 3600


def kiosk_credential() -> tuple[str | None, bool]:
    """The agent's bearer token if the request has one, else this browser's credential from
    its cookie (True: a browser's)."""
    token = bearer_token()
    return (token, False) if token is not None else (request.cookies.get(COOKIE), True)


def paired_kiosk() -> Kiosk | None:
    """The kiosk this browser was paired as (or whose agent token this is), unless revoked:
    one indexed read, in its own read-only unit of work (the kiosk's fields stay readable
    after it)."""
    token, browser = kiosk_credential()
    with read_only(db.session()) as session:
        kiosk = kiosks.kiosk_for_token(session, token, browser)
        if kiosk is not None:
            session.expunge(kiosk)
    return kiosk


UNPAIRED = ("unpaired", "This kiosk is not paired. Please see the office.")


def unpaired() -> tuple[Response, int]:
    return refused(*UNPAIRED)


def unpaired_page() -> tuple[str, int]:
    return render_template("kiosk/unpaired.html"), 401


OLD_LINK = ("Pairing links with a token no longer work. Ask the office for a pairing code and "
            "type it here.")


@bp.route("/pair", methods=["GET"])
def pair() -> Any:
    """The kiosk's browser types (or a QR code's link fills in) a one-time pairing code."""
    if "token" in request.args:  # the old /kiosk/pair?token=... link: it pairs nothing now
        return render_template("kiosk/pair.html", error=OLD_LINK), 400
    return render_template("kiosk/pair.html", error=None)


@bp.route("/pair", methods=["POST"])
def pair_code() -> Any:
    """Exchange the code for this browser's own credential (an HttpOnly cookie). The form
    carries a CSRF token like every other, so no other site can pair this browser."""
    with unit_of_work(db.session()) as session:  # a wrong code is counted: commit either way
        paired = kiosks.pair_browser(session, request.form.get("code", ""),
                                     request.remote_addr or "")
    if paired.browser_token is None:  # the code as typed stays in the field, to check
        typed = kiosks.normalise_pairing_code(request.form.get("code", ""))[:kiosks.CODE_LENGTH]
        return render_template("kiosk/pair.html", error=paired.refusal,
                               typed=kiosks.group(typed) if len(typed) > 4 else typed), \
            status_for(paired.reason)
    response = redirect(url_for("kiosk.screen"), 303)
    response.set_cookie(COOKIE, paired.browser_token, max_age=FIVE_YEARS, httponly=True,
                        samesite="Strict",
                        secure=bool(current_app.config["SESSION_COOKIE_SECURE"]))
    response.delete_cookie(OLD_COOKIE)
    return response


@bp.route("")
def screen() -> Any:
    kiosk = paired_kiosk()
    if kiosk is None:
        return unpaired_page()
    with read_only(db.session()) as session:
        demo_codes = [] if current_app.config["PRODUCTION"] else demo.kiosk_samples(session)
        return render_template("kiosk/screen.html", kiosk=kiosk, demo_codes=demo_codes,
                               categories=CATEGORIES,
                               idle_seconds=current_app.config["KIOSK_IDLE_SECONDS"],
                               events_after=kiosk_events.latest_id(session, kiosk.id),
                               sound=settings.kiosk_settings(session).sound)


@bp.route("/scan", methods=["POST"])
def scan() -> Any:
    token, browser = kiosk_credential()
    return scan_response(token, request.get_json(silent=True), UNPAIRED, browser)


@bp.route("/events")
def events() -> Any:
    """What happened at this kiosk's readers and locks since event ``after``, and the state of
    its readers and doors. The page polls this about once a second."""
    kiosk = paired_kiosk()
    if kiosk is None:
        return unpaired()
    after = whole_number(request.args.get("after", "0"))
    if after is None:
        return refused("bad_request", "after must be the id of the last event seen.")
    with read_only(db.session()) as session:
        found, cursor = kiosk_events.after(session, kiosk.id, after)
        status = kiosk_link.kiosk_status(session, kiosk.id)
    return jsonify(events=[event.as_dict() for event in found], after=cursor,
                   status=status.as_dict())


@bp.route("/policy/acknowledge", methods=["POST"])
def acknowledge_policy() -> Any:
    """``{"token"}``: the tap on **I have read it** under the policy's summary, with the token
    the scan's answer carried (signed, naming the person, the version and this kiosk, valid a
    few minutes). Recorded once; a second tap says so again and records nothing more."""
    kiosk = paired_kiosk()
    if kiosk is None:
        return unpaired()
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("token"), str):
        return refused("bad_request", 'Send JSON like {"token": "..."}.')
    try:
        with unit_of_work(db.session()) as session:
            person, done = policy.acknowledge_at_kiosk(session, ask_tokens(), payload["token"],
                                                       kiosk.id)
            first_name = person.first_name
    except RegisterError as error:
        return refused_for(error)
    return jsonify(outcome="acknowledged", person=first_name, version=done.version,
                   message=f"Thank you, {first_name}: recorded that you have read it.")


# --- asking for an exception ("I need my phone today") -------------------------------------

# Times offered for "today until"; the page also offers the end of the day.
UNTIL_TIMES = (time(12, 0), time(15, 30), time(17, 0))


@bp.route("/identify", methods=["POST"])
def identify() -> Any:
    """Who a scan names, and any request of theirs that still matters today. Changes nothing
    but marking a decision told (``notice``, once): asking starts with a scan that only
    identifies."""
    kiosk = paired_kiosk()
    if kiosk is None:
        return unpaired()
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("code"), str):
        return refused("bad_request", 'Send JSON like {"code": "..."}.')
    zone, now = current_app.extensions["school_zone"], utc_now()
    session = db.session()
    try:
        with read_only(session):
            person = codes.resolve(session, payload["code"]).person
            person_id = person.id
            waiting = exception_requests.pending_for(session, person.id, zone, now)
            agreed = exception_requests.active_for(session, person.id, zone, now)
            body: dict[str, Any] = {
                "outcome": "identified", "person": person.first_name,
                "first_name": person.first_name,
                "request": _described(waiting or agreed, zone, now),
                "message": _already(person.first_name, waiting, agreed, zone, now),
                "windows": window_choices(now.astimezone(zone)), "notice": None}
            untold = bool(exception_requests.untold(session, person.id, now))
    except RegisterError as error:
        return refused_for(error)
    if untold:  # a decision not yet told: said once, so marked told (the only write here)
        with unit_of_work(session):
            body["notice"] = exception_requests.tell_requester(
                session, session.get_one(Person, person_id), zone, now)
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
        return refused("bad_request", 'Send JSON like {"on": true}.')
    with unit_of_work(db.session()) as session:
        until = scans.set_asking(session, kiosk.id, payload["on"])
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
        return refused("bad_request", str(error))
    zone, now = current_app.extensions["school_zone"], utc_now()
    session = db.session()
    try:
        with unit_of_work(session):
            made = exception_requests.request_at_kiosk(session, code, category, reason,
                                                       window_end, kiosk.name, zone, now)
    except AlreadyAsked as asked:  # not a refusal: the kiosk shows the request that waits
        with read_only(session):
            waiting = _described(asked.request, zone, now)
        return jsonify(outcome="pending", message=str(asked), request=waiting), 409
    except RegisterError as error:
        return refused_for(error)
    with read_only(session):
        shown = _described(made, zone, now)
        announce_new_request(made)
    assert shown is not None
    return jsonify(outcome="requested", person=shown["person"], request=shown,
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
        if clock is not None and clock.tzinfo is not None:  # the school's clock: no zone
            raise ValueError(until)
    except (TypeError, ValueError):
        raise ValueError("ends_on must be a date (2026-11-27) and until a time (15:30).") from None
    code, category, reason = fields
    return code, category, reason, (day, clock)


def _described(found: ExceptionRequest | None, zone: tzinfo, now: datetime,
               ) -> dict[str, Any] | None:
    """What the kiosk shows of a request: the first name and when, never its category or
    free-text reason (the screen is public)."""
    if found is None:
        return None
    window = exception_requests.Window.of(found)
    agreed = found.status == exception_requests.APPROVED
    until = window.today_ends(now, zone)
    return {
        "id": found.id, "status": found.status, "person": found.person.first_name,
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
