"""The phone policy, acknowledged: the admin publishes each year's version (/admin/policy), the
office prints it (/print/policy) and sees who has not acknowledged it, recording paper
acknowledgements on their behalf (/office/acknowledgements). The kiosk's **I have read it** is
kiosk_views.acknowledge_policy; the policy report's coverage is kiosk/slt_report.py's."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.orm import Session

from kiosk.auth import actor, roles_required
from kiosk.extensions import db, read_only_view
from register import audit, policy
from register.db import read_only, unit_of_work
from register.errors import RegisterError, ValidationError
from register.models import Category, Person, PolicyVersion, Role
from register.text import whole_number

bp = Blueprint("policy", __name__)

FIELDS = ("title", "version", "adopted_on", "summary", "text")


@bp.after_request
def not_cached(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"  # names: no copy in a shared browser
    return response


# --- the admin: the annual review ------------------------------------------------------------

@bp.route("/admin/policy", methods=["GET"])
@roles_required()  # admins only
@read_only_view
def admin_page() -> str:
    return _admin_page()


def _admin_page(error: str = "", typed: dict[str, str] | None = None) -> str:
    """The current version, the earlier ones, and the form for the next, inside the caller's
    unit of work. The form starts from the current version's words: a review changes some."""
    found = policy.versions(db.session())
    current = found[0] if found else None
    if typed is None:
        typed = dict.fromkeys(FIELDS, "")
        if current is not None:
            typed.update(title=current.title, summary=current.summary, text=current.text)
    return render_template("admin/policy.html", current=current, earlier=found[1:],
                           typed=typed, error=error, summary_limit=policy.SUMMARY_LIMIT)


@bp.route("/admin/policy", methods=["POST"])
@roles_required()
def publish() -> Any:
    typed = {name: request.form.get(name, "") for name in FIELDS}
    try:
        with unit_of_work(db.session()) as session:
            published = policy.publish_version(
                session, typed["title"], typed["version"], typed["adopted_on"],
                typed["summary"], typed["text"], actor())
            version = published.version
    except ValidationError as error:
        with read_only(db.session()):
            return _admin_page(str(error), typed), 422
    flash(f"Published version {version}. From now on the kiosk shows its summary to everyone "
          "who has not acknowledged it, at their next scan; the office sees who has not.")
    return redirect(url_for("policy.admin_page"))


# --- the whole text, on paper ----------------------------------------------------------------

@bp.route("/print/policy")
@roles_required(Role.OFFICE, Role.SLT)
@read_only_view
def print_policy() -> Any:
    """The current version's whole text (or ``?version=ID``, an earlier one), for the office
    to print for anyone who reads it on paper."""
    session = db.session()
    asked = request.args.get("version")
    if asked is None:
        shown = policy.current_version(session)
    else:
        version_id = whole_number(asked)
        try:
            shown = policy.version_by_id(session, version_id if version_id is not None else 0)
        except RegisterError:
            abort(404)
    return render_template("print/policy.html", version=shown,
                           current=policy.current_version(session))


# --- the office: who has not, and paper acknowledgements -------------------------------------

@bp.route("/office/acknowledgements")
@roles_required(Role.OFFICE)
def acknowledgements() -> Any:
    category = request.args.get("category", "")
    with unit_of_work(db.session()) as session:
        try:
            waiting = policy.not_acknowledged(session, category or None)
        except ValidationError as error:
            return _acknowledgements_page([], "", str(error)), 400
        audit.record(session, actor(), "policy.not_acknowledged",
                     detail=f"{len(waiting)} {'person' if len(waiting) == 1 else 'people'} "
                     f"listed" + (f"; category {category}" if category else ""))
        return _acknowledgements_page(waiting, category)


def _acknowledgements_page(waiting: list[Person], category: str, error: str = "") -> str:
    return render_template("office/acknowledgements.html",
                           coverage=policy.coverage(db.session()), waiting=waiting,
                           category=category, categories=list(Category), error=error)


@bp.route("/office/acknowledgements/<int:person_id>", methods=["POST"])
@roles_required(Role.OFFICE)
def record_paper(person_id: int) -> Any:
    """The person signed the policy on paper: recorded by the office user on their behalf,
    for the version the page showed (if a newer one was published meanwhile, it says so)."""
    category = request.form.get("category", "")
    back = redirect(url_for("policy.acknowledgements", category=category or None), 303)
    version_id = whole_number(request.form.get("version_id", ""))
    try:
        with unit_of_work(db.session()) as session:
            person = session.get(Person, person_id)
            if person is None:
                abort(404)
            version = _paper_version(session, version_id)
            if not person.active:
                raise ValidationError(f"{person.name} is marked as having left: nothing was "
                                      "recorded.")
            done = policy.acknowledge(session, person, version, policy.OFFICE, actor())
            name = person.name
    except RegisterError as error:
        flash(str(error), "error")
        return back
    if done.new:
        flash(f"Recorded: {name} has read version {done.version} of the policy, on paper.")
    else:
        flash(f"{name} had already acknowledged version {done.version}: nothing changed.")
    return back


def _paper_version(session: Session, version_id: int | None) -> PolicyVersion:
    current = policy.current_version(session)
    if current is None or version_id != current.id:
        raise ValidationError("A new version of the policy was published since this page was "
                              "shown: nothing was recorded. Check the person signed the new "
                              "version, then record it again.")
    return current
