"""JSON API for the kiosk agent and hardware readers (bearer kiosk token), and the health check."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, g, jsonify, request
from sqlalchemy import text

from kiosk.extensions import csrf, db
from kiosk.scanning import scan_response
from register import kiosk_link, locks
from register.accounts import kiosk_for_token
from register.errors import NotFound
from register.models import utc_now

bp = Blueprint("api", __name__)
csrf.exempt(bp)  # no cookies here: every call carries its own bearer token

MAX_READERS = 8
MAX_DOORS = 400


def kiosk_token_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """A kiosk's bearer token, else 401. Office, SLT and admin sessions do not count."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        kiosk = kiosk_for_token(db.session, header[7:] if header.startswith("Bearer ") else None)
        if kiosk is None:
            return jsonify(outcome="refused", reason="unauthorised",
                           message="Missing or unknown kiosk token."), 401
        g.kiosk_id = kiosk.id
        return view(*args, **kwargs)

    return wrapped


def bad_request(message: str) -> tuple[Any, int]:
    return jsonify(outcome="refused", reason="bad_request", message=message), 400


@bp.route("/api/v1/scan", methods=["POST"])
@kiosk_token_required
def scan() -> Any:
    return scan_response(g.kiosk_id, request.get_json(silent=True))


@bp.route("/api/v1/agent/heartbeat", methods=["POST"])
@kiosk_token_required
def heartbeat() -> Any:
    payload = request.get_json(silent=True)
    try:
        readers, doors = _parse_heartbeat(payload)
    except ValueError as error:
        return bad_request(str(error))
    orders = kiosk_link.heartbeat(db.session(), g.kiosk_id, readers, doors)
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
    for name, report in raw_readers.items():
        if not isinstance(report, dict) or not isinstance(report.get("connected"), bool):
            raise ValueError(f'readers.{name} needs "connected": true or false.')
        readers[name] = kiosk_link.ReaderReport(report["connected"], str(report.get("detail", "")))
    doors = {}
    for number, state in raw_doors.items():
        if not str(number).isdigit() or state not in kiosk_link.DOOR_STATES:
            raise ValueError(f"doors.{number} must be a locker number and one of "
                             f"{', '.join(kiosk_link.DOOR_STATES)}.")
        doors[int(number)] = state
    return readers, doors


@bp.route("/api/v1/agent/commands/<int:command_id>", methods=["POST"])
@kiosk_token_required
def command_result(command_id: int) -> Any:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("ok"), bool):
        return bad_request('Send JSON like {"ok": true} or {"ok": false, "error": "..."}.')
    try:
        status = locks.record_result(db.session(), g.kiosk_id, command_id, payload["ok"],
                                     str(payload.get("error") or ""))
    except NotFound as error:
        return jsonify(outcome="refused", reason="not_found", message=str(error)), 404
    return jsonify(id=command_id, status=status)


@bp.route("/healthz")
def healthz() -> Any:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any failure to reach the database is "unhealthy"
        db.session.rollback()
        return jsonify(status="database unreachable"), 503
    return jsonify(status="ok")
