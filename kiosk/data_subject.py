"""A person's rights over their data, for admins: subject access and erasure (issue 11).

Pages (admins only), reached from the "Data protection" box on the office person page:
``/admin/people/<id>/subject-access`` (counts, and the JSON and PDF downloads) and
``/admin/people/<id>/erase`` (what goes and what stays, a reason, a typed confirmation).
Commands: ``subject-access PERSON_ID DIR`` and ``erase-person PERSON_ID --reason TEXT``.

Every export is audited ("person.subject_access": the format and counts, never a name or an
IMEI); so is every erasure ("person.erase", register/erasure.py).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, tzinfo
from pathlib import Path

import click
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    render_template,
    request,
)
from flask.cli import with_appcontext
from sqlalchemy import orm

from kiosk import pdf
from kiosk.auth import actor, roles_required
from kiosk.extensions import db
from register import audit, erasure, forget, people, retention
from register.db import read_only, unit_of_work
from register.errors import NotFound, RegisterError
from register.models import Person, utc_now
from register.subject_access import SubjectAccess, counted, subject_access

bp = Blueprint("data_subject", __name__, url_prefix="/admin/people")
CONFIRM_WORD = "ERASE"


def init_app(app: Flask) -> None:
    """Register this module's pages and its `flask --app kiosk` commands."""
    app.register_blueprint(bp)
    for command in (subject_access_command, erase_person_command):
        app.cli.add_command(command)


@bp.before_request
@roles_required()  # admins only
def require_admin() -> None:
    """Everything held about a person, and erasing it: admins (and the DPO through them)."""


@bp.after_request
def not_cached(response: Response) -> Response:
    # Everything about a person, IMEIs included: no copy in a shared browser's cache.
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the export, as files ------------------------------------------------------------------

def file_stem(person_id: int, now: datetime, zone: tzinfo) -> str:
    """``subject-access-person-12-2026-12-05``: no name in a file name (listings, backups)."""
    return f"subject-access-person-{person_id}-{now.astimezone(zone):%Y-%m-%d}"


def export_json(export: SubjectAccess) -> bytes:
    return json.dumps(export.as_json(), ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


def export_pdf(export: SubjectAccess, school: str, zone: tzinfo) -> bytes:
    made = export.made_at.astimezone(zone).strftime("%a %d %b %Y, %H:%M")
    stamp = pdf.Stamp(school=school, title="Subject access export",
                      subtitle=f"Subject access export for {export.person.name}, made {made} "
                               f"by {export.made_by}",
                      printed_by=export.made_by, printed_at=export.made_at, zone=zone)
    return pdf.subject_access_pdf(export, stamp)


def _record_export(session: orm.Session, who: str, export: SubjectAccess, what: str) -> None:
    audit.record(session, who, "person.subject_access", f"person:{export.person.id}",
                 f"{what}; {export.describe_counts() or 'only their details'}")


def _read_export(person_id: int, who: str) -> SubjectAccess:
    """The export, read in one snapshot; a 404 page for an unknown person."""
    with read_only(db.session()) as session:
        return subject_access(session, _person(session, person_id), who, utc_now())


def _person(session: orm.Session, person_id: int) -> Person:
    try:
        return people.get_person(session, person_id)
    except NotFound:
        abort(404)


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# --- subject access, for admins ------------------------------------------------------------

@bp.route("/<int:person_id>/subject-access")
def summary(person_id: int) -> str:
    """What the export holds, by kind, with its two downloads."""
    export = _read_export(person_id, actor())
    with unit_of_work(db.session()) as session:
        audit.record(session, actor(), "person.view", f"person:{person_id}",
                     "subject access summary")
    return render_template("admin/subject_access.html", export=export, counts=export.counts())


@bp.route("/<int:person_id>/subject-access.json")
def download_json(person_id: int) -> Response:
    export = _read_export(person_id, actor())
    body = export_json(export)
    with unit_of_work(db.session()) as session:
        _record_export(session, actor(), export, "JSON download")
    zone = current_app.extensions["school_zone"]
    return _download(body, "application/json", f"{file_stem(person_id, export.made_at, zone)}"
                                               ".json")


@bp.route("/<int:person_id>/subject-access.pdf")
def download_pdf(person_id: int) -> Response:
    export = _read_export(person_id, actor())
    zone = current_app.extensions["school_zone"]
    body = export_pdf(export, current_app.config["SCHOOL_NAME"], zone)
    with unit_of_work(db.session()) as session:
        _record_export(session, actor(), export, "PDF download")
    return _download(body, "application/pdf", f"{file_stem(person_id, export.made_at, zone)}.pdf")


# --- erasure, for admins -------------------------------------------------------------------

def _erase_page(person: Person, error: str = "") -> tuple[str, int]:
    """The confirmation: what goes, what stays and why (inside the caller's unit of work)."""
    session = db.session()
    found = forget.footprint(session, person)
    kept = retention.retention(session)
    return render_template(
        "admin/erase.html", person=person, goes=erasure.counted_kinds(found.counts()),
        audit_entries=len(found.audit_ids), usernames=found.usernames,
        audit_kept_for=kept.describe("audit"),
        blockers=erasure.blockers(session, person, g.user.id),
        error=error, reason=request.form.get("reason", ""),
        confirm=request.form.get("confirm", ""), confirm_word=CONFIRM_WORD,
    ), 422 if error else 200


@bp.route("/<int:person_id>/erase", methods=["GET"])
def erase_form(person_id: int) -> tuple[str, int]:
    with read_only(db.session()) as session:
        return _erase_page(_person(session, person_id))


def _confirmed(person: Person, typed: str) -> bool:
    """Their name as on the register (any case or spacing), or the word ERASE."""
    typed = " ".join(typed.split()).casefold()
    return typed in (" ".join(person.name.split()).casefold(), CONFIRM_WORD.casefold())


@bp.route("/<int:person_id>/erase", methods=["POST"])
def erase(person_id: int) -> tuple[str, int]:
    with read_only(db.session()) as session:
        person = _person(session, person_id)
        if not _confirmed(person, request.form.get("confirm", "")):
            return _erase_page(person, f"To confirm, type their name exactly as above, or "
                                       f"the word {CONFIRM_WORD}.")
    try:
        with unit_of_work(db.session()) as session:
            person = _person(session, person_id)
            erased = erasure.erase_person(session, person, request.form.get("reason", ""),
                                          actor(), utc_now(), acting_user_id=g.user.id)
    except RegisterError as error:
        with read_only(db.session()) as session:
            return _erase_page(_person(session, person_id), str(error))
    cleared = erasure.clear_deleted_pages(db.engine)
    return render_template("admin/erased.html", erased=erased,
                           not_cleared="" if cleared else erasure.NOT_CLEARED), 200


# --- the same, on the command line -------------------------------------------------------

def _person_or_fail(session: orm.Session, person_id: int) -> Person:
    try:
        return people.get_person(session, person_id)
    except NotFound:
        raise click.ClickException(f"There is no person #{person_id} on the register "
                                   "(already erased, or a mistyped number?).") from None


def write_private(path: Path, body: bytes) -> None:
    """A file only its owner can read (personal data), replacing any older one."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(body)


@click.command("subject-access")
@with_appcontext
@click.argument("person_id", type=click.IntRange(1))
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def subject_access_command(person_id: int, directory: Path) -> None:
    """Write everything held about a person to DIRECTORY as JSON and PDF (owner-only files)."""
    zone: tzinfo = current_app.extensions["school_zone"]
    with read_only(db.session()) as session:
        export = subject_access(session, _person_or_fail(session, person_id), "cli",
                                utc_now())
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    stem = directory / file_stem(person_id, export.made_at, zone)
    json_path, pdf_path = stem.with_suffix(".json"), stem.with_suffix(".pdf")
    write_private(json_path, export_json(export))
    write_private(pdf_path, export_pdf(export, current_app.config["SCHOOL_NAME"], zone))
    with unit_of_work(db.session()) as session:
        _record_export(session, "cli", export, "JSON and PDF files")
    click.echo(f"Subject access export for person #{person_id} "
               f"({export.describe_counts() or 'only their details'}):")
    click.echo(str(json_path))
    click.echo(str(pdf_path))


def _what_goes(found: forget.Footprint) -> str:
    lines = ["  their entry on the register (name, category, badge, email, own locker)"]
    lines += [f"  {line}" for line in erasure.counted_kinds(found.counts())]
    lines.append(f"Kept: {counted(len(found.audit_ids), 'audit entries about them')}, by record "
                 "number; any reason or note in them is blanked.")
    if found.usernames:
        lines.append(f"Their user account ({', '.join(found.usernames)}) is disabled and "
                     "keeps its username.")
    return "\n".join(lines)


@click.command("erase-person")
@with_appcontext
@click.argument("person_id", type=click.IntRange(1))
@click.option("--reason", required=True,
              help="Why (kept in the audit trail: not their name, no IMEI or badge).")
@click.option("--yes", is_flag=True, help="Do not ask to confirm.")
def erase_person_command(person_id: int, reason: str, yes: bool) -> None:
    """Erase a person: their record, phones, deposits, duty periods and requests."""
    try:
        with read_only(db.session()) as session:
            person = _person_or_fail(session, person_id)
            erasure.check_reason(person, reason)
            found = forget.footprint(session, person)
            who = f"person #{person.id}, {person.name} ({person.category_label})"
    except RegisterError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Erasing {who} removes:\n{_what_goes(found)}")
    if not yes and not click.confirm("Erase them? This cannot be undone", default=False):
        click.echo("Nothing was erased.")
        raise SystemExit(1)
    try:
        with unit_of_work(db.session()) as session:
            erased = erasure.erase_person(session, _person_or_fail(session, person_id), reason,
                                          "cli", utc_now())
    except RegisterError as error:
        raise click.ClickException(f"Nothing was erased. {error}") from None
    cleared = erasure.clear_deleted_pages(db.engine)
    click.echo(f"Person #{erased.person_id} is erased: removed {erased.describe()}; "
               f"{erased.audit_entries_blanked} audit entries blanked.")
    if erased.accounts_disabled:
        click.echo(f"Account disabled (username kept): {', '.join(erased.accounts_disabled)}.")
    if not cleared:
        click.echo(erasure.NOT_CLEARED)

