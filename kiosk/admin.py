"""School-wide settings for admins: which exception categories need a second SLT approver."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from kiosk.auth import actor, roles_required
from kiosk.extensions import db, read_only_view
from register import settings
from register.db import unit_of_work
from register.exception_requests import CATEGORIES

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@roles_required()  # admins only
def require_admin() -> None:
    """Every page here is for admins."""


@bp.route("/settings", methods=["GET"])
@read_only_view
def settings_form() -> str:
    chosen = settings.second_approver_categories(db.session())
    return render_template("admin/settings.html", categories=CATEGORIES, chosen=chosen)


@bp.route("/settings", methods=["POST"])
def settings_save() -> Any:
    chosen = [c for c in CATEGORIES if c in request.form.getlist("second_approver")]
    with unit_of_work(db.session()) as session:
        if set(chosen) != settings.second_approver_categories(session):
            settings.put(session, settings.SECOND_APPROVER_CATEGORIES, ",".join(chosen), actor())
    names = ", ".join(CATEGORIES[c] for c in chosen) or "none"
    flash(f"Saved. Categories needing two SLT approvals: {names}.")
    return redirect(url_for("admin.settings_form"))
