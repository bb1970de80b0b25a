"""Printing for the office: the IMEI register (page, PDF, CSV), phone labels, each person's
IMEI record slip and the lost or stolen phone report. Every one is written to the audit trail
with how many records it held, never an IMEI.

Each view reads in a read-only unit of work, makes its page or file, then records the audit
entry in a short unit of work of its own: a PDF that takes seconds to draw never holds the
write lock the kiosks' scans queue for.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_template,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from markupsafe import Markup
from sqlalchemy import select

from kiosk import pdf, qr
from kiosk.auth import actor, roles_required
from kiosk.extensions import db, read_only_view
from register import audit, exports, labels, printing
from register.db import read_only, unit_of_work
from register.errors import RegisterError
from register.models import Category, Device, Person, Role, utc_now

bp = Blueprint("printing", __name__, url_prefix="/print")

REGISTER_TITLE = "Phone IMEI register"
QR_FILE = "qr-codes.sqlite3"  # in the instance folder
CSV_HEADER = ("name", "category", "status", "badge_id", "email", "make", "model", "imei",
              "imei2", "label_code", "registered", "registered_by", "verified", "verified_by")


@bp.record_once
def keep_qr_codes(state: BlueprintSetupState) -> None:
    """Each label code's QR symbol is made once, then read from this file by every worker."""
    state.app.extensions["qr_codes"] = qr.QrStore(
        Path(state.app.instance_path) / QR_FILE)


def _prepare_qr(codes: list[str]) -> None:
    qr.prepare(codes, current_app.extensions.get("qr_codes"))


@bp.before_request
@roles_required(Role.OFFICE)
def require_office() -> None:
    """Personal data on paper: the office and admins only."""


@bp.after_request
def not_cached(response: Response) -> Response:
    # IMEIs and names: no copy left in a shared browser's cache or a proxy.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_template_filter("css_string")
def css_string(text: str) -> str:
    """``text`` as a quoted CSS string, for @page margin boxes: no way out of the quotes."""
    escaped = "".join(ch if ch.isalnum() or ch in " .,:;()-/'" else f"\\{ord(ch):x} "
                      for ch in text)
    return Markup(f'"{escaped}"')  # nothing HTML-special is left unescaped


@bp.app_template_filter("qr_svg")
def qr_svg(code: str, size: str = "100%") -> Markup:
    return qr.svg(code, size)


def _record(action: str, count: int, detail: str = "", subject: str = "") -> None:
    """Who printed or exported what, and how many records: never the IMEIs themselves. Its own
    unit of work, after the view's reading has ended."""
    noun = "record" if count == 1 else "records"
    with unit_of_work(db.session()) as session:
        audit.record(session, actor(), action, subject,
                     f"{count} {noun}" + (f"; {detail}" if detail else ""))


def _stamp(title: str, subtitle: str, now: datetime) -> pdf.Stamp:
    return pdf.Stamp(school=current_app.config["SCHOOL_NAME"], title=title, subtitle=subtitle,
                     printed_by=g.user.username, printed_at=now,
                     zone=current_app.extensions["school_zone"])


def _download(body: bytes | str, mimetype: str, filename: str) -> Response:
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/")
@read_only_view
def index() -> str:
    return render_template(
        "print/index.html", categories=list(Category), stocks=labels.STOCKS.values(),
        statuses=printing.STATUSES, verified=printing.VERIFIED, which=labels.WHICH,
        people=_people_with_phones())


def _people_with_phones() -> list[Person]:
    has_phone = select(Device.owner_id).where(Device.retired_at.is_(None))
    found = db.session().scalars(select(Person).where(Person.active, Person.id.in_(has_phone)))
    return sorted(found, key=lambda p: printing.name_key(p.name))


# --- the register --------------------------------------------------------------------------

def _register() -> tuple[printing.RegisterFilter, list[printing.RegisterRow]]:
    wanted = printing.RegisterFilter.from_args(request.args)
    return wanted, printing.register_rows(db.session(), wanted)


@bp.route("/register")
def register_page() -> Response:
    with read_only(db.session()):
        wanted, rows = _register()
    now = utc_now()
    _prepare_qr([row.label_code for row in rows])
    _record("print.register", len(rows), wanted.describe())
    # Sent as it is rendered: a big school's register is megabytes of HTML, which a worker
    # need not hold whole (as a string, then again as bytes) to send.
    return Response(_in_chunks(stream_template(
        "print/register.html", groups=printing.group_by_category(rows), total=len(rows),
        wanted=wanted, stamp=_stamp(REGISTER_TITLE, wanted.describe(), now),
        categories=list(Category), statuses=printing.STATUSES, verified=printing.VERIFIED,
        columns=pdf.COLUMNS, marking=pdf.MARKING)), mimetype="text/html")


def _in_chunks(pieces: Iterator[str], size: int = 64 * 1024) -> Iterator[bytes]:
    """A template's many small pieces as fewer writes of about ``size`` characters."""
    buffer: list[str] = []
    length = 0
    for piece in pieces:
        buffer.append(piece)
        length += len(piece)
        if length >= size:
            yield "".join(buffer).encode()
            buffer, length = [], 0
    if buffer:
        yield "".join(buffer).encode()


@bp.route("/register.pdf")
def register_pdf() -> Response:
    with read_only(db.session()):
        wanted, rows = _register()
    now = utc_now()
    _prepare_qr([row.label_code for row in rows])
    body = pdf.register_pdf(printing.group_by_category(rows),
                            _stamp(REGISTER_TITLE, wanted.describe(), now))
    _record("print.register_pdf", len(rows), wanted.describe())
    return _download(body, "application/pdf", f"imei-register-{now:%Y-%m-%d}.pdf")


@bp.route("/register.csv")
def register_csv() -> Response:
    zone = current_app.extensions["school_zone"]

    def when(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else ""

    with read_only(db.session()) as session:
        wanted, rows = _register()
        people = {p.id: p for p in session.scalars(
            select(Person).where(Person.id.in_({r.person_id for r in rows})))}
        devices = {d.id: d for d in session.scalars(
            select(Device).where(Device.id.in_({r.device_id for r in rows if r.device_id})))}
    lines = []
    for row in rows:
        person = people[row.person_id]
        device = devices.get(row.device_id or 0)
        lines.append([
            row.name, row.category_label, "active" if row.active else "left",
            person.badge_id or "", person.email, row.make, row.model,
            row.imeis[0] if row.imeis else "", row.imeis[1] if len(row.imeis) > 1 else "",
            row.label_code, when(row.registered_at), device.registered_by if device else "",
            when(row.verified_at), row.verified_by or "",
        ])
    body = exports.csv_text(CSV_HEADER, lines)
    _record("export.register_csv", len(rows), wanted.describe())
    # Flask adds "; charset=utf-8" to a text/* mimetype itself: naming it here said it twice.
    return _download(body.encode("utf-8"), "text/csv",
                     f"imei-register-{utc_now():%Y-%m-%d}.csv")


# --- labels --------------------------------------------------------------------------------

def _labels() -> tuple[labels.LabelRequest, list[labels.Label]]:
    wanted = labels.LabelRequest.from_args(request.args)
    return wanted, labels.labels_for(db.session(), wanted, current_app.extensions["school_zone"])


@bp.route("/labels")
def labels_page() -> Any:
    with read_only(db.session()):
        wanted, found = _labels()
    _prepare_qr([label.code for label in found])
    placed = labels.lay_out(found, wanted.stock, wanted.start)
    sheets = [[p for p in placed if p.sheet == n]
              for n in range(max((p.sheet for p in placed), default=-1) + 1)]
    _record("print.labels", len(found), f"{wanted.describe()}; {wanted.stock.key}")
    return render_template("print/labels.html", wanted=wanted, sheets=sheets, count=len(found),
                           style=pdf.label_style(wanted.stock))


@bp.route("/labels.pdf")
def labels_pdf() -> Any:
    with read_only(db.session()):
        wanted, found = _labels()
    if not found:
        flash("No phones match that choice, so there are no labels to print.", "error")
        return redirect(url_for("printing.index"))
    _prepare_qr([label.code for label in found])
    body = pdf.labels_pdf(labels.lay_out(found, wanted.stock, wanted.start), wanted.stock,
                          f"Phone labels: {wanted.describe()}")
    _record("print.labels_pdf", len(found), f"{wanted.describe()}; {wanted.stock.key}")
    return _download(body, "application/pdf",
                     f"phone-labels-{wanted.stock.key}-{utc_now():%Y-%m-%d}.pdf")


@bp.route("/labels/alignment.pdf")
def alignment_pdf() -> Response:
    stock = labels.STOCKS.get(request.args.get("stock", ""), labels.STOCKS[labels.DEFAULT_STOCK])
    _record("print.label_alignment", 0, stock.key)
    return _download(pdf.alignment_pdf(stock), "application/pdf",
                     f"label-alignment-{stock.key}.pdf")


# --- one person ----------------------------------------------------------------------------

@bp.route("/people/<int:person_id>/imei-slip")
def imei_slip(person_id: int) -> str:
    with read_only(db.session()) as session:
        person = session.get(Person, person_id) or abort(404)
        devices = person.current_devices
        page = render_template("print/slip.html", person=person, devices=devices,
                               stamp=_stamp("IMEI record", "", utc_now()), marking=pdf.MARKING)
    _record("print.imei_slip", len(devices), subject=f"person:{person_id}")
    return page


@bp.route("/devices/<int:device_id>/lost-report")
def lost_report(device_id: int) -> str:
    try:
        with read_only(db.session()) as session:
            report = printing.lost_phone_report(session, device_id)
            page = render_template("print/lost.html", report=report,
                                   stamp=_stamp("Lost or stolen phone", "", utc_now()),
                                   marking=pdf.MARKING)
    except RegisterError:
        abort(404)
    _record("print.lost_report", 1, subject=f"device:{device_id}")
    return page
