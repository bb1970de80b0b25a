"""The audit trail: chained by hash, checked by `audit-verify`, append-only on PostgreSQL, read
and filtered by admins on /admin/audit, and every look at a full IMEI in it."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from kiosk.extensions import db
from register import audit, schema
from register.db import configure_engine, read_only, unit_of_work
from register.models import AuditEvent, Base
from tests.conftest import LONDON

BEFORE_THE_CHAIN = "3b9e1c7d5a20"  # the revision before audit_events.entry_hash


# --- helpers -------------------------------------------------------------------------------

def verify(runner):
    return runner.invoke(args=["audit-verify"])


def entries(app) -> list[AuditEvent]:
    with app.app_context(), read_only(db.session()) as session:
        found = list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        session.expunge_all()  # readable after the read ends
        return found


def tamper(app, *statements: tuple[str, dict[str, object]]) -> None:
    """What someone with the database's password could do by hand. On PostgreSQL they must
    first switch the trigger off (a superuser's session_replication_role)."""
    with app.app_context(), db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        for statement, params in statements:
            connection.execute(text(statement), params)


def local(at: datetime) -> str:
    return at.astimezone(LONDON).strftime("%a %d %b %Y %H:%M:%S %Z")


@pytest.fixture
def office(client, auth, web_school):
    auth.login("office")
    return client


@pytest.fixture
def day(app, client, auth, web_school):
    """A normal day: the office searches, looks, edits and prints; phones go in and out at
    the kiosk; an admin changes a setting; someone mistypes a password."""
    bearer = {"Authorization": f"Bearer {web_school.staff_kiosk_token}"}
    for code in (web_school.alice_phone.label_code, web_school.bob_phone.imei):
        assert client.post("/api/v1/scan", json={"code": code}, headers=bearer).status_code == 200
    assert auth.login("office", "not the password").status_code == 401
    auth.login("office")
    client.post("/office/", data={"q": "Bob"})
    client.get(f"/office/people/{web_school.bob.id}")
    client.get(f"/office/people/{web_school.bob.id}/edit")
    client.get(f"/office/devices/{web_school.bob_phone.id}/edit")
    client.post(f"/office/people/{web_school.alice.id}/edit", data={
        "name": "Alice Adams-Smith", "category": "staff", "badge_id": "0003887558"})
    client.get(f"/print/people/{web_school.bob.id}/imei-slip")
    auth.logout()
    auth.login("admin")
    client.post("/admin/settings", data={"second_approver": ["medical"]})
    client.get("/admin/audit")
    auth.logout()
    assert client.post("/api/v1/scan", json={"code": web_school.alice_phone.label_code},
                       headers=bearer).status_code == 200
    return entries(app)


# --- the chain -----------------------------------------------------------------------------

def test_after_a_normal_day_the_chain_is_intact(app, runner, day):
    assert len(day) > 20
    assert [e.id for e in day] == list(range(day[0].id, day[0].id + len(day)))
    result = verify(runner)
    assert result.exit_code == 0, result.output
    first, last = day[0], day[-1]
    assert result.output.startswith(
        f"Audit trail intact: {len(day)} entries, first #{first.id} ({local(first.at)}")
    assert f"last #{last.id} ({local(last.at)}" in result.output
    assert last.entry_hash in result.output  # to note down and compare later


def test_each_entry_hashes_the_one_before_it_and_its_own_fields(day):
    previous = ""
    for entry in day:
        assert entry.entry_hash == audit.chain_hash(previous, entry.id, entry.at, entry.actor,
                                                    entry.action, entry.subject, entry.detail)
        previous = entry.entry_hash
    assert len({e.entry_hash for e in day}) == len(day)


def test_several_entries_in_one_transaction_chain_to_each_other(session):
    with unit_of_work(session):
        made = [audit.record(session, "office", "person.view", f"person:{n}") for n in (1, 2, 3)]
    assert [e.id for e in made] == [1, 2, 3]
    assert made[1].entry_hash == audit.chain_hash(made[0].entry_hash, 2, made[1].at, "office",
                                                  "person.view", "person:2", "")
    with read_only(session):
        assert audit.verify(session).intact


def test_a_transaction_that_fails_leaves_the_chain_as_it_was(session):
    with unit_of_work(session):
        audit.record(session, "office", "person.view", "person:1")
    with pytest.raises(ZeroDivisionError), unit_of_work(session):
        audit.record(session, "office", "person.view", "person:2")
        session.flush()
        _ = 1 / 0
    with unit_of_work(session):
        audit.record(session, "office", "person.view", "person:3")
    with read_only(session):
        result = audit.verify(session)
    assert result.intact and result.count == 2


def test_concurrent_writers_chain_in_commit_order(engine):
    """Eight writers at once, two entries a transaction: on PostgreSQL the advisory lock, on
    SQLite the write lock, make each transaction chain to the one committed before it."""
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            with Session(engine) as session:
                for i in range(10):
                    with unit_of_work(session):
                        audit.record(session, f"kiosk:{n}", "scan.time_corrected", f"w{n}:{i}")
                        audit.record(session, f"kiosk:{n}", "scan.time_clamped", f"w{n}:{i}")
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    with Session(engine) as session, read_only(session):
        result = audit.verify(session)
        assert result.intact, result.broken
        assert result.count == 160


# --- broken three ways (and a fourth) ------------------------------------------------------

def test_an_altered_entry_is_named(app, runner, day):
    view = next(e for e in day if e.action == "person.view")
    tamper(app, ("UPDATE audit_events SET actor = 'someone-else' WHERE id = :id",
                 {"id": view.id}))
    result = verify(runner)
    assert result.exit_code == 1
    assert (f"Audit trail BROKEN at entry #{view.id} ({local(view.at)}, person.view, "
            "by someone-else): it was altered") in result.output
    assert f"{view.id - day[0].id} entries before it chain correctly" in result.output


def test_a_deleted_entry_is_named_by_the_gap_it_leaves(app, runner, day):
    slip = next(e for e in day if e.action == "print.imei_slip")
    after = day[day.index(slip) + 1]
    tamper(app, ("DELETE FROM audit_events WHERE id = :id", {"id": slip.id}))
    result = verify(runner)
    assert result.exit_code == 1
    assert f"BROKEN at entry #{after.id} ({local(after.at)}, {after.action}" in result.output
    assert (f"it does not chain to #{slip.id - 1}, and the entry between them (#{slip.id}) is "
            "missing: deleted") in result.output


def test_an_entry_inserted_out_of_order_is_named_even_with_a_correct_hash(app, runner, day):
    """Someone who knows the scheme adds an entry dated three days back, hash and all."""
    last = day[-1]
    forged = {"id": last.id + 1, "at": last.at - timedelta(days=3), "actor": "office",
              "action": "person.view", "subject": "person:1", "detail": ""}
    forged["hash"] = audit.chain_hash(last.entry_hash, forged["id"], forged["at"], "office",
                                      "person.view", "person:1", "")
    tamper(app, ("INSERT INTO audit_events (id, at, actor, action, subject, detail, entry_hash)"
                 " VALUES (:id, :at, :actor, :action, :subject, :detail, :hash)",
                 {**forged, "at": forged["at"].astimezone(UTC).replace(tzinfo=None)}))
    result = verify(runner)
    assert result.exit_code == 1
    assert (f"BROKEN at entry #{last.id + 1} ({local(forged['at'])}, person.view, by office): "
            "it was inserted out of order: it is dated 3 days before an earlier entry"
            ) in result.output


def test_an_entry_written_straight_into_the_table_is_named(app, runner, web_school, day):
    """A plain INSERT (no hash), then the school carries on: the entries after it still verify
    against it, but it is named."""
    last = day[-1]
    tamper(app, ("INSERT INTO audit_events (at, actor, action, subject, detail) "
                 "VALUES (:at, 'office', 'person.view', 'person:2', '')",
                 {"at": (last.at - timedelta(hours=2)).replace(tzinfo=None)}))
    if db_is_postgres(app):
        tamper(app, ("SELECT setval(pg_get_serial_sequence('audit_events', 'id'), "
                     "(SELECT max(id) FROM audit_events))", {}))
    with app.app_context(), unit_of_work(db.session()) as session:
        audit.record(session, "office", "person.view", "person:3")
    inserted = entries(app)[-2]
    assert inserted.entry_hash == ""
    result = verify(runner)
    assert result.exit_code == 1
    assert (f"BROKEN at entry #{inserted.id} ({local(inserted.at)}, person.view, by office): "
            "it has no hash: it was written straight into the table") in result.output


def by_hand(session: Session, statement: str, **params: object) -> None:
    """SQL typed by someone with the database's password (the trigger switched off first on
    PostgreSQL, which takes a superuser)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SET LOCAL session_replication_role = replica"))
    connection.execute(text(statement), params)


def three_entries(session: Session) -> list[AuditEvent]:
    made = []
    for n in (1, 2, 3):
        with unit_of_work(session):
            made.append(audit.record(session, "office", "person.view", f"person:{n}"))
    return made


def test_an_entry_slipped_in_by_renumbering_the_ones_after_it_is_named(session):
    """To put an entry between #1 and #2, #2 and #3 become #3 and #4: the forged entry's hash
    follows #1, but a hash covers its entry's id, so the renumbered ones give it away."""
    one, _two, _three = three_entries(session)
    by_hand(session, "UPDATE audit_events SET id = id + 10 WHERE id > 1")
    by_hand(session, "UPDATE audit_events SET id = id - 9 WHERE id > 10")
    at = one.at + timedelta(seconds=1)
    by_hand(session, "INSERT INTO audit_events (id, at, actor, action, subject, detail, "
                     "entry_hash) VALUES (2, :at, 'office', 'person.view', 'person:9', '', :hash)",
            at=at.replace(tzinfo=None), hash=audit.chain_hash(
                one.entry_hash, 2, at, "office", "person.view", "person:9", ""))
    session.commit()
    with read_only(session):
        result = audit.verify(session)
    assert result.broken is not None and result.count == 1
    assert (result.broken.entry.id, result.broken.entry.subject) == (2, "person:9")
    assert result.broken.problem == (
        "it was inserted out of order: the entries after it were renumbered to make room "
        "(#3 was #2, and chains to #1)")


def test_an_entry_slipped_into_a_gap_in_the_ids_is_named(session):
    """On PostgreSQL a transaction that rolls back after writing an entry leaves its id
    unused (a sequence never goes back): someone could fill the gap later."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite leaves no gap in the ids: the renumbering test covers SQLite")
    with unit_of_work(session):
        one = audit.record(session, "office", "person.view", "person:1")
    with pytest.raises(ZeroDivisionError), unit_of_work(session):
        audit.record(session, "office", "person.view", "person:2")
        session.flush()
        _ = 1 / 0
    with unit_of_work(session):
        three = audit.record(session, "office", "person.view", "person:3")
    assert three.id == one.id + 2
    at = one.at + timedelta(seconds=1)
    by_hand(session, "INSERT INTO audit_events (id, at, actor, action, subject, detail, "
                     "entry_hash) VALUES (:id, :at, 'office', 'person.view', 'person:9', '', "
                     ":hash)", id=one.id + 1, at=at.replace(tzinfo=None), hash=audit.chain_hash(
                         one.entry_hash, one.id + 1, at, "office", "person.view", "person:9", ""))
    session.commit()
    with read_only(session):
        result = audit.verify(session)
    assert result.broken is not None
    assert result.broken.entry.id == one.id + 1
    assert result.broken.problem == (f"it was inserted out of order: the entry after it "
                                     f"(#{three.id}) chains straight to #{one.id}")


def db_is_postgres(app) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "postgresql"


def test_an_empty_trail_is_intact(runner, app):
    result = verify(runner)
    assert result.exit_code == 0
    assert result.output.startswith("Audit trail intact: 0 entries")


# --- append-only on PostgreSQL -------------------------------------------------------------

def test_postgresql_refuses_to_change_or_delete_an_entry(app, day):
    if not db_is_postgres(app):
        pytest.skip("the trigger is PostgreSQL's; SQLite runs on the kiosk's own Pi")
    for statement in ("UPDATE audit_events SET detail = 'nothing to see' WHERE id = :id",
                      "DELETE FROM audit_events WHERE id = :id"):
        with pytest.raises(DBAPIError, match="audit entries cannot be changed or deleted"), \
                app.app_context(), db.engine.begin() as connection:
            connection.execute(text(statement), {"id": day[3].id})
    assert [(e.id, e.detail) for e in entries(app)] == [(e.id, e.detail) for e in day]


# --- the migration -------------------------------------------------------------------------

def test_the_migration_chains_the_entries_already_there(database_url_for_test):
    engine = create_engine(database_url_for_test)
    configure_engine(engine)
    Base.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    try:
        with engine.begin() as connection:
            command.upgrade(schema._config(connection), BEFORE_THE_CHAIN)
            for n in range(1, 8):
                connection.execute(text(
                    "INSERT INTO audit_events (at, actor, action, subject, detail) "
                    "VALUES (:at, 'office', 'person.view', :subject, 'é ✓')"),
                    {"at": datetime(2026, 11, 20, 8, n, 0, 123456), "subject": f"person:{n}"})
        schema.upgrade(engine)
        with Session(engine) as session:
            with read_only(session):
                result = audit.verify(session)
            assert result.intact and result.count == 7
            with unit_of_work(session):  # and the chain carries on from them
                audit.record(session, "office", "person.view", "person:8")
            with read_only(session):
                assert audit.verify(session).count == 8
        if engine.dialect.name == "postgresql":
            with pytest.raises(DBAPIError, match="cannot be changed or deleted"), \
                    engine.begin() as connection:
                connection.execute(text("DELETE FROM audit_events"))
    finally:
        Base.metadata.drop_all(engine)
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        Base.metadata.create_all(engine)
        engine.dispose()


# --- the admin page ------------------------------------------------------------------------

def audit_page(client, **filters) -> str:
    response = client.get("/admin/audit", query_string=filters)
    assert response.status_code == 200, response.status_code
    return response.data.decode()


def rows(page: str) -> list[list[str]]:
    """The table's rows, as the text of their cells: when, who, what, record, detail, entry."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return [[re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip()
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in body.split("<tr>")[1:]]


@pytest.fixture
def admin(client, auth, day):
    auth.login("admin")
    return client


def test_the_admin_page_lists_everything_newest_first_with_the_count(admin, day):
    page = audit_page(admin)
    total = len(day) + 1  # and the admin's sign-in just now
    assert f"<strong>{total}</strong> entries, newest first" in page
    listed = rows(page)
    assert len(listed) == total
    assert listed[0][1:4] == ["admin", "signin", "user:admin"]
    assert [int(row[5]) for row in listed] == sorted((int(row[5]) for row in listed),
                                                     reverse=True)
    assert listed[-1][0] == day[0].at.astimezone(LONDON).strftime("%a %d %b %Y, %H:%M:%S")


def test_the_admin_page_filters_by_who_what_and_which_record(admin, web_school, day):
    by_office = rows(audit_page(admin, who="office"))
    assert by_office and {row[1] for row in by_office} == {"office"}
    assert len(by_office) == len([e for e in day if "office" in e.actor])
    edits = rows(audit_page(admin, what="device.edit_form"))
    assert [row[2:4] for row in edits] == [["device.edit_form",
                                            f"device:{web_school.bob_phone.id}"]]
    about_bob = rows(audit_page(admin, record=f"person:{web_school.bob.id}"))
    assert {row[2] for row in about_bob} == {"person.add", "person.view", "person.edit_form",
                                             "print.imei_slip"}
    page = audit_page(admin, what="person.view", who="OFFICE")
    assert "<strong>1</strong> entry matches" in page


def test_the_what_choice_offers_the_actions_present(admin):
    page = audit_page(admin)
    choices = re.findall(r'<option value="([a-z_.]+)"', page)
    assert choices == sorted(choices)
    assert {"person.view", "device.edit_form", "signin", "signin.failed"} <= set(choices)
    assert "export.register_csv" not in choices  # nobody exported today


def test_the_admin_page_filters_by_the_schools_dates(app, admin):
    """Entries at 23:30 UTC on 31 October are 1 November in London only once the clocks go
    back; in June 23:30 UTC is already the next day in London."""
    with app.app_context(), unit_of_work(db.session()) as session:
        audit.record(session, "office", "person.view", "person:7",
                     at=datetime(2026, 6, 30, 23, 30, tzinfo=UTC))  # 1 July 00:30 in London
        audit.record(session, "office", "person.view", "person:8",
                     at=datetime(2026, 7, 1, 22, 59, tzinfo=UTC))  # 1 July 23:59 in London
        audit.record(session, "office", "person.view", "person:9",
                     at=datetime(2026, 7, 1, 23, 0, tzinfo=UTC))  # 2 July in London
    july_first = rows(audit_page(admin, **{"from": "2026-07-01", "to": "2026-07-01"}))
    assert [row[3] for row in july_first] == ["person:8", "person:7"]
    assert july_first[0][0] == "Wed 01 Jul 2026, 23:59:00"
    assert len(rows(audit_page(admin, **{"from": "2026-07-02", "to": "2026-07-02"}))) == 1


def test_a_date_that_is_not_one_gets_a_sentence(admin):
    response = admin.get("/admin/audit", query_string={"from": "2026-13-01"})
    assert response.status_code == 400
    assert "“From” must be a date, such as 2026-12-05." in response.data.decode()
    response = admin.get("/admin/audit", query_string={"from": "2026-12-05", "to": "2026-12-01"})
    assert response.status_code == 400
    assert "The “from” date is after the “to” date" in response.data.decode()


def test_the_page_is_paginated_a_hundred_at_a_time(app, admin):
    with app.app_context(), unit_of_work(db.session()) as session:
        for n in range(230):
            audit.record(session, "office", "register.search", "", f"{n} people listed")
    first = audit_page(admin, what="register.search")
    assert "page 1 of 3" in first and len(rows(first)) == 100
    third = audit_page(admin, what="register.search", page=3)
    assert len(rows(third)) == 231 - 200
    assert "← Newer" in third and "Older →" not in third
    assert "what=register.search" in third  # the pager keeps the filter


def test_looking_at_the_trail_is_itself_recorded(app, admin, web_school):
    audit_page(admin, who="office", record=f"person:{web_school.bob.id}")
    audit_page(admin, record="490154203237518")  # someone types an IMEI into the box
    views = [e for e in entries(app) if e.action == "audit.view"]
    assert views[-2].actor == "admin"
    assert views[-2].detail.startswith(f"who 'office', record 'person:{web_school.bob.id}'; ")
    assert "490154203237518" not in views[-1].detail
    assert "entries, page 1" in views[-2].detail


def test_only_admins_see_the_trail(client, auth, web_school):
    for role in ("office", "slt"):
        auth.login(role)
        assert client.get("/admin/audit").status_code == 403
        auth.logout()
    assert "/login" in client.get("/admin/audit").headers["Location"]


# --- every look at a full IMEI -------------------------------------------------------------

def test_opening_the_edit_forms_is_recorded(app, office, web_school):
    bob, phone = web_school.bob, web_school.bob_phone
    assert phone.imei in office.get(f"/office/devices/{phone.id}/edit").data.decode()
    office.get(f"/office/people/{bob.id}/edit")
    latest = entries(app)[-2:]
    assert [(e.actor, e.action, e.subject, e.detail) for e in latest] == [
        ("office", "device.edit_form", f"device:{phone.id}", f"person:{bob.id}"),
        ("office", "person.edit_form", f"person:{bob.id}", ""),
    ]


def test_a_form_for_nobody_records_nothing(app, office):
    before = len(entries(app))
    assert office.get("/office/devices/9999/edit").status_code == 404
    assert office.get("/office/people/9999/edit").status_code == 404
    assert len(entries(app)) == before


# The person page shows the last four digits since issue 11 (its Show is recorded apart:
# tests/test_masked_imei.py).
@pytest.mark.parametrize("path", [
    "/office/devices/{phone}/edit", "/print/people/{bob}/imei-slip",
    "/print/devices/{phone}/lost-report", "/print/register", "/print/register.pdf",
    "/print/register.csv",
])
def test_every_page_with_a_full_imei_is_recorded(app, office, web_school, path):
    url = path.format(bob=web_school.bob.id, phone=web_school.bob_phone.id)
    before = len(entries(app))
    response = office.get(url)
    assert response.status_code == 200
    if not url.endswith(".pdf"):  # the PDF's text is compressed
        assert web_school.bob_phone.imei in response.data.decode("utf-8-sig")
    new = entries(app)[before:]
    assert [e.actor for e in new] == ["office"], [e.action for e in new]
    assert web_school.bob_phone.imei not in new[0].detail + new[0].subject


def test_the_import_preview_is_recorded(app, office):
    """The preview shows each row's IMEIs: who looked, and how many rows."""
    response = office.post("/office/import", data={
        "text": "name,category,imei\nDan Dale,staff,356938035643809\n"})
    assert response.status_code == 200 and "356938035643809" in response.data.decode()
    last = entries(app)[-1]
    assert (last.actor, last.action, last.detail) == (
        "office", "register.import_preview", "1 row shown")


# --- office search: IMEIs never in a URL ---------------------------------------------------

def test_a_search_by_imei_is_posted_and_finds_the_phone(app, office, web_school):
    page = office.get("/office/").data.decode()
    form = re.search(r'<form method="(\w+)" action="([^"]*)" class="filters" role="search">',
                     page)
    assert form is not None and form.groups() == ("post", "/office/")
    response = office.post("/office/", data={"q": "3541 7803 6859 789"})
    assert response.status_code == 200
    assert response.request.url == "http://localhost/office/"
    found = response.data.decode()
    assert "Bob Brown" in found and "Alice Adams" not in found
    assert "found for your search" in found
    search = entries(app)[-1]
    assert (search.action, search.detail) == ("register.search",
                                              "1 person listed; searched by text")


def test_a_search_in_the_url_is_not_run(office):
    """An old bookmark or a typed ?q= shows everyone: a search only ever comes in a POST."""
    page = office.get("/office/", query_string={"q": "354178036859789"}).data.decode()
    assert "Alice Adams" in page and "Bob Brown" in page
    assert "354178036859789" not in page


def test_category_and_left_filters_still_work_by_link(app, office):
    with app.app_context(), unit_of_work(db.session()):
        from register import people
        people.add_person(db.session, people.PersonDetails("Gwen Governor", "governor"), "t")
    page = office.get("/office/?category=governor").data.decode()
    assert "Gwen Governor" in page and "Alice Adams" not in page
    with app.app_context(), read_only(db.session()) as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) > 0
