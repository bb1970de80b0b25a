"""The incident log's pages (register/incidents.py): the list, the record form, and one
incident with its action, escalation and closing.

For the office, SLT and admins; the office sees only the incidents it recorded itself. Every
page that shows an incident, or the list, is one unit of work because its view is audited.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict

from kiosk.auth import roles_required
from kiosk.errors import FIRST_DAY, LAST_DAY, typed_date
from kiosk.extensions import db, in_unit_of_work, read_only_view
from register import incidents
from register.db import unit_of_work
from register.errors import NotFound, RegisterError, ValidationError
from register.incidents import KINDS, STATUSES, Filters, IncidentDetails
from register.models import Device, Incident, Person, Role, utc_now
from register.text import whole_number

bp = Blueprint("incidents", __name__, url_prefix="/incidents")


@bp.before_request
@roles_required(Role.OFFICE, Role.SLT)
def require_office_or_slt() -> None:
    """The office records incidents and sees its own; SLT and admins see them all."""


def _zone() -> tzinfo:
    zone: tzinfo = current_app.extensions["school_zone"]
    return zone


def _day(text: str, what: str) -> date | None:
    """An optional filter date: blank is none."""
    return typed_date(text, what) if text.strip() else None


def _moment(text: str) -> datetime | None:
    """The form's date and time (the school's clock) as an instant; None when not given."""
    if not text.strip():
        return None
    try:
        local = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError("Enter when it happened as a date and a time.") from None
    if local.tzinfo is not None or not FIRST_DAY <= local.date() <= LAST_DAY:
        raise ValidationError("Enter when it happened as a date and a time.")
    return local.replace(tzinfo=_zone())


def _ids(form: MultiDict[str, str], name: str) -> list[int]:
    numbers = [whole_number(value) for value in form.getlist(name)]
    if any(n is None for n in numbers):
        raise ValidationError("Choose people and phones from the lists.")
    return [n for n in numbers if n is not None]


@bp.route("/")
@in_unit_of_work
def index() -> tuple[str, int]:
    args, error = request.args, None
    try:
        filters = Filters(args.get("status", ""), args.get("kind", ""),
                          _day(args.get("since", ""), "the first day"),
                          _day(args.get("until", ""), "the last day"))
    except ValidationError as refused:
        filters, error = Filters(), str(refused)
    found = incidents.list_incidents(db.session(), g.user, filters, _zone(), utc_now())
    page = render_template("incidents/list.html", incidents=found, filters=filters,
                           kinds=KINDS, statuses=STATUSES, error=error,
                           sees_all=incidents.sees_all(g.user), zone=_zone())
    return page, 422 if error else 200


def _form(values: Any, error: str | None = None, status: int = 200) -> tuple[str, int]:
    people = list(db.session.scalars(select(Person).where(Person.active)
                                     .order_by(Person.name, Person.id)))
    devices = list(db.session.scalars(
        select(Device).join(Person).options(selectinload(Device.owner))
        .where(Person.active, Device.retired_at.is_(None)).order_by(Person.name, Device.id)))
    now_local = utc_now().astimezone(_zone()).replace(second=0, microsecond=0, tzinfo=None)
    page = render_template("incidents/form.html", values=values, error=error, kinds=KINDS,
                           people=people, devices=devices,
                           now_local=now_local.isoformat(timespec="minutes"))
    return page, status


@bp.route("/new", methods=["GET"])
@read_only_view
def new() -> tuple[str, int]:
    return _form(MultiDict())


@bp.route("/new", methods=["POST"])
def record() -> Any:
    form = request.form
    session = db.session()
    try:
        with unit_of_work(session):
            details = IncidentDetails(
                kind=form.get("kind", ""), occurred_at=_moment(form.get("occurred_at", "")),
                what_happened=form.get("what_happened", ""),
                reported_by=form.get("reported_by", ""), location=form.get("location", ""),
                person_ids=_ids(form, "person_ids"), device_ids=_ids(form, "device_ids"))
            incident = incidents.record_incident(session, details, g.user, utc_now())
            ident = incident.id
    except RegisterError as error:
        with unit_of_work(session):
            return _form(form, str(error), 422)
    flash(f"Incident {ident} recorded.")
    return redirect(url_for("incidents.show", ident=ident))


def _not_found(error: NotFound) -> tuple[str, int]:
    return render_template("error.html", title="Incident not found", message=str(error)), 404


def _page(incident: Incident, error: str | None = None, status: int = 200,
          values: Any = None) -> tuple[str, int]:
    page = render_template("incidents/show.html", incident=incident, kinds=KINDS,
                           statuses=STATUSES, error=error, values=values, zone=_zone())
    return page, status


@bp.route("/<int:ident>")
@in_unit_of_work
def show(ident: int) -> tuple[str, int]:
    try:
        incident = incidents.incident_for(db.session(), g.user, ident, utc_now())
    except NotFound as error:
        return _not_found(error)
    return _page(incident)


def _change(ident: int, change: str) -> Any:
    """Apply one change to an incident the user may see; its page again, with a sentence,
    when the change is refused."""
    session, form, now = db.session(), request.form, utc_now()
    try:
        with unit_of_work(session):
            incident = incidents.incident_for(session, g.user, ident, now, audited=False)
            if change == "action":
                incidents.update_action(session, incident, g.user, form.get("action_taken", ""),
                                        form.get("action_by", ""),
                                        form.get("escalated_to", ""), now)
                flash("Action saved.")
            elif change == "close":
                incidents.close(session, incident, g.user, now)
                flash(f"Incident {ident} closed.")
            else:
                incidents.reopen(session, incident, g.user, now)
                flash(f"Incident {ident} opened again.")
    except NotFound as error:
        return _not_found(error)
    except RegisterError as error:
        with unit_of_work(session):
            incident = incidents.incident_for(session, g.user, ident, now)
            return _page(incident, str(error), 422, form if change == "action" else None)
    return redirect(url_for("incidents.show", ident=ident))


@bp.route("/<int:ident>/action", methods=["POST"])
def action(ident: int) -> Any:
    return _change(ident, "action")


@bp.route("/<int:ident>/close", methods=["POST"])
def close(ident: int) -> Any:
    return _change(ident, "close")


@bp.route("/<int:ident>/reopen", methods=["POST"])
def reopen(ident: int) -> Any:
    return _change(ident, "reopen")
