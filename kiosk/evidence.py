"""SLT: the evidence pack (register/evidence.py), as an A4 print page and as a PDF.

The period is chosen as on the policy report (slt_report.choose): this term by default.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from flask import Blueprint, Response, current_app, g, render_template, request
from reportlab.lib.units import mm

from kiosk import pdf
from kiosk.auth import actor, roles_required
from kiosk.extensions import db, in_unit_of_work
from kiosk.slt_report import PERIODS, BadRange, choose, percent
from register import evidence
from register.models import Role, utc_now
from register.policy_report import OUTCOMES
from register.printing import MARKING

bp = Blueprint("evidence", __name__, url_prefix="/reports")
TITLE = "Phone policy evidence pack"


@bp.before_request
@roles_required(Role.SLT)
def require_slt() -> None:
    """The policy's evidence: SLT (and admins) only."""


@bp.after_request
def not_cached(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _zone() -> tzinfo:
    zone: tzinfo = current_app.extensions["school_zone"]
    return zone


@bp.route("/evidence")
@in_unit_of_work
def evidence_page() -> Any:
    now = utc_now()
    zone = _zone()
    page = {"periods": PERIODS, "args": request.args, "marking": MARKING,
            "printed_by": g.user.display_name, "printed_at": now, "percent": percent,
            "outcomes": OUTCOMES, "report_title": TITLE,
            "pdf_args": {k: v for k, v in request.args.items() if k != "print"}}
    try:
        choice = choose(request.args, now.astimezone(zone).date())
    except BadRange as error:
        return render_template("reports/evidence.html", error=str(error), pack=None,
                               choice=None, **page), 400
    pack = evidence.build(db.session(), choice.starts_on, choice.ends_on, zone, now)
    printing = request.args.get("print") == "1"
    evidence.record_access(db.session(), pack, actor(), printed=printing, at=now)
    return render_template("reports/evidence.html", error=None, pack=pack, choice=choice,
                           printing=printing, **page)


@bp.route("/evidence.pdf")
@in_unit_of_work
def evidence_pdf() -> Any:
    now = utc_now()
    zone = _zone()
    try:
        choice = choose(request.args, now.astimezone(zone).date())
    except BadRange as error:
        return Response(str(error), 400, mimetype="text/plain")
    pack = evidence.build(db.session(), choice.starts_on, choice.ends_on, zone, now)
    evidence.record_access(db.session(), pack, actor(), printed=True, at=now)
    stamp = pdf.Stamp(school=current_app.config["SCHOOL_NAME"], title=TITLE,
                      subtitle=f"{choice.label}: {pack.starts_on:%d %b %Y} to "
                               f"{pack.ends_on:%d %b %Y}. "
                               f"Printed {now.astimezone(zone):%d %b %Y %H:%M} by "
                               f"{g.user.display_name}",
                      printed_by=g.user.display_name, printed_at=now, zone=zone)
    body = pack_pdf(pack, stamp, zone)
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="evidence-pack-{pack.span.replace(" ", "-")}'
                               '.pdf"'})


def pack_pdf(pack: evidence.EvidencePack, stamp: pdf.Stamp, zone: tzinfo) -> bytes:
    """The pack's sections as tables, through kiosk/pdf.py's document flow."""
    flow = pdf._Flow()  # the document flow the subject access PDF uses
    sans = flow.f.sans
    version = pack.policy_version
    flow.heading("The policy")
    flow.facts([("Current version", f"{version.title}, version {version.version} (adopted "
                 f"{version.adopted_on:%d %b %Y})" if version else "None published yet", sans)])
    _table(flow, "Acknowledged the current version, by category (as it stands now)",
               ["Category", "People", "Acknowledged", "Not yet", "Share"], [60, 30, 32, 30, 34],
               [[(row.label, sans), (str(row.people), sans), (str(row.acknowledged), sans),
                 (str(row.not_yet), sans), (percent(row.rate), sans)]
                for row in [*pack.coverage.rows, pack.coverage.total]], total=True)
    overall = pack.overall
    _table(flow, "Compliance by week", ["Week", "Staff-days on duty", "Met the policy", "Rate"],
               [70, 40, 40, 36],
               [[(f"{w.starts_on:%a %d %b} to {w.ends_on:%a %d %b %Y}"
                  + (" (kept as totals)" if w.kept_as_totals else ""), sans),
                 (str(w.on_duty), sans), (str(w.compliant), sans), (percent(w.rate), sans)]
                for w in pack.weeks]
               + [[("The whole period", sans), (str(overall.on_duty), sans),
                   (str(overall.compliant), sans), (percent(overall.rate), sans)]], total=True)
    _table(flow, "Exceptions by category and outcome", ["Category", *(o.capitalize()
           for o in OUTCOMES)], [39, 23, 20, 20, 20, 22, 20, 22],
               [[(row.label, sans), *((str(getattr(row.outcomes, o)), sans) for o in OUTCOMES)]
                for row in pack.exceptions]
               + [[("All", sans), *((str(getattr(pack.exception_totals, o)), sans)
                                   for o in OUTCOMES)]], total=True)
    _table(flow, "Incidents by kind and outcome", ["Kind", "Open", "Closed", "All"],
               [96, 30, 30, 30],
               [[(row.label, sans), (str(row.open), sans), (str(row.closed), sans),
                 (str(row.total), sans)] for row in [*pack.incidents, pack.incidents_total]],
           total=True)
    flow.table("Hardware faults: locker openings that failed, by kiosk", ["Kiosk", "Failed"],
               [120, 66], [[(row.kiosk, sans), (str(row.failed), sans)] for row in pack.faults],
               empty="None held.")
    flow.text(evidence.FAULTS_KEPT_NOTE + _held_since(pack, zone))
    return pdf.document_pdf(flow.blocks, stamp, "Counts from everyday records, no names: for "
                            "the annual review of the phone policy and for inspectors.")


def _table(flow: pdf._Flow, heading: str, titles: list[str], widths_mm: list[float],
           rows: list[list[tuple[str, str]]], total: bool = False) -> None:
    """A table whose last row (``total``) adds up the others: not counted in its heading."""
    if not total:
        flow.table(heading, titles, widths_mm, rows)
        return
    flow.table(heading, titles, widths_mm, rows[:-1])
    flow.blocks.append(pdf._row([(text, flow.f.bold) for text, _ in rows[-1]],
                                [width * mm for width in widths_mm]))


def _held_since(pack: evidence.EvidencePack, zone: tzinfo) -> str:
    if pack.faults_cover_the_period:
        return ""
    since: datetime = pack.faults_held_since.astimezone(zone)
    return f" The faults above are those since {since:%d %b %Y %H:%M} only."
