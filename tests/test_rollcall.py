"""The fire roll call: who is on site (scanned in, not out), by category and name, with their
lockers; and who reaches it, and what the audit trail keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.extensions import db
from register import people
from register.imei import luhn_check_digit
from register.models import AuditEvent
from register.rollcall import roll_call
from tests.conftest import pair_browser, scan_code

LONDON = ZoneInfo("Europe/London")
MORNING = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # a Wednesday; GMT, so UTC is local


def scan(session, school, code, when, kiosk=None):
    return scan_code(session, (kiosk or school.staff_kiosk).id, code, when, LONDON)


def imei(n: int) -> str:
    body = f"35{n:012d}"
    return body + str(luhn_check_digit(body))


def add(session, name, category, imei=None):
    person = people.add_person(session, people.PersonDetails(name=name, category=category),
                               "test")
    phone = None
    if imei:
        phone = people.register_device(session, person, people.DeviceDetails(
            imei=imei, make="Nokia", model="3310"), "test")
    session.commit()
    return person, phone


def test_on_site_by_category_then_name_with_lockers(session, school):
    _, zoe_phone = add(session, "Zoë Adams", "visitor", imei(1))
    _, gov_phone = add(session, "Óisín Byrne", "governor", imei(2))
    scan(session, school, school.carol.badge_id, MORNING)  # own locker 3
    scan(session, school, school.alice.badge_id, MORNING + timedelta(minutes=1))
    scan(session, school, school.bob_phone.label_code, MORNING + timedelta(minutes=2),
         school.reception_kiosk)
    scan(session, school, school.bob_work_phone.label_code, MORNING + timedelta(minutes=3))
    scan(session, school, zoe_phone.label_code, MORNING + timedelta(minutes=4))
    scan(session, school, gov_phone.label_code, MORNING + timedelta(minutes=5),
         school.reception_kiosk)

    call = roll_call(session, LONDON, MORNING + timedelta(hours=2))

    assert [(g.label, [p.name for p in g.people]) for g in call.groups] == [
        ("Staff", ["Alice Adams", "Bob Brown", "Carol Clark"]),
        ("Governor", ["Óisín Byrne"]),
        ("Visitor", ["Zoë Adams"]),
    ]
    by_name = {p.name: p for p in call.people}
    assert [ph.place for ph in by_name["Carol Clark"].phones] == ["3 (Staff room)"]
    assert [ph.place for ph in by_name["Bob Brown"].phones] == ["1 (Reception)", "2 (Staff room)"]
    assert by_name["Alice Adams"].since == MORNING + timedelta(minutes=1)
    assert (call.total, call.phones_in_lockers, call.from_earlier_days) == (5, 6, 0)


def test_scanned_out_is_not_on_site(session, school):
    scan(session, school, school.alice.badge_id, MORNING)
    scan(session, school, school.carol.badge_id, MORNING)
    scan(session, school, school.alice.badge_id, MORNING + timedelta(hours=7))  # collects

    call = roll_call(session, LONDON, MORNING + timedelta(hours=8))
    assert [p.name for p in call.people] == ["Carol Clark"]
    # Earlier the same day, both were in.
    assert call.total == 1
    assert roll_call(session, LONDON, MORNING + timedelta(hours=1)).total == 2


def test_nobody_before_anyone_scans(session, school):
    scan(session, school, school.alice.badge_id, MORNING)
    call = roll_call(session, LONDON, MORNING - timedelta(minutes=1))
    assert (call.total, call.groups) == (0, [])


def test_scanned_in_on_an_earlier_day_is_kept_and_flagged(session, school):
    badge = phoneless_governor(session)
    assert scan(session, school, badge, MORNING - timedelta(days=1)).outcome == (
        "signed_in_no_phone")
    scan(session, school, school.bob_phone.label_code, MORNING - timedelta(days=1))
    scan(session, school, school.alice.badge_id, MORNING)
    call = roll_call(session, LONDON, MORNING + timedelta(hours=1))
    flagged = {p.name: p.earlier_day for p in call.people}
    assert flagged == {"Alice Adams": False, "Gwen Hale": True}
    assert call.from_earlier_days == 1
    # Bob's phone has been in a locker since yesterday: he most likely went home without it.
    assert [(p.name, p.earlier_day) for p in call.may_have_gone] == [("Bob Brown", True)]


# --- issue 10: people with no phone, and phones left in lockers after the day ends ----------

EVENING = datetime(2026, 11, 25, 17, 15, tzinfo=UTC)  # after the school day (17:00)


def phoneless_governor(session) -> str:
    """A governor on the register with a badge and no phone; her badge number."""
    people.add_person(session, people.PersonDetails(
        name="Gwen Hale", category="governor", badge_id="0000000777"), "test")
    session.commit()
    return "0000000777"


def test_someone_with_no_phone_signs_in_and_is_on_the_roll_call(session, school):
    badge = phoneless_governor(session)
    assert scan(session, school, badge, MORNING).outcome == "signed_in_no_phone"
    call = roll_call(session, LONDON, MORNING + timedelta(hours=1))
    [gwen] = call.people
    assert (gwen.name, gwen.no_phone, gwen.phones, call.total) == ("Gwen Hale", True, (), 1)
    # Signing out (after the second-scan guard) takes her off it.
    assert scan(session, school, badge, MORNING + timedelta(hours=2)).outcome == (
        "signed_out_no_phone")
    assert roll_call(session, LONDON, MORNING + timedelta(hours=3)).total == 0


def test_after_the_day_ends_phones_left_in_lockers_are_listed_apart(session, school):
    badge = phoneless_governor(session)
    scan(session, school, school.alice.badge_id, MORNING - timedelta(minutes=20))  # 07:40
    scan(session, school, school.carol.badge_id, MORNING)
    scan(session, school, badge, MORNING + timedelta(hours=1))
    scan(session, school, school.bob_phone.label_code, EVENING - timedelta(minutes=5))  # 17:10

    before = roll_call(session, LONDON, EVENING - timedelta(minutes=30))  # 16:45
    assert (before.total, before.may_have_gone) == (3, [])

    call = roll_call(session, LONDON, EVENING)
    # On site: Bob came in after the day ended, Gwen has no phone to leave behind.
    assert [p.name for p in call.people] == ["Bob Brown", "Gwen Hale"]
    assert call.total == 2
    apart = {p.name: (p.phones[0].number, p.locked_since) for p in call.may_have_gone}
    assert apart == {"Alice Adams": (1, MORNING - timedelta(minutes=20)),
                     "Carol Clark": (3, MORNING)}
    assert call.day_ended_at == datetime(2026, 11, 25, 17, 0, tzinfo=UTC)


# --- the page ------------------------------------------------------------------------------

def scan_now(app, school, *codes):
    with app.app_context(), Session(db.engine) as session:
        for code in codes:
            scan_code(session, school.staff_kiosk.id, code)


@pytest.mark.parametrize("role", ["office", "slt", "admin"])
def test_office_slt_and_admin_reach_the_roll_call(client, auth, web_school, app, role):
    scan_now(app, web_school, web_school.alice.badge_id, web_school.carol.badge_id)
    auth.login(role)
    response = client.get("/reports/roll-call")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "OFFICIAL-SENSITIVE: personal data" in page
    assert "Alice Adams" in page and "Carol Clark" in page and "Bob Brown" not in page
    assert "2 people on site" in page and "Staff: 2" in page
    assert "Phone in locker </span>3 (Staff room)" in page  # Carol's own locker
    assert f"Printed by {role}" in page
    assert "490154203237518" not in page  # no IMEIs on a roll call
    assert "data-print-on-load" not in page  # only when asked to print


def test_every_office_page_has_the_roll_call_button(client, auth, web_school):
    auth.login("office")
    for url in ("/office/", "/office/lockers", "/reports/daily-log"):
        page = client.get(url, follow_redirects=True).get_data(as_text=True)
        assert 'href="/reports/roll-call?print=1" aria-keyshortcuts="Alt+R"' in page, url
        assert "Alt+R" in page, url


def test_print_asks_the_browser_to_print_and_is_audited(client, auth, web_school, app):
    scan_now(app, web_school, web_school.alice.badge_id)
    auth.login("slt")
    page = client.get("/reports/roll-call?print=1").get_data(as_text=True)
    assert "data-print-on-load" in page  # print.js prints it once loaded
    client.get("/reports/roll-call")
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.subject == "report:roll_call")
            .order_by(AuditEvent.id)).all()
        assert [(e.actor, e.action, e.detail) for e in events] == [
            ("slt", "print.roll_call", "1 record; 1 phone in lockers"),
            ("slt", "view.roll_call", "1 record; 1 phone in lockers"),
        ]


def test_empty_roll_call_says_so(client, auth, web_school):
    auth.login("office")
    page = client.get("/reports/roll-call").get_data(as_text=True)
    assert "Nobody is scanned in at a kiosk right now." in page
    assert "0 people on site" in page


def test_signed_out_and_the_kiosk_reach_no_report(client, web_school, app):
    scan_now(app, web_school, web_school.alice.badge_id)
    urls = ["/reports/", "/reports/roll-call", "/reports/roll-call?print=1",
            "/reports/daily-log", "/reports/daily-log.csv", "/reports/summaries"]
    for url in urls:  # signed out
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
    bearer = {"Authorization": f"Bearer {web_school.staff_kiosk_token}"}
    pair_browser(client)  # the kiosk's own cookie
    for url in urls:
        response = client.get(url, headers=bearer)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
        assert b"Alice Adams" not in response.data
    assert client.post("/reports/daily-log/times", headers=bearer,
                       data={"day_ends": "16:00", "early_before": "14:00"}).status_code == 302


def test_the_page_lists_the_phoneless_on_site_and_the_phones_left_apart(
        client, auth, web_school, app):
    with app.app_context(), Session(db.engine) as session:
        badge = phoneless_governor(session)
        yesterday = datetime.now(UTC) - timedelta(days=1)
        scan_code(session, web_school.staff_kiosk.id, web_school.alice.badge_id, yesterday)
        scan_code(session, web_school.staff_kiosk.id, badge)
    auth.login("office")
    page = client.get("/reports/roll-call").get_data(as_text=True)
    assert "1 person on site" in page
    assert "Gwen Hale" in page and "No phone registered" in page
    assert "1 more may have gone home, leaving a phone in a locker: not counted" in page
    gone = page[page.index('id="rc-gone"'):]
    assert "Alice Adams" in gone
    assert "Phone still in locker 1 (Staff room) since " in gone
    assert ": may have gone home" in gone
    assert "Alice Adams" not in page[:page.index('id="rc-gone"')].split("rc-counts")[-1]
