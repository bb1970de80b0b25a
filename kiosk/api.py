"""JSON API for the kiosk agent and hardware readers (bearer kiosk token), and the health check."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, g, jsonify, request
from sqlalchemy import text

from kiosk.answers import refused, refused_for
from kiosk.auth import bearer_token
from kiosk.extensions import csrf, db
from kiosk.scanning import scan_response
from register import fire, kiosk_link, lock_commands
from register.db import read_only, unit_of_work
from register.errors import RegisterError
from register.kiosks import kiosk_for_token
from register.models import utc_now
from register.text import clean_text, whole_number

bp = Blueprint("api", __name__)
csrf.exempt(bp)  # no cookies here: every call carries its own bearer token

MAX_READERS = 8
MAX_DOORS = 400
MAX_DOOR_NUMBER = 9999  # a locker's number at its bank (a bank has at most 200)


UNAUTHORISED = ("unauthorised", "Missing, unknown or revoked kiosk token.")


def kiosk_token_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """A kiosk agent's bearer token, else 401 (a revoked kiosk's too). Office, SLT and admin
    sessions and the kiosk browser's cookie do not count."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with read_only(db.session()) as session:
            kiosk = kiosk_for_token(session, bearer_token())
            kiosk_id = kiosk.id if kiosk else None
        if kiosk_id is None:
            return refused(*UNAUTHORISED)
        g.kiosk_id = kiosk_id
        return view(*args, **kwargs)

    return wrapped


@bp.route("/api/v1/scan", methods=["POST"])
def scan() -> Any:
    """The token is checked in the scan's own read-only look (scan_response), with its
    stored answer: one transaction fewer than kiosk_token_required would take."""
    return scan_response(bearer_token(), request.get_json(silent=True), UNAUTHORISED)


@bp.route("/api/v1/agent/heartbeat", methods=["POST"])
@kiosk_token_required
def heartbeat() -> Any:
    payload = request.get_json(silent=True)
    try:
        readers, doors = _parse_heartbeat(payload)
    except (ValueError, RegisterError) as error:  # RegisterError: a NUL in a reader's detail
        return refused("bad_request", str(error))
    with unit_of_work(db.session()) as session:
        orders = kiosk_link.heartbeat(session, g.kiosk_id, readers, doors)
    return jsonify(commands=[order.as_dict() for order in orders],
                   server_time=utc_now().isoformat())


def _parse_heartbeat(
    payload: object,
) -> tuple[dict[str, kiosk_link.ReaderReport], dict[int, str]]:
    """``{"readers": {"rfid": {"connected": true, "detail": ""}}, "doors": {"7": "open"}}``."""
    if not isinstance(payload, dict):
        raise ValueError('Send JSON like {"readers": {...}, "doors": {...}}.')
    raw_readers, raw_doors = payload.get("readers", {}), payload.get("doors", {})
    if not isinstance(raw_readers, dict) or len(raw_readers) > MAX_READERS:
        raise ValueError('readers must be an object like {"rfid": {"connected": true}}.')
    if not isinstance(raw_doors, dict) or len(raw_doors) > MAX_DOORS:
        raise ValueError('doors must be an object like {"7": "open"}.')
    readers = {}
    for raw_name, report in raw_readers.items():
        name = clean_text(raw_name, "A reader's name")
        if not isinstance(report, dict) or not isinstance(report.get("connected"), bool):
            raise ValueError(f'readers.{name[:40]} needs "connected": true or false.')
        readers[name] = kiosk_link.ReaderReport(
            report["connected"], clean_text(str(report.get("detail", "")), "A reader's detail"))
    doors = {}
    for raw_number, state in raw_doors.items():
        number = whole_number(raw_number, MAX_DOOR_NUMBER)
        if number is None or state not in kiosk_link.DOOR_STATES:
            shown = clean_text(raw_number.replace("\x00", ""))[:12]
            raise ValueError(f"doors.{shown} must be a locker number (0 to {MAX_DOOR_NUMBER}) "
                             "and one of "
                             f"{', '.join(kiosk_link.DOOR_STATES)}.")
        doors[number] = state
    return readers, doors


@bp.route("/api/v1/agent/commands/<int:command_id>", methods=["POST"])
@kiosk_token_required
def command_result(command_id: int) -> Any:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("ok"), bool):
        return refused("bad_request",
                       'Send JSON like {"ok": true} or {"ok": false, "error": "..."}.')
    try:
        error_text = clean_text(str(payload.get("error") or ""), "The error")
        with unit_of_work(db.session()) as session:
            status = lock_commands.record_result(session, g.kiosk_id, command_id, payload["ok"],
                                                 error_text)
    except RegisterError as error:
        return refused_for(error)
    return jsonify(id=command_id, status=status)


@bp.route("/api/v1/agent/fire-alarm", methods=["POST"])
@kiosk_token_required
def fire_alarm() -> Any:
    """The agent saw the fire panel go into alarm: ``{"key": "...", "at": "<ISO time>"}``.
    Recorded, lockers opened or kept locked as the school chose, then the roll call printed."""
    from kiosk.fire_alarm import print_roll_call

    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("key"), str):
        return refused("bad_request",
                       'Send JSON like {"key": "...", "at": "2026-11-25T10:02:00Z"}.')
    try:
        seen_at = datetime.fromisoformat(str(payload.get("at") or ""))
    except ValueError:
        seen_at = None  # the agent's clock is only a hint: the alarm is never refused for it
    if seen_at is not None and seen_at.tzinfo is None:
        seen_at = None
    try:
        with unit_of_work(db.session()) as session:
            outcome = fire.report_alarm(session, g.kiosk_id, payload["key"], seen_at)
    except RegisterError as error:
        return refused_for(error)
    printed = "" if outcome.repeat else print_roll_call(outcome.kiosk)
    return jsonify(outcome="recorded", repeat=outcome.repeat, opened=outcome.opened,
                   message=f"{outcome.message} {printed}".strip())


@bp.route("/healthz")
def healthz() -> Any:
    try:
        with read_only(db.session()) as session:
            session.execute(text("SELECT 1"))
    except Exception:  # any failure to reach the database is "unhealthy"
        return jsonify(status="database unreachable"), 503
    return jsonify(status="ok")
