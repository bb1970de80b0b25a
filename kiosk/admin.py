"""School-wide settings for admins: which exception categories need a second SLT approver,
how long a sign-in lasts, the kiosk's second-scan guard and sounds, how long each kind of
record is kept (the retention purge, register/purge.py) and whom people ask about their data
(the data protection officer)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from kiosk.auth import actor, roles_required
from kiosk.extensions import db, read_only_view
from register import fire, purge, retention, settings
from register.db import read_only, unit_of_work
from register.errors import ValidationError
from register.exception_requests import CATEGORIES
from register.models import utc_now

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@roles_required()  # admins only
def require_admin() -> None:
    """Every page here is for admins."""


@bp.route("/settings", methods=["GET"])
@read_only_view
def settings_form() -> str:
    return _settings_page()


RETENTION_FIELDS = tuple(kind.setting for kind in retention.KINDS)  # retention_deposits ...
FIELDS = ("idle_minutes", "lifetime_hours", "rescan_guard_seconds", "kiosk_sound",
          *RETENTION_FIELDS, retention.DPO_CONTACT, fire.LOCKERS)


def _settings_page(error: str = "", typed: dict[str, str] | None = None) -> str:
    session = db.session()
    chosen = settings.second_approver_categories(session)
    limits = settings.session_limits(session)
    kiosk = settings.kiosk_settings(session)
    kept = retention.retention(session)
    typed = typed or {"idle_minutes": str(limits.idle_minutes),
                      "lifetime_hours": str(limits.lifetime_hours),
                      "rescan_guard_seconds": str(kiosk.rescan_guard_seconds),
                      "kiosk_sound": settings.ON if kiosk.sound else settings.OFF,
                      **{kind.setting: str(kept.amount(kind.key)) for kind in retention.KINDS},
                      retention.DPO_CONTACT: retention.dpo_contact(session),
                      fire.LOCKERS: fire.lockers_choice(session)}
    zone = current_app.extensions["school_zone"]
    preview = (purge.purge(session, utc_now(), zone, dry_run=True)
               if request.args.get("preview") == "1" and not error else None)
    return render_template("admin/settings.html", categories=CATEGORIES, chosen=chosen,
                           typed=typed, error=error, idle_range=settings.IDLE_MINUTES_RANGE,
                           lifetime_range=settings.LIFETIME_HOURS_RANGE,
                           guard_range=settings.RESCAN_GUARD_RANGE, kinds=retention.KINDS,
                           dpo_limit=retention.DPO_CONTACT_LIMIT, fire_choices=fire.CHOICES,
                           last_purge=purge.last_run(session), preview=preview, zone=zone)


@bp.route("/settings", methods=["POST"])
def settings_save() -> Any:
    chosen = [c for c in CATEGORIES if c in request.form.getlist("second_approver")]
    try:
        with unit_of_work(db.session()) as session:
            if set(chosen) != settings.second_approver_categories(session):
                settings.put(session, settings.SECOND_APPROVER_CATEGORIES, ",".join(chosen),
                             actor())
            limits = settings.session_limits(session)
            # A form from before these fields existed leaves them as they are.
            limits = settings.put_session_limits(
                session, request.form.get("idle_minutes", str(limits.idle_minutes)),
                request.form.get("lifetime_hours", str(limits.lifetime_hours)), actor())
            kiosk = settings.kiosk_settings(session)
            if "rescan_guard_seconds" in request.form:
                kiosk = settings.put_kiosk_settings(
                    session, request.form["rescan_guard_seconds"],
                    request.form.get("kiosk_sound") == settings.ON, actor())
            # As with the fields above, a kind missing from the form keeps its period.
            retention.put_retention(session, {
                kind.key: request.form[kind.setting] for kind in retention.KINDS
                if kind.setting in request.form}, actor())
            if retention.DPO_CONTACT in request.form:
                retention.put_dpo_contact(session, request.form[retention.DPO_CONTACT], actor())
            if fire.LOCKERS in request.form:
                fire.put_lockers_choice(session, request.form[fire.LOCKERS], actor())
    except ValidationError as error:
        typed = {name: request.form.get(name, "") for name in FIELDS}
        with read_only(db.session()):
            return _settings_page(str(error), typed), 400
    names = ", ".join(CATEGORIES[c] for c in chosen) or "none"
    flash(f"Saved. Categories needing two SLT approvals: {names}. Sign-ins end after "
          f"{limits.idle_minutes} minutes unused, and last at most {limits.lifetime_hours} hours. "
          f"{_guard_sentence(kiosk.rescan_guard_seconds)} Kiosk sounds "
          f"{'on' if kiosk.sound else 'off'}. Retention periods and the data protection "
          "officer's contact are as shown below.")
    return redirect(url_for("admin.settings_form"))


def _guard_sentence(seconds: int) -> str:
    if seconds == 0:
        return "A second scan at the kiosk acts at once."
    return (f"A second scan within {seconds} seconds of a deposit asks before taking the "
            "phone out.")
