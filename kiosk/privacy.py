"""The privacy notice: what the register records, why, who sees it, how long it is kept and
whom to ask. Open to everyone, signed in or not: the kiosk's browser is paired, never signed
in, and the notice holds no personal data. How long each kind of record is kept is read from
the retention settings each time, so the notice never disagrees with them."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, render_template, request

from kiosk.extensions import db
from register import retention
from register.db import read_only

bp = Blueprint("privacy", __name__)

# From the kiosk, the notice goes back to the idle screen by itself after this long untouched
# (privacy.js), so a kiosk is never left showing it.
KIOSK_IDLE_SECONDS = 120
ICO_COMPLAINTS = "https://ico.org.uk/make-a-complaint/"


@dataclass(frozen=True)
class Period:
    """One row of "How long do we keep it?"."""

    label: str
    covers: str
    kept: str
    why: str


@bp.route("/privacy")
def notice() -> str:
    from_kiosk = request.args.get("from") == "kiosk"
    with read_only(db.session()) as session:
        kept = retention.retention(session)
        contact = retention.dpo_contact(session)
    periods = [Period(kind.label, kind.covers, kept.describe(kind.key), kind.why)
               for kind in retention.KINDS]
    return render_template(
        "privacy.html", periods=periods, dpo_contact=contact, from_kiosk=from_kiosk,
        layout="privacy_kiosk.html" if from_kiosk else "base.html",
        idle_seconds=KIOSK_IDLE_SECONDS, ico_url=ICO_COMPLAINTS)
