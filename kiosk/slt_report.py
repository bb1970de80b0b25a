"""SLT: the phone policy report over a term, printable as evidence for the annual review."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, g, render_template, request

from kiosk.auth import actor, roles_required
from kiosk.errors import FIRST_DAY, LAST_DAY
from kiosk.extensions import db, in_unit_of_work
from register import compliance, policy, policy_report
from register.exception_requests import CATEGORIES
from register.models import Role, utc_now
from register.printing import MARKING
from register.text import whole_number

bp = Blueprint("slt_report", __name__, url_prefix="/slt")

PERIODS = {
    "term": "This term",
    "last-term": "Last term",
    "year": "This school year",
    "weeks": "Last 12 weeks",
    "custom": "Dates I choose",
}
MAX_DAYS = 400


@bp.before_request
@roles_required(Role.SLT)
def require_slt() -> None:
    """Names and staff-days: SLT (and admins) only."""


@bp.after_request
def not_cached(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"  # names: no copy in a shared browser
    return response


@dataclass(frozen=True)
class Choice:
    period: str
    starts_on: date
    ends_on: date
    label: str
    min_requests: int


class BadRange(ValueError):
    pass


@bp.route("/report")
@in_unit_of_work
def report() -> Any:
    zone = current_app.extensions["school_zone"]
    now = utc_now()
    today = now.astimezone(zone).date()
    printed_at = now.astimezone(zone)
    page = {
        "periods": PERIODS, "args": request.args, "categories": CATEGORIES, "marking": MARKING,
        "printed_by": g.user.display_name, "printed_at": printed_at,
        "footer": css_string(f"{current_app.config['SCHOOL_NAME']} · printed by "
                             f"{g.user.display_name}, {printed_at:%d %b %Y %H:%M}"),
        "percent": percent, "duration": duration, "print_args": {**request.args, "print": "1"},
        # The policy acknowledged, by category, as it stands now (counts, no names).
        "coverage": policy.coverage(db.session()),
    }
    try:
        choice = choose(request.args, today)
    except BadRange as error:
        return render_template("slt/report.html", choice=choose({}, today), error=str(error),
                               report=None, **page), 400
    report = policy_report.build(db.session(), choice.starts_on, choice.ends_on, zone, now,
                                 choice.min_requests)
    printing = request.args.get("print") == "1"
    policy_report.record_access(db.session(), report, actor(), printed=printing, at=now)
    return render_template(
        "slt/report.html", choice=choice, error=None, report=report, printing=printing,
        day_chart=compliance_chart(report.compliance.days()),
        week_chart=exceptions_chart(report.weeks), **page)


def choose(args: Any, today: date) -> Choice:
    """The range the page asks for: a preset (this term by default) or two dates."""
    period = args.get("period") or ("custom" if args.get("from") or args.get("to") else "term")
    if period not in PERIODS:
        raise BadRange("Choose one of the periods offered.")
    min_requests = whole_number(args.get("min") or str(policy_report.MIN_REQUESTS))
    if min_requests is None:
        raise BadRange("The number of requests must be a whole number.")
    if not 2 <= min_requests <= 50:
        raise BadRange("Count people with between 2 and 50 requests as repeated requesters.")
    term = compliance.Term.containing(today)
    if period == "term":
        starts_on, ends_on, label = term.starts_on, min(term.ends_on, today), term.name
    elif period == "last-term":
        last = term.previous()
        starts_on, ends_on, label = last.starts_on, last.ends_on, last.name
    elif period == "year":
        starts_on, ends_on = compliance.school_year_containing(today)
        ends_on = min(ends_on, today)
        label = f"School year {starts_on.year} to {starts_on.year + 1}"
    elif period == "weeks":
        starts_on, ends_on, label = today - timedelta(weeks=12) + timedelta(days=1), today, \
            "The last 12 weeks"
    else:
        starts_on, ends_on = _date(args.get("from"), "first"), _date(args.get("to"), "last")
        label = "Chosen dates"
    if ends_on < starts_on:
        raise BadRange("The last day is before the first day.")
    if (ends_on - starts_on).days >= MAX_DAYS:
        raise BadRange(f"Choose at most {MAX_DAYS} days: a school year fits.")
    return Choice(period, starts_on, ends_on, label, min_requests)


def _date(value: str | None, which: str) -> date:
    try:
        day = date.fromisoformat(value or "")
    except ValueError:
        raise BadRange(f"Give the {which} day as a date, e.g. 2026-09-01.") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadRange(f"Give the {which} day between {FIRST_DAY.year} and {LAST_DAY.year}.")
    return day


# --- presentation ----------------------------------------------------------------------------

def percent(rate: float | None) -> str:
    """To 0.1%, and never 100% unless every staff-day met the policy."""
    if rate is None:
        return "\u2013"  # an en dash: nothing to show
    shown = min(round(rate * 100, 1), 100.0 if rate >= 1 else 99.9)
    return f"{shown:.0f}%" if shown == int(shown) else f"{shown:.1f}%"


def duration(value: timedelta | None) -> str:
    if value is None:
        return "\u2013"  # an en dash: nothing to show
    minutes = round(value.total_seconds() / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} days {hours % 24} h"


def css_string(text: str) -> str:
    """A quoted CSS string safe inside a <style> element: anything unusual as a hex escape."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in " ,.:-()") else f"\\{ord(c):x} "
                   for c in text)
    return f'"{safe}"'


@dataclass(frozen=True)
class Segment:
    y: float
    height: float
    kind: str  # a CSS class: the colour and its legend


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    segments: list[Segment]
    label: str  # under the axis; "" to leave room
    title: str  # the exact figures, as a tooltip and for screen readers


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    top: int
    bottom: int  # y of the axis
    bars: list[Bar]
    grid: list[tuple[float, str]]  # y, label
    summary: str


WIDTH, HEIGHT, LEFT, TOP, AXIS_ROOM = 720, 200, 40, 8, 22
LABEL_EVERY = 46  # svg units between x-axis labels


def _frame(count: int) -> tuple[float, float]:
    plot = WIDTH - LEFT - 4
    slot = plot / max(count, 1)
    return slot, min(slot * 0.8, 40)


def _labels(dates: list[date], slot: float) -> list[str]:
    """A date under a bar, with room between labels and none cut off at the right edge."""
    labels: list[str] = []
    last_x: float = -LABEL_EVERY
    for index, day in enumerate(dates):
        x = index * slot
        if x - last_x >= LABEL_EVERY and LEFT + x + LABEL_EVERY <= WIDTH:
            labels.append(f"{day:%-d %b}")
            last_x = x
        else:
            labels.append("")
    return labels


def compliance_chart(days: list[compliance.Tally]) -> Chart:
    """One bar per day with anyone on duty: the share of staff-days that met the policy."""
    bottom = HEIGHT - AXIS_ROOM
    plot = bottom - TOP
    slot, width = _frame(len(days))
    labels = _labels([d.starts_on for d in days], slot)
    bars = []
    for index, (day, label) in enumerate(zip(days, labels, strict=True)):
        rate = day.rate or 0.0
        height = plot * rate
        bars.append(Bar(LEFT + index * slot + (slot - width) / 2, width,
                        [Segment(bottom - height, height, "rate")], label,
                        f"{day.starts_on:%a %-d %b}: {day.compliant} of {day.on_duty} "
                        f"({percent(day.rate)})"))
    grid = [(bottom - plot * share, f"{round(share * 100)}%") for share in (0, 0.25, 0.5, 0.75, 1)]
    lowest = min(days, key=lambda d: (d.rate or 0.0, d.starts_on), default=None)
    summary = (f"Compliance by day, {len(days)} days with staff on duty; lowest "
               f"{percent(lowest.rate)} on {lowest.starts_on:%-d %b}" if lowest
               else "No staff on duty in this range")
    return Chart(WIDTH, HEIGHT, LEFT, TOP, bottom, bars, grid, summary)


def exceptions_chart(weeks: list[policy_report.WeekRow]) -> Chart:
    """Requests made each week, stacked by outcome."""
    bottom = HEIGHT - AXIS_ROOM
    plot = bottom - TOP
    most = max((w.outcomes.requested for w in weeks), default=0)
    scale = _nice(most)
    slot, width = _frame(len(weeks))
    labels = _labels([w.week_of for w in weeks], slot)
    bars = []
    for index, (week, label) in enumerate(zip(weeks, labels, strict=True)):
        counts = week.outcomes
        y, segments = float(bottom), []
        for value, kind in ((counts.approved, "approved"), (counts.declined, "declined"),
                            (counts.lapsed + counts.pending, "undecided")):
            height = plot * value / scale
            if height:
                y -= height
                segments.append(Segment(y, height, kind))
        bars.append(Bar(LEFT + index * slot + (slot - width) / 2, width, segments, label,
                        f"Week of {week.week_of:%-d %b}: {counts.requested} requested, "
                        f"{counts.approved} approved, {counts.declined} declined, "
                        f"{counts.lapsed + counts.pending} not decided"))
    grid = [(bottom - plot * step / scale, str(step)) for step in _steps(scale)]
    total = sum(w.outcomes.requested for w in weeks)
    summary = f"Exception requests by week: {total} over {len(weeks)} weeks, at most {most} a week"
    return Chart(WIDTH, HEIGHT, LEFT, TOP, bottom, bars, grid, summary)


def _nice(most: int) -> int:
    for scale in (2, 4, 5, 10, 20, 25, 50, 100):
        if most <= scale:
            return scale
    return -(-most // 100) * 100


def _steps(scale: int) -> list[int]:
    step = max(scale // 4, 1) if scale % 4 == 0 else max(scale // 5, 1)
    return list(range(0, scale + 1, step))
