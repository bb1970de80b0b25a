"""One scan, as the kiosk page and the hardware API both answer it."""

from __future__ import annotations

from typing import Any

from flask import current_app

from kiosk.extensions import db
from register.deposits import ScanResult, handle_scan
from register.errors import ScanRefused


def scan_response(kiosk_id: int, code: str) -> tuple[dict[str, Any], int]:
    """JSON body and HTTP status for a scan: 200 when something was done or asked, 4xx if not."""
    try:
        result = handle_scan(db.session(), kiosk_id, code)
    except ScanRefused as refused:
        return {
            "outcome": "refused", "reason": refused.reason, "message": str(refused),
            "locker": None, "person": None,
        }, refused.status
    return _payload(result), 200


def _payload(result: ScanResult) -> dict[str, Any]:
    zone = current_app.extensions["school_zone"]
    local = result.at.astimezone(zone)
    return {
        "outcome": result.outcome,
        "message": result.message,
        "locker": result.locker,
        "bank": result.bank,
        "person": result.person,
        "at": result.at.isoformat(),
        "time": local.strftime("%H:%M"),
        "choices": [
            {"code": c.code, "description": c.description, "locker": c.locker}
            for c in result.choices
        ],
    }
