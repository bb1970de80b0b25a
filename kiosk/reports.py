"""Reports for the office and SLT: the fire roll call, the daily log, compliance summaries.

Every view, print and export is written to the audit trail: who, when, which report and how
many records (names and lockers only: these reports hold no IMEIs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
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
    url_for,
)

from kiosk.auth import actor, roles_required
from kiosk.errors import FIRST_DAY
from kiosk.extensions import db, in_unit_of_work, read_only_view
from kiosk.slt_report import percent
from register import audit, compliance, daily_log, exports, rollcall
from register.db import unit_of_work
from register.errors import ValidationError
from register.models import Role, utc_now
from register.printing import MARKING
from register.text import whole_number

bp = Blueprint("reports", __name__, url_prefix="/reports")

DAILY_LOG_CSV_HEADER = ("date", "time", "event", "name", "category", "locker", "bank", "kiosk",
                        "flag", "put_in")


@bp.before_request
@roles_required(Role.OFFICE, Role.SLT)
def require_staff() -> None:
    """Names and whereabouts: the office, SLT and admins; never the kiosk."""


@bp.after_request
def not_cached(response: Response) -> Response:
    # Who is on site: no copy left in a shared browser's cache or a proxy.
    response.headers["Cache-Control"] = "no-store"
    return response


def _record(action: str, report: str, count: int, detail: str = "") -> None:
    """Who saw, printed or exported which report, and how many records: never an IMEI. In the
    view's unit of work."""
    noun = "record" if count == 1 else "records"
    audit.record(db.session(), actor(), action, f"report:{report}",
                 f"{count} {noun}" + (f"; {detail}" if detail else ""))


def _zone() -> Any:
    return current_app.extensions["school_zone"]


def _printing() -> bool:
    return request.args.get("print") == "1"


def _page(now: datetime) -> dict[str, Any]:
    """What every report's header and printed page carries."""
    return {"marking": MARKING, "printed_at": now, "printed_by": g.user.username,
            "printing": _printing(), "one_day": timedelta(days=1)}


@bp.route("/")
@read_only_view
def index() -> str:
    return render_template("reports/index.html", times=daily_log.day_times(db.session()),
                           is_admin=g.user.role == Role.ADMIN)


# --- the fire roll call ----------------------------------------------------------------------

@bp.route("/roll-call")
@in_unit_of_work
def roll_call() -> str:
    now = utc_now()
    call = rollcall.roll_call(db.session(), _zone(), now)
    phones = call.phones_in_lockers
    _record("print.roll_call" if _printing() else "view.roll_call", "roll_call", call.total,
            f"{phones} phone{'' if phones == 1 else 's'} in lockers")
    return render_template("reports/rollcall.html", call=call, **_page(now))


# --- the daily log ---------------------------------------------------------------------------

def _chosen_day(today: date) -> date:
    wanted = request.args.get("date", "")
    if not wanted:
        return today
    try:
        day = date.fromisoformat(wanted)
    except ValueError:
        raise ValidationError("Give the day as a date, e.g. 2026-11-25.") from None
    if day < FIRST_DAY:
        raise ValidationError(f"Choose a day from {FIRST_DAY:%-d %B %Y} on.")
    return day


@bp.route("/daily-log")
@in_unit_of_work
def daily_log_page() -> Any:
    now = utc_now()
    today = now.astimezone(_zone()).date()
    try:
        day = _chosen_day(today)
        log = daily_log.daily_log(db.session(), day, _zone(), now)
    except ValidationError as error:
        return render_template("reports/daily_log.html", log=None, day=today, today=today,
                               error=str(error), is_admin=g.user.role == Role.ADMIN,
                               **_page(now)), 400
    _record("print.daily_log" if _printing() else "view.daily_log", "daily_log", log.records,
            f"{day.isoformat()}")
    return render_template("reports/daily_log.html", log=log, day=day, today=today, error=None,
                           is_admin=g.user.role == Role.ADMIN, **_page(now))


@bp.route("/daily-log.csv")
@in_unit_of_work
def daily_log_csv() -> Response:
    now = utc_now()
    zone = _zone()
    try:
        day = _chosen_day(now.astimezone(zone).date())
        log = daily_log.daily_log(db.session(), day, zone, now)
    except ValidationError as error:
        abort(400, str(error))

    def row(entry: daily_log.LogEntry, event: str) -> list[object]:
        at = entry.at.astimezone(zone)
        return [at.date().isoformat(), at.strftime("%H:%M:%S"), event, entry.name,
                entry.category_label, entry.locker, entry.bank, entry.kiosk, entry.flag,
                entry.deposited_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")]

    ends = log.as_of.astimezone(zone).strftime("%H:%M")
    lines = [row(e, e.kind) for e in log.entries]
    lines += [row(e, f"in locker at {ends}") for e in log.still_in]
    body = exports.csv_text(DAILY_LOG_CSV_HEADER, lines)
    _record("export.daily_log_csv", "daily_log", len(lines), day.isoformat())
    return Response(body.encode("utf-8"), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="daily-log-{day.isoformat()}.csv"'})


@bp.route("/daily-log/times", methods=["POST"])
def save_day_times() -> Any:
    """Admins set when the school day ends and when a collection counts as early."""
    if g.user.role != Role.ADMIN:
        abort(403)
    try:
        with unit_of_work(db.session()) as session:
            times = daily_log.set_day_times(session, request.form.get("day_ends", ""),
                                            request.form.get("early_before", ""), actor())
    except ValidationError as error:
        flash(str(error), "error")
    else:
        flash(f"Saved. The school day ends at {times.day_ends:%H:%M}; collections before "
              f"{times.early_before:%H:%M} are early.")
    back = request.form.get("date", "")
    return redirect(url_for("reports.daily_log_page", date=back or None))


# --- weekly and termly compliance ------------------------------------------------------------

TERMS_OFFERED = 6  # this term and the five before it: this school year and the last


def _term(value: str, today: date) -> compliance.Term:
    """``autumn-2026`` and the like; this term if none is asked for."""
    if not value:
        return compliance.Term.containing(today)
    season, _, year_text = value.partition("-")
    year = whole_number(year_text)
    if season not in {s for s, _, _ in compliance.TERMS} or year is None \
            or not 2000 <= year <= 2100:
        raise ValidationError("Choose one of the terms offered.")
    term = compliance.Term(season, year)
    if term.starts_on > today:
        raise ValidationError(f"{term.name} has not started yet.")
    return term


def _school_year(term: compliance.Term) -> list[compliance.Term]:
    first = compliance.Term("autumn", compliance.school_year_containing(term.starts_on)[0].year)
    terms = [first]
    while len(terms) < len(compliance.TERMS):
        terms.append(compliance.Term.containing(terms[-1].ends_on + timedelta(days=1)))
    return terms


@dataclass(frozen=True)
class TermRow:
    term: compliance.Term
    tally: compliance.Tally | None  # None: not started yet


@bp.route("/summaries")
@in_unit_of_work
def summaries() -> Any:
    """Compliance week by week over a term, and term by term over its school year, as
    ``register.compliance`` computes them (the SLT policy report's figures too), with the
    weeks kept as totals after the purge in place of their events."""
    now = utc_now()
    zone = _zone()
    today = now.astimezone(zone).date()
    offered = [compliance.Term.containing(today)]
    while len(offered) < TERMS_OFFERED:
        offered.append(offered[-1].previous())
    page = {"offered": offered, "percent": percent, "today": today, **_page(now)}
    try:
        term = _term(request.args.get("term", ""), today)
    except ValidationError as error:
        return render_template("reports/summaries.html", error=str(error), term=offered[0],
                               **page), 400
    ends_on = min(term.ends_on, today)
    chosen = compliance.evidence(db.session(), term.starts_on, ends_on, zone, now)
    terms = [TermRow(t, None if t.starts_on > today else chosen.overall() if t == term
                     else compliance.termly(db.session(), t, zone, now))
             for t in _school_year(term)]
    overall = chosen.overall()
    _record("print.compliance_summary" if _printing() else "view.compliance_summary",
            "compliance_summary", overall.on_duty,
            f"{term.name}, {term.starts_on.isoformat()} to {ends_on.isoformat()}; staff-days")
    return render_template("reports/summaries.html", error=None, term=term, ends_on=ends_on,
                           weeks=chosen.weeks(), overall=overall, terms=terms,
                           totals_only=bool(chosen.totals_only),
                           grace=int(chosen.grace.total_seconds() // 60), **page)
