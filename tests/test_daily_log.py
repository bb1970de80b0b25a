"""The daily log: one day's deposits and collections by time, phones still in lockers when the
day ends, late, early and overnight collections; the times as settings; the page and CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.extensions import db
from register import daily_log, people
from register.daily_log import DayTimes, set_day_times
from register.errors import ValidationError
from register.models import AuditEvent, DutyPeriod
from tests.conftest import scan_code

LONDON = ZoneInfo("Europe/London")
DAY = date(2026, 11, 18)  # a Wednesday, in GMT: local time is UTC
AFTER = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)


def at(hour: int, minute: int = 0, day: int = 18) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def build_day(session, school) -> None:
    """One day at the staff room, with a phone left in overnight from the day before."""
    def scan(code, when, kiosk=school.staff_kiosk):
        scan_code(session, kiosk.id, code, when, LONDON)

    dan = people.add_person(session, people.PersonDetails(name="Dan Dale", category="agency"),
                            "test")
    dan_phone = people.register_device(session, dan, people.DeviceDetails(
        imei="356938035643809", make="Nokia", model="3310"), "test")
    session.commit()
    scan(school.bob_phone.label_code, at(8, 0, day=17), school.reception_kiosk)  # left in
    scan(school.bob_phone.label_code, at(8, 10), school.reception_kiosk)  # overnight
    scan(dan_phone.label_code, at(7, 55))
    scan(school.alice.badge_id, at(8, 0))
    scan(school.carol.badge_id, at(8, 5))
    scan(school.bob_work_phone.label_code, at(8, 20))  # never collected
    scan(school.alice.badge_id, at(12, 30))  # early
    scan(dan_phone.label_code, at(15, 30))  # on time
    scan(school.carol.badge_id, at(17, 30))  # late
    scan(dan_phone.label_code, at(19, 0, day=19))  # the next day: not on this log


def test_the_day_by_time_with_flags(session, school):
    build_day(session, school)
    log = daily_log.daily_log(session, DAY, LONDON, AFTER)

    assert [(e.at.strftime("%H:%M"), e.kind, e.name, e.locker, e.bank, e.kiosk, e.flag)
            for e in log.entries] == [
        ("07:55", "deposited", "Dan Dale", 1, "Staff room", "Staff kiosk", ""),
        ("08:00", "deposited", "Alice Adams", 2, "Staff room", "Staff kiosk", ""),
        ("08:05", "deposited", "Carol Clark", 3, "Staff room", "Staff kiosk", ""),
        ("08:10", "collected", "Bob Brown", 1, "Reception", "Front kiosk", "overnight"),
        ("08:20", "deposited", "Bob Brown", 4, "Staff room", "Staff kiosk", ""),
        ("12:30", "collected", "Alice Adams", 2, "Staff room", "Staff kiosk", "early"),
        ("15:30", "collected", "Dan Dale", 1, "Staff room", "Staff kiosk", ""),
        ("17:30", "collected", "Carol Clark", 3, "Staff room", "Staff kiosk", "late"),
    ]
    assert log.entries[0].category_label == "Agency staff"
    # At 17:00: Carol (collected late) and Bob's work phone (never collected).
    assert [(e.name, e.locker) for e in log.still_in] == [("Bob Brown", 4), ("Carol Clark", 3)]
    assert log.day_over and log.as_of == at(17)
    assert ([e.name for e in log.late], [e.name for e in log.early],
            [e.name for e in log.overnight]) == (["Carol Clark"], ["Alice Adams"], ["Bob Brown"])
    assert (len(log.deposits), len(log.collections), log.records) == (4, 4, 10)


def test_a_lunchtime_out_and_back_is_not_an_early_collection(session, school):
    """Erin takes her phone out at 12:30 and puts it back at 13:10: a break, not leaving
    early. Frank takes his out at 12:40 and does not come back: early."""
    def person(name: str, imei: str):
        someone = people.add_person(session, people.PersonDetails(name, "staff"), "test")
        return people.register_device(session, someone, people.DeviceDetails(imei=imei), "test")

    erin, frank = person("Erin Evans", "356938035643809"), person("Frank Fox", "006928650319490")
    session.commit()
    for phone, hour, minute in ((erin, 8, 0), (frank, 8, 5), (erin, 12, 30), (frank, 12, 40),
                                (erin, 13, 10), (erin, 16, 0)):
        scan_code(session, school.staff_kiosk.id, phone.label_code, at(hour, minute), LONDON)

    log = daily_log.daily_log(session, DAY, LONDON, AFTER)
    assert [e.name for e in log.early] == ["Frank Fox"]
    assert [(e.at.strftime("%H:%M"), e.name, e.flag) for e in log.collections] == [
        ("12:30", "Erin Evans", ""), ("12:40", "Frank Fox", "early"), ("16:00", "Erin Evans", "")]
    assert (len(log.deposits), len(log.collections), len(log.early)) == (3, 3, 1)
    # At 12:50, before Erin is back, the log says what it knew then: both out early.
    at_lunch = daily_log.daily_log(session, DAY, LONDON, at(12, 50))
    assert [e.name for e in at_lunch.early] == ["Erin Evans", "Frank Fox"]


def test_the_day_before_shows_the_phone_left_in(session, school):
    build_day(session, school)
    log = daily_log.daily_log(session, date(2026, 11, 17), LONDON, AFTER)
    assert [(e.kind, e.name) for e in log.entries] == [("deposited", "Bob Brown")]
    assert [e.name for e in log.still_in] == ["Bob Brown"]


def test_today_before_the_day_ends_counts_what_is_in_now(session, school):
    build_day(session, school)
    log = daily_log.daily_log(session, DAY, LONDON, at(11))
    assert not log.day_over and log.as_of == at(11)
    assert [e.name for e in log.still_in] == ["Alice Adams", "Bob Brown", "Carol Clark",
                                              "Dan Dale"]
    assert [e.at.strftime("%H:%M") for e in log.entries] == [
        "07:55", "08:00", "08:05", "08:10", "08:20"]  # nothing after now


def test_times_come_from_the_settings(session, school):
    build_day(session, school)
    assert daily_log.day_times(session) == DayTimes(time(17), time(15))
    set_day_times(session, "16:00", "12:00", "admin")
    session.commit()
    assert daily_log.day_times(session) == DayTimes(time(16), time(12))
    log = daily_log.daily_log(session, DAY, LONDON, AFTER)
    assert {e.name: e.flag for e in log.collections} == {
        "Bob Brown": "overnight", "Alice Adams": "", "Dan Dale": "", "Carol Clark": "late"}
    changes = session.scalars(select(AuditEvent).where(AuditEvent.action == "settings.change")
                              .order_by(AuditEvent.id)).all()
    assert [(e.actor, e.subject, e.detail) for e in changes] == [
        ("admin", "setting:school_day_ends", "16:00"),
        ("admin", "setting:early_collection_before", "12:00")]


@pytest.mark.parametrize(("ends", "early", "message"), [
    ("5pm", "15:00", "as a time of day"),
    ("", "15:00", "as a time of day"),
    ("17:00:30", "15:00", "hours and minutes"),
    ("15:00", "16:00", "no later than the end of the day"),
])
def test_bad_times_are_refused(session, ends, early, message):
    with pytest.raises(ValidationError, match=message):
        set_day_times(session, ends, early, "admin")


def test_a_day_to_come_is_refused(session, school):
    with pytest.raises(ValidationError, match="not come yet"):
        daily_log.daily_log(session, date(2026, 11, 20), LONDON, AFTER)


def test_local_time_in_summer(session, school):
    """In BST the day ends at 17:00 London time, 16:00 UTC."""
    summer = date(2026, 6, 10)
    scan_code(session, school.staff_kiosk.id, school.alice.badge_id,
              datetime(2026, 6, 10, 7, 0, tzinfo=UTC), LONDON)
    scan_code(session, school.staff_kiosk.id, school.alice.badge_id,
              datetime(2026, 6, 10, 16, 5, tzinfo=UTC), LONDON)  # 17:05 local: late
    log = daily_log.daily_log(session, summer, LONDON, AFTER)
    assert [e.flag for e in log.collections] == ["late"]
    assert log.ends_at == datetime(2026, 6, 10, 16, 0, tzinfo=UTC)


# --- the page and the CSV ------------------------------------------------------------------

@pytest.fixture
def logged_day(app, web_school):
    with app.app_context(), Session(db.engine) as session:
        build_day(session, web_school)
    return web_school


@pytest.mark.parametrize("role", ["office", "slt", "admin"])
def test_the_page_shows_the_day(client, auth, logged_day, role):
    auth.login(role)
    response = client.get(f"/reports/daily-log?date={DAY.isoformat()}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "Daily log: Wednesday 18 November 2026" in page
    assert "The school day ends at <strong>17:00</strong>" in page
    assert "Still in lockers at 17:00 · 2" in page
    assert "Late collections (from 17:00) · 1" in page
    assert "Early collections (before 15:00) · 1" in page
    assert "OFFICIAL-SENSITIVE: personal data" in page
    assert page.count("Dan Dale") == 2  # put in and taken out, in the table by time
    assert "356938035643809" not in page
    assert ('name="day_ends"' in page) == (role == "admin")  # only admins change the times


def test_csv_is_the_shared_format_and_audited(client, auth, logged_day, app):
    auth.login("office")
    response = client.get(f"/reports/daily-log.csv?date={DAY.isoformat()}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"  # said once
    assert 'filename="daily-log-2026-11-18.csv"' in response.headers["Content-Disposition"]
    text = response.data.decode("utf-8")
    assert text.startswith("\ufeff")  # the register's CSV function: Excel reads UTF-8
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == ["date", "time", "event", "name", "category", "locker", "bank", "kiosk",
                       "flag", "put_in"]
    assert rows[1] == ["2026-11-18", "07:55:00", "deposited", "Dan Dale", "Agency staff", "1",
                       "Staff room", "Staff kiosk", "", "2026-11-18 07:55:00"]
    assert ["2026-11-18", "17:30:00", "collected", "Carol Clark", "Staff", "3", "Staff room",
            "Staff kiosk", "late", "2026-11-18 08:05:00"] in rows
    assert sum(r[2] == "in locker at 17:00" for r in rows) == 2
    assert len(rows) == 1 + 8 + 2
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "export.daily_log_csv")).one()
        assert (event.actor, event.subject, event.detail) == (
            "office", "report:daily_log", "10 records; 2026-11-18")


def test_view_and_print_are_audited(client, auth, logged_day, app):
    auth.login("slt")
    client.get(f"/reports/daily-log?date={DAY.isoformat()}")
    page = client.get(f"/reports/daily-log?date={DAY.isoformat()}&print=1").get_data(True)
    assert "data-print-on-load" in page  # print.js prints it once loaded
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(
            AuditEvent.subject == "report:daily_log").order_by(AuditEvent.id)).all()
        assert [(e.actor, e.action, e.detail) for e in events] == [
            ("slt", "view.daily_log", "10 records; 2026-11-18"),
            ("slt", "print.daily_log", "10 records; 2026-11-18")]


def test_a_bad_or_future_date_is_explained(client, auth, web_school):
    auth.login("office")
    response = client.get("/reports/daily-log?date=18/11/2026")
    assert response.status_code == 400
    assert "Give the day as a date" in response.get_data(as_text=True)
    response = client.get("/reports/daily-log?date=2999-01-01")
    assert response.status_code == 400
    assert "has not come yet" in response.get_data(as_text=True)


def test_only_admins_set_the_times(client, auth, web_school, app):
    for role in ("office", "slt"):
        auth.login(role)
        assert client.post("/reports/daily-log/times",
                           data={"day_ends": "16:00", "early_before": "14:00"}).status_code == 403
        auth.logout()
    auth.login("admin")
    response = client.post("/reports/daily-log/times", follow_redirects=True, data={
        "day_ends": "16:30", "early_before": "14:00", "date": DAY.isoformat()})
    page = response.get_data(as_text=True)
    assert "Saved. The school day ends at 16:30; collections before 14:00 are early." in page
    assert "The school day ends at <strong>16:30</strong>" in page
    refused = client.post("/reports/daily-log/times", follow_redirects=True,
                          data={"day_ends": "14:00", "early_before": "15:00"})
    assert "no later than the end of the day" in refused.get_data(as_text=True)
    with app.app_context():
        assert daily_log.day_times(db.session) == DayTimes(time(16, 30), time(14))


# --- weekly and termly compliance summaries (computed by register.compliance) ---------------

def june(day: int, hour: int) -> datetime:
    return datetime(2026, 6, day, hour, 0, tzinfo=UTC)  # a term that is over, whatever today


@pytest.fixture
def summer_weeks(app, web_school):
    """Alice locks her phone away four days; Carol is on duty once without doing so."""
    with app.app_context(), Session(db.engine) as session:
        for day in (15, 16, 17, 22):
            for hour in (8, 15):  # in, then out
                scan_code(session, web_school.staff_kiosk.id, web_school.alice.badge_id,
                          june(day, hour), LONDON)
        session.add(DutyPeriod(person_id=web_school.carol.id, started_at=june(16, 9),
                               start_kind="exception", ended_at=june(16, 12),
                               end_kind="sign_out"))
        session.commit()
    return web_school


def table_rows(page: str, table: str) -> list[list[str]]:
    """The text of each body row's cells in the table labelled ``table``."""
    body = page.split(f'aria-labelledby="{table}"', 1)[1].split("</table>", 1)[0]
    return [[" ".join(re.sub(r"<[^>]+>", " ", cell).split())
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S) if "<td" in row]


@pytest.mark.parametrize("role", ["office", "slt", "admin"])
def test_summaries_by_week_and_term(client, auth, summer_weeks, role):
    auth.login(role)
    response = client.get("/reports/summaries?term=summer-2026")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "Phone policy compliance: Summer term 2026" in page
    assert "<strong>80%</strong> met the policy" in page  # 4 of 5 staff-days
    assert table_rows(page, "weeks") == [
        ["Mon 15 Jun to Sun 21 Jun", "4", "3", "1", "0", "75%"],
        ["Mon 22 Jun to Sun 28 Jun", "1", "1", "0", "0", "100%"],
        ["Summer term 2026", "5", "4", "1", "0", "80%"],  # the total
    ]
    assert table_rows(page, "terms") == [
        ["Autumn term 2025 (1 Sep to 31 Dec 2025)", "0", "0", "0", "\u2013"],
        ["Spring term 2026 (1 Jan to 31 Mar 2026)", "0", "0", "0", "\u2013"],
        ["Summer term 2026 (1 Apr to 31 Aug 2026)", "5", "4", "1", "80%"],
    ]
    assert "OFFICIAL-SENSITIVE: personal data" in page


def test_summaries_of_an_empty_term_a_bad_one_and_the_audit(client, auth, summer_weeks, app):
    auth.login("office")
    page = client.get("/reports/summaries?term=spring-2026").get_data(as_text=True)
    assert "Nobody went on duty at a kiosk in this term." in page
    assert client.get("/reports/summaries?term=winter-2026").status_code == 400
    assert client.get("/reports/summaries?term=summer-2099").status_code == 400  # to come
    assert client.get("/reports/summaries").status_code == 200  # this term
    page = client.get("/reports/summaries?term=summer-2026&print=1").get_data(as_text=True)
    assert "data-print-on-load" in page  # print.js prints it once loaded
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(
            AuditEvent.subject == "report:compliance_summary").order_by(AuditEvent.id)).all()
        assert [(e.actor, e.action) for e in events] == [
            ("office", "view.compliance_summary"), ("office", "view.compliance_summary"),
            ("office", "print.compliance_summary")]
        assert events[0].detail == (
            "0 records; Spring term 2026, 2026-01-01 to 2026-03-31; staff-days")
        assert events[2].detail == (
            "5 records; Summer term 2026, 2026-04-01 to 2026-08-31; staff-days")
