"""Recording a request for an exception on someone's behalf (after a phone call, say).

For the office and SLT. The request is the same record a kiosk makes, with ``requested_via``
saying who typed it in; SLT decide it on their tablet like any other.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict

from kiosk.auth import actor, roles_required
from kiosk.errors import typed_date
from kiosk.extensions import db, in_unit_of_work
from kiosk.slt import announce_new_request
from register import audit, exception_requests, people, settings
from register.db import read_only, unit_of_work
from register.errors import RegisterError, ValidationError
from register.exception_requests import ALL_DAYS, CATEGORIES, Window
from register.models import ExceptionRequest, Person, Role, utc_now
from register.text import whole_number

bp = Blueprint("requests", __name__, url_prefix="/requests")

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MAX_MATCHES = 20


@bp.before_request
@roles_required(Role.OFFICE, Role.SLT)
def require_office_or_slt() -> None:
    """The office and SLT record requests; admins too."""


def parse_window(form: MultiDict[str, str], now_local: datetime) -> Window:
    """The window chosen on the form: today until a time, a date range, or weekdays."""
    kind = form.get("when", "")
    today = now_local.date()
    if kind == "today":
        until = _time(form.get("today_until", ""), "the time it ends today")
        if until is None:
            raise ValidationError("Enter the time it ends today, e.g. 15:30.")
        if until <= now_local.time().replace(tzinfo=None):
            raise ValidationError(f"It is already past {until:%H:%M}: choose a later time.")
        return Window(today, today, None, until)
    if kind == "range":
        return Window(typed_date(form.get("range_from", ""), "the first day"),
                      typed_date(form.get("range_to", ""), "the last day"))
    if kind == "weekly":
        days = "".join(d for d in ALL_DAYS if d in form.getlist("weekly_days"))
        if not days:
            raise ValidationError("Choose at least one day of the week.")
        return Window(typed_date(form.get("weekly_from", ""), "the first day"),
                      typed_date(form.get("weekly_to", ""), "the last day"),
                      _time(form.get("weekly_start", ""), "the start time"),
                      _time(form.get("weekly_end", ""), "the end time"), days)
    raise ValidationError("Choose when the exception applies.")


def _time(text: str, what: str) -> time | None:
    if not text.strip():
        return None
    try:
        clock = time.fromisoformat(text.strip()).replace(second=0, microsecond=0)
    except ValueError:
        clock = None
    if clock is None or clock.tzinfo is not None:  # the school's clock: no zone
        raise ValidationError(f"Enter {what} as a time, e.g. 15:30.")
    return clock


def _page(person: Person | None, values: Any, error: str | None = None, status: int = 200,
          query: str | None = None) -> tuple[str, int]:
    query = (request.args.get("q", "") if query is None else query).strip()
    matches = _matches(query, "") if person is None and query else []
    recent = list(db.session.scalars(
        select(ExceptionRequest).options(selectinload(ExceptionRequest.person))
        .order_by(ExceptionRequest.requested_at.desc()).limit(10)))
    page = render_template(
        "slt/request_form.html", person=person, values=values, error=error, query=query,
        matches=matches, summary=_summary(len(matches), query), categories=CATEGORIES,
        weekdays=list(enumerate(WEEKDAYS)),
        two_approvers=settings.second_approver_categories(db.session()), recent=recent,
        windows={r.id: Window.of(r).describe() for r in recent},
        today=utc_now().astimezone(current_app.extensions["school_zone"]).date())
    return page, status


def _matches(query: str, how: str) -> list[Person]:
    """Who the request may be for (people who have not left), and the search's audit entry."""
    matches = people.search_people(db.session(), query)[:MAX_MATCHES]
    audit.record(db.session(), actor(), "requests.person_search",
                 detail=f"{len(matches)} people listed{how}")
    return matches


@bp.route("/people", methods=["POST"])
@in_unit_of_work
def people_search() -> Any:
    """Who is it for? By POST, so the name (or badge, or IMEI digits) stays out of the URL.
    As you type (kiosk/static/search.js asks for JSON): the matching buttons; from the form
    without the script: the whole page."""
    query = request.form.get("q", "").strip()
    if "application/json" not in request.headers.get("Accept", ""):
        return _page(None, MultiDict({"when": "today"}), query=query)
    matches = _matches(query, " as you type") if query else []
    html = render_template("slt/_person_matches.html", matches=matches, query=query)
    return jsonify(count=len(matches), html=html, summary=_summary(len(matches), query))


def _summary(count: int, query: str) -> str:
    if not query:
        return ""
    if not count:
        return f"Nobody on the register matches “{query}”."
    if count >= MAX_MATCHES:
        return f"The first {count} matches: type more of the name to narrow them."
    return f"{count} {'match' if count == 1 else 'matches'}: choose who the request is for."


def _chosen_person(ident: str) -> Person | None:
    person_id = whole_number(ident)
    person = db.session.get(Person, person_id) if person_id is not None else None
    return person if person is not None and person.active else None


@bp.route("/new", methods=["GET"])
@in_unit_of_work
def new() -> tuple[str, int]:
    person = _chosen_person(request.args.get("person", ""))
    return _page(person, MultiDict({"when": "today"}))


@bp.route("/new", methods=["POST"])
def record() -> Any:
    form = request.form
    zone = current_app.extensions["school_zone"]
    now = utc_now()
    via = "slt" if g.user.role == Role.SLT else "office"
    session = db.session()
    try:
        with unit_of_work(session):
            person = _chosen_person(form.get("person_id", ""))
            if person is None:
                raise ValidationError("Choose who the request is for.")
            window = parse_window(form, now.astimezone(zone))
            exception = exception_requests.request_exception(
                session, person, form.get("category", ""), form.get("reason", ""), window,
                actor(), via, zone, now)
            name = person.name
    except RegisterError as error:
        with unit_of_work(session):  # the page lists matches, and that search is audited
            return _page(_chosen_person(form.get("person_id", "")), form, str(error), 422)
    with read_only(session):
        announce_new_request(exception, exclude_user_id=g.user.id)
    flash(f"Request for {name} sent to SLT: waiting for a decision.")
    if g.user.role in (Role.SLT, Role.ADMIN):
        return redirect(url_for("slt.now"))
    return redirect(url_for("requests.new"))
