"""Demo only: tap a badge or scan a phone label on the kiosk agent's simulated readers.

The buttons send the bytes a real device would (an RDM6300 frame, a barcode line) to the
agent's ``sim://rfid`` and ``sim://scanner`` sockets; the agent then treats them exactly as it
treats a real reader, and the kiosk screen shows the result. Absent in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk import demo
from kiosk.extensions import db, read_only_view
from kiosk.kiosk_views import paired_kiosk
from register.models import Device, Person, Role

bp = Blueprint("simulator", __name__, url_prefix="/kiosk/simulate")

READERS = {"rfid": "badge reader", "scanner": "barcode scanner"}


@dataclass(frozen=True)
class Tap:
    """One thing a person could present: ``reader`` is the sim:// reader it goes to."""

    label: str
    code: str
    reader: str


def reader_for(code: str) -> str:
    """Badges are ten digits (what a keyboard-mode badge reader types); the rest are scanned."""
    return "rfid" if len(code) == 10 and code.isdigit() else "scanner"


def demo_taps(session: Session, extra: int = 3) -> list[Tap]:
    """The kiosk's demo samples, then a few more badges and phone labels."""
    taps = [Tap(label, code, reader_for(code)) for label, code in demo.kiosk_samples(session)]
    staff = session.scalars(
        select(Person).where(Person.badge_id.is_not(None), Person.active).order_by(Person.id)
        .offset(2).limit(extra))
    taps += [Tap(f"{p.name}'s badge", p.badge_id or "", "rfid") for p in staff]
    phones = session.scalars(
        select(Device).where(Device.retired_at.is_(None)).order_by(Device.id.desc()).limit(extra))
    taps += [Tap(f"{d.owner.first_name}'s {d.description}", d.label_code, "scanner")
             for d in phones]
    unique: dict[str, Tap] = {}
    for one in taps:
        unique.setdefault(one.code, one)
    return [one for code, one in unique.items() if code]


@bp.before_request
def demo_only() -> Any:
    if current_app.config["PRODUCTION"]:
        abort(404)
    office = g.get("user") is not None and g.user.role in (Role.OFFICE, Role.ADMIN)
    if not office and paired_kiosk() is None:
        return redirect(url_for("auth.login", next=request.full_path))
    return None


@bp.route("", methods=["GET"])
@read_only_view
def page() -> Any:
    return render_template("kiosk/simulate.html", taps=demo_taps(db.session()), readers=READERS)


@bp.route("", methods=["POST"])
def tap() -> Any:
    # The drivers (pyserial and all) load only in the demo, when a tap is sent.
    from hardware.errors import HardwareError
    from hardware.simulated import badge_frame_for, send

    reader = request.form.get("reader", "")
    code = request.form.get("code", "").strip()
    if reader not in READERS or not code:
        flash("Choose a badge or a label to present.", "error")
        return redirect(url_for(".page"), code=303)
    try:
        data = badge_frame_for(code) if reader == "rfid" else code.encode() + b"\r"
        send(reader, data)
    except (ValueError, HardwareError) as error:  # not a badge number; no agent listening
        flash(str(error), "error")
    else:
        flash(f"Presented {code} to the simulated {READERS[reader]} (sim://{reader}).")
    return redirect(url_for(".page"), code=303)
