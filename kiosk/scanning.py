"""One scan, as the kiosk page and the hardware API both answer it: parse, call, respond."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Response, current_app, jsonify

from kiosk.answers import refused, status_for
from kiosk.extensions import db
from register import deposits, policy, scans
from register.db import read_only, unit_of_work
from register.kiosks import kiosk_for_token

KEY_PATTERN = re.compile(rf"[A-Za-z0-9._:-]{{1,{scans.MAX_KEY_LENGTH}}}")


class BadScanRequest(ValueError):
    """The JSON itself is wrong: a 400 whose message says what to send."""


def parse_scan(payload: object, browser: bool = False) -> scans.ScanRequest:
    """``{"code", "key"?, "scanned_at"?, "source"?, "entry"?, "confirm"?, "choice"?}`` from
    the page or the kiosk agent. The kiosk's browser (``browser``: its cookie) sends only page
    scans, and a code it does not say was scanned counts as typed; what carries the agent's
    token is a reader's."""
    if not isinstance(payload, dict) or not isinstance(payload.get("code"), str):
        raise BadScanRequest('Send JSON like {"code": "..."}.')
    key = payload.get("key")
    if key is not None and not (isinstance(key, str) and KEY_PATTERN.fullmatch(key)):
        raise BadScanRequest(f"key must be 1 to {scans.MAX_KEY_LENGTH} letters, digits or ._:-")
    source = payload.get("source", scans.PAGE)
    if source not in scans.SOURCES:
        raise BadScanRequest(f"source must be one of: {', '.join(scans.SOURCES)}.")
    if browser and source != scans.PAGE:
        raise BadScanRequest("The kiosk page sends source page: readers' scans come from the "
                             "kiosk agent, with its token.")
    entry = payload.get("entry", scans.TYPED if browser else scans.SCANNER)
    if entry not in scans.ENTRIES:
        raise BadScanRequest(f"entry must be one of: {', '.join(scans.ENTRIES)}.")
    confirm = payload.get("confirm", False)
    if not isinstance(confirm, bool):
        raise BadScanRequest("confirm must be true or false.")
    choice = payload.get("choice")
    if choice is not None and choice not in deposits.LEAVE_CHOICES:
        raise BadScanRequest(f"choice must be one of: {', '.join(deposits.LEAVE_CHOICES)}.")
    return scans.ScanRequest(payload["code"], key, _scanned_at(payload.get("scanned_at")),
                             source, entry, confirm, choice)


def _scanned_at(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else None
        # In UTC now: a time at the very edge of the calendar cannot be moved to another zone.
        when = when.astimezone(UTC) if when is not None and when.tzinfo is not None else None
    except (ValueError, OverflowError):
        when = None
    if when is None:
        raise BadScanRequest(
            "scanned_at must be an ISO 8601 time with its zone, e.g. 2026-11-25T08:02:11Z.")
    return when


def ask_tokens() -> policy.AskTokens:
    """The policy question's tokens, signed with the app's secret key: the kiosk's tap on
    **I have read it** sends its token back (kiosk_views.acknowledge_policy)."""
    return policy.AskTokens(str(current_app.config["SECRET_KEY"]).encode())


def scan_response(token: str | None, payload: object, unknown: tuple[str, str],
                  browser: bool = False) -> tuple[Response, int]:
    """The JSON response for a scan from the kiosk whose token this is (its agent's, or with
    ``browser`` its paired browser's; ``unknown``: the reason and sentence if there is none):
    200 when something was done or asked, 4xx if not. One read-only look finds the kiosk and
    any answer already stored under the scan's key; a new scan is then one unit of work."""
    try:
        request: scans.ScanRequest | None = parse_scan(payload, browser)
    except BadScanRequest as error:
        request, bad = None, str(error)
    session = db.session()
    with read_only(session):
        kiosk = kiosk_for_token(session, token, browser)
        kiosk_id = kiosk.id if kiosk is not None else None
        answer = None
        if kiosk_id is not None and request is not None and request.key:
            answer = scans.stored_answer(session, kiosk_id, request.key)
    if kiosk_id is None:
        return refused(*unknown)
    if request is None:
        return refused("bad_request", bad)
    if answer is None:
        with unit_of_work(session):
            answer = scans.scan(session, kiosk_id, request,
                                current_app.extensions["school_zone"], asks=ask_tokens())
    response = jsonify(answer.body)
    if answer.repeated:
        response.headers["Idempotent-Replayed"] = "true"
    return response, status_for(answer.reason)
