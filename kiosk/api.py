"""JSON API for hardware readers (bearer kiosk token) and the health check."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from sqlalchemy import text

from kiosk.extensions import csrf, db
from kiosk.scanning import scan_response
from register.accounts import kiosk_for_token

bp = Blueprint("api", __name__)
csrf.exempt(bp)  # no cookies here: every call carries its own bearer token


@bp.route("/api/v1/scan", methods=["POST"])
def scan() -> Any:
    header = request.headers.get("Authorization", "")
    kiosk = kiosk_for_token(db.session, header[7:] if header.startswith("Bearer ") else None)
    if kiosk is None:
        return jsonify(outcome="refused", reason="unauthorised",
                       message="Missing or unknown kiosk token."), 401
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("code"), str):
        return jsonify(outcome="refused", reason="bad_request",
                       message='Send JSON like {"code": "..."}.'), 400
    body, status = scan_response(kiosk.id, payload["code"])
    return jsonify(body), status


@bp.route("/healthz")
def healthz() -> Any:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any failure to reach the database is "unhealthy"
        db.session.rollback()
        return jsonify(status="database unreachable"), 503
    return jsonify(status="ok")
