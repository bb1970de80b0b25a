"""The kiosk screen at a locker bank: no sign-in, paired once by its token."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for

from kiosk import demo
from kiosk.extensions import db
from kiosk.scanning import scan_response
from register import kiosk_events, kiosk_link
from register.accounts import kiosk_for_token
from register.models import Kiosk

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk")

COOKIE = "kiosk_token"
FIVE_YEARS = 5 * 365 * 24 * 3600


def paired_kiosk() -> Kiosk | None:
    """The kiosk this browser was paired as, from its cookie or a bearer token."""
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.startswith("Bearer ") else request.cookies.get(COOKIE)
    return kiosk_for_token(db.session, token)


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
                           idle_seconds=current_app.config["KIOSK_IDLE_SECONDS"],
                           events_after=kiosk_events.latest_id(db.session, kiosk.id))


@bp.route("/scan", methods=["POST"])
def scan() -> Any:
    kiosk = paired_kiosk()
    if kiosk is None:
        return jsonify(outcome="refused", reason="unpaired",
                       message="This kiosk is not paired. Please see the office."), 401
    return scan_response(kiosk.id, request.get_json(silent=True))


@bp.route("/events")
def events() -> Any:
    """What happened at this kiosk's readers and locks since event ``after``, and the state of
    its readers and doors. The page polls this about once a second."""
    kiosk = paired_kiosk()
    if kiosk is None:
        return jsonify(outcome="refused", reason="unpaired",
                       message="This kiosk is not paired. Please see the office."), 401
    after = request.args.get("after", "0")
    if not after.isdigit():
        return jsonify(outcome="refused", reason="bad_request",
                       message="after must be the id of the last event seen."), 400
    found, cursor = kiosk_events.after(db.session, kiosk.id, int(after))
    status = kiosk_link.kiosk_status(db.session, kiosk.id)
    db.session.rollback()  # read only: end the snapshot now
    return jsonify(events=[event.as_dict() for event in found], after=cursor,
                   status=status.as_dict())
