"""The retention settings on /admin/settings, the purge from the command line, and the office's
summaries showing a week kept as totals after its events were purged."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from kiosk.extensions import db
from register import purge, retention
from register.db import unit_of_work
from register.models import AuditEvent, LoginFailure, User
from tests.conftest import FAST_HASH
from tests.test_compliance import LONDON, fortnight_rows, load_fortnight


def text_of(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ",
                                                     response.get_data(as_text=True))))


def audited(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def old_failures(app, count: int, days: int) -> None:
    with app.app_context(), Session(db.engine) as session:
        at = datetime.now(UTC) - timedelta(days=days)
        session.execute(insert(LoginFailure), [
            {"username": "office", "remote_addr": "10.0.0.9", "at": at}] * count)
        session.commit()


# --- the settings page -----------------------------------------------------------------------

def test_an_admin_sees_and_changes_how_long_records_are_kept(app, client, auth, web_school):
    auth.login("admin")
    page = client.get("/admin/settings")
    shown = text_of(page)
    assert "How long records are kept" in shown
    assert "Deposits, duty periods and kiosk scans" in shown and "Default: 13 months." in shown
    assert "Audit trail" in shown and "Default: 2 years." in shown
    assert 'name="retention_leavers" type="number"' in page.get_data(as_text=True)
    assert "No purge has removed anything yet." in shown

    saved = client.post("/admin/settings", data={
        "idle_minutes": "30", "lifetime_hours": "12", "retention_deposits": "24",
        "retention_leavers": "60", "dpo_contact": "  Ms Patel,  dpo@school.example  "},
        follow_redirects=True)
    assert "Retention periods and the data protection officer's contact are as shown below." \
        in text_of(saved)
    assert 'name="retention_deposits" type="number" inputmode="numeric" min="1" max="84" ' \
           'required value="24"' in saved.get_data(as_text=True)
    with app.app_context():
        kept = retention.retention(db.session)
        assert (kept.amount("deposits"), kept.amount("leavers"), kept.amount("audit")) == (
            24, 60, 24)
        assert retention.dpo_contact(db.session) == "Ms Patel, dpo@school.example"
    changed = {e.subject for e in audited(app, "settings.change")}
    assert {"setting:retention_deposits", "setting:retention_leavers",
            "setting:dpo_contact"} <= changed


def test_a_period_out_of_range_is_refused_with_a_sentence_and_nothing_saved(
        app, client, auth, web_school):
    auth.login("admin")
    refused = client.post("/admin/settings", data={
        "idle_minutes": "30", "lifetime_hours": "12", "retention_deposits": "24",
        "retention_audit": "6"})
    assert refused.status_code == 400
    assert "Not saved: Audit trail: give a number of months from 12 to 84." in text_of(refused)
    assert 'value="6"' in refused.get_data(as_text=True)  # what was typed stays to correct
    assert audited(app, "settings.change") == []
    too_long = client.post("/admin/settings", data={"dpo_contact": "x" * 301})
    assert too_long.status_code == 400
    assert "Data protection officer: at most 300 characters." in text_of(too_long)


def test_the_preview_says_what_the_next_purge_would_remove_and_changes_nothing(
        app, client, auth, web_school):
    old_failures(app, 2, days=45)
    auth.login("admin")
    shown = text_of(client.get("/admin/settings?preview=1"))
    assert "If the purge ran now, it would remove" in shown
    assert "Failed sign-ins : 2 failed sign-ins (from before" in shown
    assert "Nothing was removed: this only counts." in shown
    with app.app_context():
        assert len(db.session.scalars(select(LoginFailure)).all()) == 2
    assert audited(app, purge.ACTION) == []


# --- the command -----------------------------------------------------------------------------

def test_the_purge_command_prints_a_line_per_kind_and_is_audited(app, runner, web_school):
    old_failures(app, 3, days=45)
    dry = runner.invoke(args=["purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "login_failures: would remove 3 failed sign-ins (kept 30 days: before " in dry.output
    assert dry.output.rstrip().endswith("Dry run: nothing was removed or kept.")
    assert audited(app, purge.ACTION) == []

    done = runner.invoke(args=["purge"])
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert [line.split(":")[0] for line in lines][:8] == [
        "deposits", "exceptions", "incidents", "leavers", "login_failures", "operational",
        "audit", "totals"]
    assert "login_failures: removed 3 failed sign-ins" in done.output
    [entry] = audited(app, purge.ACTION)
    assert entry.actor == "cli" and "login_failures: 3 failed sign-ins" in entry.detail
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        assert lines[-1] == "sqlite: write-ahead log checkpointed and emptied"

    again = runner.invoke(args=["purge"])
    assert again.exit_code == 0 and "login_failures: removed nothing" in again.output
    assert len(audited(app, purge.ACTION)) == 1


# --- the office's summaries --------------------------------------------------------------------

def test_summaries_and_the_policy_report_show_weeks_kept_as_totals_after_the_purge(
        app, client, auth):
    with app.app_context(), Session(db.engine) as session:
        load_fortnight(session, fortnight_rows())
        with unit_of_work(session):  # a year on: the fortnight's events are past keeping
            purge.purge(session, datetime(2027, 12, 15, 9, tzinfo=UTC), LONDON)
        session.add_all([User(username="office", password_hash=FAST_HASH, role="office"),
                         User(username="slt", password_hash=FAST_HASH, role="slt")])
        session.commit()
    auth.login("office")
    page = client.get("/reports/summaries?term=autumn-2026")
    assert page.status_code == 200
    shown = text_of(page)
    assert "Mon 19 Oct to Sun 25 Oct kept as totals after the purge 15 14 1 3 93.3%" in shown
    assert "Mon 26 Oct to Sun 1 Nov kept as totals after the purge 15 13 2 3 86.7%" in shown
    assert "Autumn term 2026 30 27 3 6 90%" in shown
    assert "who was on duty that week is no longer held" in shown
    auth.logout()

    auth.login("slt")
    report = text_of(client.get("/slt/report?period=custom&from=2026-10-19&to=2026-10-30"))
    assert "Some weeks in this range are kept as totals after the purge" in report
    assert "90% of staff-days on duty met the policy" in report
    assert "Mon 26 Oct 2026 kept as totals after the purge 4 0 1 1 0 2 0" in report
    assert "No one made 3 or more requests in this range." in report
