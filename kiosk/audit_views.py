"""The audit trail for admins: a filtered list, and the audit-verify command."""

from __future__ import annotations

from datetime import date, datetime, tzinfo

import click
from flask import Blueprint, Flask, current_app, render_template, request
from flask.cli import with_appcontext
from werkzeug.datastructures import MultiDict

from kiosk.auth import actor, roles_required
from kiosk.extensions import db
from register import audit
from register.db import read_only, unit_of_work
from register.text import whole_number

bp = Blueprint("audit_views", __name__, url_prefix="/admin")
PER_PAGE = 100
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)


def init_app(app: Flask) -> None:
    """Register this module's pages and its `flask --app kiosk` commands."""
    app.register_blueprint(bp)
    app.cli.add_command(audit_verify)


@bp.before_request
@roles_required()  # admins only
def require_admin() -> None:
    """Who saw and changed what is for admins (and the school's DPO through them)."""


class BadFilter(ValueError):
    """A filter the page cannot use, with a sentence saying why."""


def _day(args: MultiDict[str, str], name: str, label: str) -> date | None:
    text = args.get(name, "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise BadFilter(f"“{label}” must be a date, such as 2026-12-05.") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadFilter(f"“{label}” must be a date between 2000 and 2100.")
    return day


def _query(args: MultiDict[str, str]) -> audit.AuditQuery:
    query = audit.AuditQuery(
        actor=args.get("who", "").strip()[:100], action=args.get("what", "").strip()[:40],
        subject=args.get("record", "").strip()[:100],
        since=_day(args, "from", "From"), until=_day(args, "to", "To"))
    if query.since and query.until and query.since > query.until:
        raise BadFilter("The “from” date is after the “to” date: swap them, or clear one.")
    return query


@bp.route("/audit")
def audit_trail() -> tuple[str, int]:
    """Newest first, filtered by who, what, which record and between which days (the school's
    own dates). Looking is itself an entry in the trail."""
    zone: tzinfo = current_app.extensions["school_zone"]
    page = whole_number(request.args.get("page", "")) or 1
    filters = {name: request.args[name] for name in ("who", "what", "record", "from", "to")
               if request.args.get(name, "").strip()}
    try:
        query = _query(request.args)
    except BadFilter as refusal:
        with read_only(db.session()) as session:
            return render_template(
                "admin/audit.html", args=request.args, filters=filters, zone_name=str(zone),
                error=str(refusal), found=None, actions=audit.actions_present(session)), 400
    with unit_of_work(db.session()) as session:
        found = audit.search(session, query, zone, page, PER_PAGE)
        actions = audit.actions_present(session)
        shown = len(found.entries)
        audit.record(session, actor(), "audit.view", "", (
            f"{query.describe()}; {found.total} {'entry' if found.total == 1 else 'entries'}"
            f", page {found.page} ({shown} shown)"))
        return render_template("admin/audit.html", args=request.args, filters=filters,
                               zone_name=str(zone), error=None, found=found, actions=actions), 200


def _purged_and_erased(result: audit.Verification) -> str:
    """What the retention purge and erasures changed, so neither reads as tampering."""
    lines = ""
    if result.purged_through is not None:
        lines += (f"Entries to #{result.purged_through} were removed by the retention purge; "
                  "the first entry kept chains to the last one removed.\n")
    if result.redacted:
        lines += (f"{result.redacted} {'entry' if result.redacted == 1 else 'entries'} had "
                  "their detail erased with a person (kept in the chain by their hash).\n")
    return lines


@click.command("audit-verify")
@with_appcontext
def audit_verify() -> None:
    """Check the audit trail's hash chain: exit 0 if intact, 1 naming the first bad entry."""
    zone: tzinfo = current_app.extensions["school_zone"]

    def when(at: datetime) -> str:
        return at.astimezone(zone).strftime("%a %d %b %Y %H:%M:%S %Z")

    with read_only(db.session()) as session:
        result = audit.verify(session)
    if result.broken is None:
        if result.last is None or result.first is None:
            click.echo("Audit trail intact: 0 entries (nothing recorded yet).")
            return
        click.echo(
            f"Audit trail intact: {result.count} "
            f"{'entry' if result.count == 1 else 'entries'}, first #{result.first.id} "
            f"({when(result.first.at)}), last #{result.last.id} ({when(result.last.at)}, "
            f"{result.last.action}).\n{_purged_and_erased(result)}"
            f"Last entry's hash: {result.last.entry_hash}\n"
            "Note it somewhere safe: a trail rewritten from an earlier point would end in a "
            "different hash.")
        return
    bad = result.broken.entry
    checked = (f"{result.count} {'entry' if result.count == 1 else 'entries'} before it "
               "chain correctly")
    click.echo(
        f"Audit trail BROKEN at entry #{bad.id} ({when(bad.at)}, {bad.action}, by "
        f"{bad.actor or 'nobody'}): {result.broken.problem}.\n({checked}; entries after it "
        "cannot be trusted until this is explained.)", err=True)
    raise SystemExit(1)
