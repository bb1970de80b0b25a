"""The office's register pages: people, phones, lockers."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from kiosk.auth import actor, roles_required
from kiosk.extensions import db
from register import audit, importer, lock_commands, people
from register.db import read_only, unit_of_work
from register.deposits import lockers_in_use, open_deposit
from register.errors import RegisterError
from register.models import Category, Locker, LockerBank, Person, Role
from register.people import (
    DeviceDetails,
    ImeiNeedsConfirmation,
    PersonDetails,
    PossibleDuplicate,
    RetiredImei,
)
from register.text import clean_text, whole_number

bp = Blueprint("office", __name__, url_prefix="/office")


@bp.before_request
@roles_required(Role.OFFICE)
def require_office() -> None:
    """Every page here is for the office (and admins)."""


def _person_details(form: Any) -> PersonDetails:
    return PersonDetails(
        name=form.get("name", ""), category=form.get("category", ""),
        badge_id=form.get("badge_id", ""), email=form.get("email", ""),
        fixed_locker_id=whole_number(form.get("fixed_locker_id", "")),
    )


def _device_details(form: Any) -> DeviceDetails:
    return DeviceDetails(imei=form.get("imei", ""), imei2=form.get("imei2", ""),
                         make=form.get("make", ""), model=form.get("model", ""))


def _person_form(person: Any, values: Any, error: RegisterError | None = None,
                 ) -> tuple[str, int]:
    """The person form, inside the caller's unit of work (it lists the lockers). A possible
    duplicate is a question: the form comes back with *Add anyway*."""
    return render_template(
        "office/person_form.html", person=person, values=values,
        error=str(error) if error else None,
        duplicate=error if isinstance(error, PossibleDuplicate) else None,
        categories=list(Category), lockers=people.all_lockers(db.session()),
    ), 422 if error else 200


MAX_SHOWN = 200  # people listed as you type; the full page lists everyone


def _search_form() -> tuple[str, str, bool]:
    """What is searched for, from a POST (never the URL: it may be an IMEI); the category and
    "include people who have left" may also come in the URL."""
    form = request.form if request.method == "POST" else request.args
    query = request.form.get("q", "").strip() if request.method == "POST" else ""
    return query, form.get("category", ""), form.get("left") == "1"


def _search(query: str, category: str, include_left: bool, how: str) -> list[Person]:
    """The search and its audit entry, in the caller's unit of work."""
    session = db.session()
    found = people.search_people(session, query, category, include_left)
    listed = f"{len(found)} {'person' if len(found) == 1 else 'people'} listed"
    audit.record(session, actor(), "register.search",
                 detail=listed + (f"; searched by text{how}" if query else ""))
    return found


@bp.route("/", endpoint="people", methods=["GET", "POST"])
def people_list() -> str:
    """Everyone, or a search. The search text comes only in a POST, never in the URL: it may
    be an IMEI, and a URL ends up in access logs and browser history."""
    query, category, include_left = _search_form()
    with unit_of_work(db.session()):
        found = _search(query, category, include_left, "")
        return render_template("office/people.html", people=found, q=query, category=category,
                               include_left=include_left, categories=list(Category))


@bp.route("/search.json", methods=["POST"])
def people_search() -> Any:
    """The search as you type (kiosk/static/search.js): the table's rows, rendered here as
    on the full page. A POST, for the same reason as the page's search."""
    query, category, include_left = _search_form()
    with unit_of_work(db.session()):
        found = _search(query, category, include_left, " as you type")
        rows = render_template("office/_people_rows.html", people=found[:MAX_SHOWN])
    return jsonify(count=len(found), html=rows, summary=_summary(len(found), bool(query)))


def _summary(count: int, searched: bool) -> str:
    listed = f"{count} {'person' if count == 1 else 'people'}"
    if count > MAX_SHOWN:  # as you type: a school of 2,000 is not sent at every key
        return (f"{listed}{' found' if searched else ''}: the first {MAX_SHOWN} are shown. Type "
                "more to narrow the list, or press Search to list them all.")
    return f"{listed} found for your search." if searched else f"{listed}."


@bp.route("/people/new", methods=["GET", "POST"])
def person_new() -> Any:
    if request.method == "GET":
        with read_only(db.session()):
            return _person_form(None, {"category": "staff"})
    try:
        with unit_of_work(db.session()) as session:
            person = people.add_person(session, _person_details(request.form), actor(),
                                       confirmed_different=_confirmed_different())
    except RegisterError as error:
        with read_only(db.session()):
            return _person_form(None, request.form, error)
    flash(f"{person.name} is on the register. Now add their phone.")
    return redirect(url_for("office.device_new", person_id=person.id))


def _confirmed_different() -> bool:
    """*Add anyway*: the office has read who has the same name and says this is someone else."""
    return request.form.get("different_person") == "1"


@bp.route("/people/<int:person_id>")
def person_view(person_id: int) -> str:
    with unit_of_work(db.session()) as session:
        person = _get(people.get_person, person_id)
        audit.record(session, actor(), "person.view", f"person:{person.id}")
        deposits = {d.id: open_deposit(session, d) for d in person.devices}
        return render_template("office/person.html", person=person, deposits=deposits)


@bp.route("/people/<int:person_id>/edit", methods=["GET", "POST"])
def person_edit(person_id: int) -> Any:
    if request.method == "GET":
        with unit_of_work(db.session()) as session:
            person = _get(people.get_person, person_id)
            audit.record(session, actor(), "person.edit_form", f"person:{person.id}")
            return _person_form(person, {
                "name": person.name, "category": person.category,
                "badge_id": person.badge_id or "", "email": person.email,
                "fixed_locker_id": person.fixed_locker_id or "",
            })
    try:
        with unit_of_work(db.session()) as session:
            person = _get(people.get_person, person_id)
            people.update_person(session, person, _person_details(request.form), actor(),
                                 confirmed_different=_confirmed_different())
    except RegisterError as error:
        with read_only(db.session()):
            return _person_form(_get(people.get_person, person_id), request.form, error)
    flash("Saved.")
    return redirect(url_for("office.person_view", person_id=person.id))


def _left_page(person: Person, error: str | None = None) -> tuple[str, int]:
    """Mark as left: what it does, and a reason (inside the caller's unit of work)."""
    in_lockers = [d for d in (open_deposit(db.session(), device)
                              for device in person.current_devices) if d is not None]
    return render_template("office/confirm_left.html", person=person, error=error,
                           in_lockers=in_lockers,
                           reason=request.form.get("reason", "")), 422 if error else 200


@bp.route("/people/<int:person_id>/left", methods=["GET", "POST"])
def person_left(person_id: int) -> Any:
    """Marking someone as left asks for a reason first; *Rejoin* on their page undoes it."""
    if request.method == "GET":
        with read_only(db.session()):
            return _left_page(_get(people.get_person, person_id))
    try:
        with unit_of_work(db.session()) as session:
            person = _get(people.get_person, person_id)
            reason = people.given_reason(request.form.get("reason", ""), "moved to another school")
            people.mark_left(session, person, actor(), reason)
    except RegisterError as error:
        with read_only(db.session()):
            return _left_page(_get(people.get_person, person_id), str(error))
    flash(f"{person.name} is marked as left: their badge and phones no longer work at the "
          "kiosk. To undo it, choose Rejoin below.")
    return redirect(url_for("office.person_view", person_id=person.id))


@bp.route("/people/<int:person_id>/rejoin", methods=["POST"])
def person_rejoin(person_id: int) -> Any:
    try:
        with unit_of_work(db.session()) as session:
            person = _get(people.get_person, person_id)
            people.rejoin(session, person, actor())
    except RegisterError as error:
        flash(f"Nothing was changed. {error}", "error")
        return redirect(url_for("office.person_view", person_id=person_id))
    flash(f"{person.name} is back on the register: their badge and phones work at the kiosk "
          "again. Their own locker was freed when they left and is not given back "
          "automatically: choose one under Edit details if they need it.")
    return redirect(url_for("office.person_view", person_id=person.id))


def _device_form(person: Any, device: Any, values: Any, error: RegisterError | None = None,
                 ) -> tuple[str, int]:
    values = dict(values)
    if isinstance(error, ImeiNeedsConfirmation):
        values[error.field] = error.completed  # shown filled in, for the person to confirm
    return render_template("office/device_form.html", person=person, device=device,
                           values=values, error=str(error) if error else None,
                           confirming=isinstance(error, ImeiNeedsConfirmation),
                           retired=error.device if isinstance(error, RetiredImei) else None,
                           error_field=getattr(error, "field", None)), 422 if error else 200


@bp.route("/people/<int:person_id>/devices/new", methods=["GET", "POST"])
def device_new(person_id: int) -> Any:
    if request.method == "GET":
        with read_only(db.session()):
            return _device_form(_get(people.get_person, person_id), None, {})
    try:
        with unit_of_work(db.session()) as session:
            person = _get(people.get_person, person_id)
            device = people.register_device(session, person, _device_details(request.form),
                                            actor())
    except RegisterError as error:
        with read_only(db.session()):
            return _device_form(_get(people.get_person, person_id), None, request.form, error)
    flash(f"{device.description} registered. Label code {device.label_code}.")
    return redirect(url_for("office.person_view", person_id=person.id))


@bp.route("/devices/<int:device_id>/edit", methods=["GET", "POST"])
def device_edit(device_id: int) -> Any:
    if request.method == "GET":  # the form shows the full IMEIs: who looked is recorded
        with unit_of_work(db.session()) as session:
            device = _get(people.get_device, device_id)
            audit.record(session, actor(), "device.edit_form", f"device:{device.id}",
                         f"person:{device.owner_id}")
            return _device_form(device.owner, device, {
                "imei": device.imei, "imei2": device.imei2 or "", "make": device.make,
                "model": device.model,
            })
    try:
        with unit_of_work(db.session()) as session:
            device = _get(people.get_device, device_id)
            people.update_device(session, device, _device_details(request.form), actor())
    except RegisterError as error:
        with read_only(db.session()):
            device = _get(people.get_device, device_id)
            return _device_form(device.owner, device, request.form, error)
    flash("Phone details saved.")
    return redirect(url_for("office.person_view", person_id=device.owner_id))


@bp.route("/devices/<int:device_id>/verify", methods=["POST"])
def device_verify(device_id: int) -> Any:
    with unit_of_work(db.session()) as session:
        device = _get(people.get_device, device_id)
        people.verify_device(session, device, actor())
    flash(f"{device.description}: IMEI checked against *#06# and marked verified.")
    return redirect(url_for("office.person_view", person_id=device.owner_id))


@bp.route("/devices/<int:device_id>/imei", methods=["POST"])
def device_imei(device_id: int) -> Any:
    """*Show* beside a masked IMEI: the whole IMEI(s), and who looked is recorded (never the
    IMEI itself). A POST with its CSRF token, so no link or prefetch can reveal one. JSON for
    kiosk/static/imei.js, which puts them in place; without JavaScript, a small page."""
    with unit_of_work(db.session()) as session:
        device = _get(people.get_device, device_id)
        audit.record(session, actor(), "device.imei_view", f"device:{device.id}",
                     f"person:{device.owner_id}")
        if request.accept_mimetypes.best_match(["text/html", "application/json"]) == \
                "application/json":
            return jsonify(imei=device.imei, imei2=device.imei2 or "")
        return render_template("office/device_imei.html", device=device)


@bp.app_template_filter("masked_imei")
def masked_imei(imei: str | None) -> str:
    """An IMEI on screen where the whole one is not needed: its last four digits."""
    return f"•••• {imei[-4:]}" if imei else ""


def _retire_page(device: Any, error: str | None = None) -> tuple[str, int]:
    return render_template("office/confirm_retire.html", device=device, error=error,
                           in_locker=open_deposit(db.session(), device),
                           reason=request.form.get("reason", "")), 422 if error else 200


@bp.route("/devices/<int:device_id>/retire", methods=["GET", "POST"])
def device_retire(device_id: int) -> Any:
    """Retiring a phone asks for a reason first; *Reinstate* on the owner's page undoes it."""
    if request.method == "GET":
        with read_only(db.session()):
            return _retire_page(_get(people.get_device, device_id))
    try:
        with unit_of_work(db.session()) as session:
            device = _get(people.get_device, device_id)
            in_locker = open_deposit(session, device) is not None
            if not in_locker:
                reason = people.given_reason(request.form.get("reason", ""), "replaced")
                people.retire_device(session, device, actor(), reason)
    except RegisterError as error:
        with read_only(db.session()):
            return _retire_page(_get(people.get_device, device_id), str(error))
    if in_locker:
        flash("This phone is in a locker: collect it at the kiosk before retiring it.", "error")
    else:
        flash(f"{device.description} retired. Its label no longer works at the kiosk. To undo "
              "it, choose Reinstate on the phone below.")
    return redirect(url_for("office.person_view", person_id=device.owner_id))


@bp.route("/devices/<int:device_id>/reinstate", methods=["POST"])
def device_reinstate(device_id: int) -> Any:
    """A retired phone back in use: for its owner, or (``person_id``, from adding its IMEI to
    someone else) moved to that person."""
    new_owner_id = whole_number(request.form.get("person_id", ""))
    try:
        with unit_of_work(db.session()) as session:
            device = _get(people.get_device, device_id)
            previous = device.owner.name
            owner = _get(people.get_person, new_owner_id) if new_owner_id else None
            moved = owner is not None and owner.id != device.owner_id
            people.reinstate_device(session, device, actor(), owner)
    except RegisterError as error:
        flash(f"Nothing was changed. {error}", "error")
        return redirect(url_for("office.person_view", person_id=new_owner_id or
                                _owner_of(device_id)))
    if moved:
        flash(f"{device.description} (label {device.label_code}) is now {device.owner.name}'s "
              f"phone, and no longer listed under {previous}. Check its IMEI against *#06# "
              "with them, then mark it verified.")
    else:
        flash(f"{device.description} is back in use: its label {device.label_code} works at "
              "the kiosk again.")
    return redirect(url_for("office.person_view", person_id=device.owner_id))


def _owner_of(device_id: int) -> int:
    with read_only(db.session()):
        owner_id: int = _get(people.get_device, device_id).owner_id
        return owner_id


@bp.route("/lockers")
def lockers() -> str:
    with read_only(db.session()) as session:
        banks = list(session.scalars(select(LockerBank).order_by(LockerBank.name)))
        in_use = {bank.id: lockers_in_use(session, bank.id) for bank in banks}
        # Someone's own locker is theirs even while empty: never offered as "free".
        own = {p.fixed_locker_id: p for p in session.scalars(
            select(Person).where(Person.fixed_locker_id.is_not(None), Person.active))}
        return render_template("office/lockers.html", banks=banks, in_use=in_use, own=own)


@bp.route("/lockers/banks", methods=["POST"])
def bank_add() -> Any:
    count = whole_number(request.form.get("count", ""))
    try:
        with unit_of_work(db.session()) as session:
            bank = people.add_bank(session, request.form.get("name", ""), count or 0, actor(),
                                   request.form.get("location", ""))
    except RegisterError as error:
        flash(str(error), "error")
    else:
        flash(f"Added {bank.name} with {len(bank.lockers)} lockers.")
    return redirect(url_for("office.lockers"))


@bp.route("/lockers/<int:locker_id>/service", methods=["POST"])
def locker_service(locker_id: int) -> Any:
    out = request.form.get("out_of_service") == "1"
    with unit_of_work(db.session()) as session:
        locker = session.get(Locker, locker_id) or abort(404)
        people.set_out_of_service(session, locker, out, actor())
    flash(f"Locker {locker.number} at {locker.bank.name} is "
          f"{'out of service' if out else 'back in service'}.")
    return redirect(url_for("office.lockers"))


@bp.route("/lockers/emergency-open", methods=["POST"])
@roles_required(Role.ADMIN)
def emergency_open() -> Any:
    """Admins only: open every locker of the chosen banks, with a reason for the audit trail."""
    bank_ids = [n for n in map(whole_number, request.form.getlist("bank")) if n is not None]
    try:
        reason = clean_text(request.form.get("reason", ""), "The reason")
        with unit_of_work(db.session()) as session:
            openings = lock_commands.emergency_open(session, bank_ids, reason, actor())
    except RegisterError as error:
        flash(f"Nothing was opened. {error}", "error")
        return redirect(url_for("office.lockers"))
    for opening in openings:
        if opening.kiosks:
            flash(f"Opening all {opening.lockers} lockers at {opening.bank} now.")
        else:
            flash(f"{opening.bank} has no kiosk to open its lockers: open them by hand.", "error")
    return redirect(url_for("office.lockers"))


def _get(getter: Any, ident: int) -> Any:
    try:
        return getter(db.session(), ident)
    except RegisterError:
        abort(404)


# --- CSV import ----------------------------------------------------------------------------

def _import_page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    return render_template("office/import.html", error=error, categories=list(Category),
                           max_rows=importer.MAX_ROWS), status


def _preview_page(preview: importer.ImportPreview, csv_text: str, refused: str | None = None,
                  ) -> tuple[str, int]:
    return render_template("office/import_preview.html", preview=preview, csv_text=csv_text,
                           refused=refused), 422 if refused else 200


@bp.route("/import")
def import_form() -> tuple[str, int]:
    return _import_page()


@bp.route("/import/template.csv")
def import_template() -> Response:
    return Response(importer.template_csv(), mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="phone-register-import.csv"'})


@bp.route("/import", methods=["POST"])
def import_upload() -> tuple[str, int]:
    """Show what the file would do. Writes nothing but the audit entry for a page of full
    IMEIs: the office confirms on the next page."""
    try:
        csv_text = _uploaded_csv()
        with unit_of_work(db.session()) as session:
            preview = importer.preview_import(session, csv_text)
            audit.record(session, actor(), "register.import_preview",
                         detail=f"{len(preview.rows)} row{'' if len(preview.rows) == 1 else 's'}"
                         " shown")
            return _preview_page(preview, csv_text)
    except RegisterError as error:
        return _import_page(str(error), 422)


def _uploaded_csv() -> str:
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        return importer.decode_csv(upload.read())
    pasted = request.form.get("text", "")
    if not pasted.strip():
        raise importer.ImportRefused("Choose a CSV file to upload, or paste the rows into the box.")
    return pasted


@bp.route("/import/confirm", methods=["POST"])
def import_confirm() -> Any:
    csv_text = request.form.get("csv_text", "")
    try:
        with unit_of_work(db.session()) as session:
            result = importer.apply_import(session, csv_text, actor())
    except importer.ImportRefused as refused:
        if refused.preview is None:
            return _import_page(str(refused), 422)
        with read_only(db.session()):
            return _preview_page(refused.preview, csv_text, str(refused))
    flash(result.message)
    return redirect(url_for("office.people"))


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_error: RequestEntityTooLarge) -> tuple[str, int]:
    # Only the import sends this much; say what to do rather than show a bare 413.
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    size = f" (the limit is {limit / 1_048_576:g} MB)" if limit else ""
    return _import_page(f"That is too much to send in one go{size}. Split the file into "
                        "smaller files and import them one after another.", 413)
