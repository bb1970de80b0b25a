"""Finding people as they are written (issue 10): case, accents and spacing do not matter, on
SQLite and PostgreSQL alike; as you type, by POST; and a second person of the same name is a
question, not a silent duplicate."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kiosk.extensions import db
from register import importer, people
from register.db import unit_of_work
from register.models import AuditEvent, Person

NAMES = ["Łukasz Żółć", "Zoë Ó Súilleabháin", "Siobhán Murphy", "Zoe Smith", "ZOLTAN Kiss",
         "Mohammed Al-Amin", "محمد الأحمد"]


def add(session, name: str, category: str = "staff", badge: str | None = None) -> Person:
    return people.add_person(session, people.PersonDetails(name, category, badge), "test")


def names(session, query: str, **options) -> list[str]:
    return [p.name for p in people.search_people(session, query, **options)]


@pytest.fixture
def register(session, school):
    with unit_of_work(session):
        for name in NAMES:
            add(session, name)
    return session


@pytest.mark.parametrize(("query", "found"), [
    ("Łukasz Żółć", ["Łukasz Żółć"]),
    ("łukasz", ["Łukasz Żółć"]),
    ("Lukasz", ["Łukasz Żółć"]),
    ("Zolc", ["Łukasz Żółć"]),
    ("ŻÓŁĆ", ["Łukasz Żółć"]),
    ("zolc  lukasz", ["Łukasz Żółć"]),  # every word, in any order, however spaced
    ("Zoe", ["Zoë Ó Súilleabháin", "Zoe Smith"]),  # in the order of the folded name
    ("zoë", ["Zoë Ó Súilleabháin", "Zoe Smith"]),
    ("siobhan", ["Siobhán Murphy"]),
    ("SIOBHÁN", ["Siobhán Murphy"]),
    ("suilleabhain", ["Zoë Ó Súilleabháin"]),
    ("o suill", ["Zoë Ó Súilleabháin"]),
    ("al-amin", ["Mohammed Al-Amin"]),
    ("محمد", ["محمد الأحمد"]),
    ("zol", ["Łukasz Żółć", "ZOLTAN Kiss"]),
])
def test_names_are_found_as_people_write_them(register, query, found):
    assert names(register, query) == found


def test_wildcards_typed_are_letters_not_patterns(register):
    assert names(register, "%") == []
    assert names(register, "_") == []
    assert names(register, "Zo_") == []


def test_badge_label_and_imei_digits_still_find_people(register, school):
    assert names(register, school.bob.badge_id) == ["Bob Brown"]
    assert names(register, school.carol_phone.label_code.lower()) == ["Carol Clark"]
    assert names(register, "4901 5420") == ["Alice Adams"]


def test_people_who_left_are_found_only_when_asked_for(register):
    with unit_of_work(register):
        zoe = register.scalars(select(Person).where(Person.name == "Zoe Smith")).one()
        people.mark_left(register, zoe, "test", "moved school")
    assert names(register, "zoe") == ["Zoë Ó Súilleabháin"]
    assert names(register, "zoe", include_left=True) == ["Zoë Ó Súilleabháin", "Zoe Smith"]


def test_every_way_in_keeps_the_search_name(session, school):
    """The form, an edit, and the importer's batch insert all store the searchable name."""
    with unit_of_work(session):
        person = add(session, "Zoë Adams")
        people.update_person(session, person, people.PersonDetails(
            "Siobhán Adams", "staff"), "test")
    csv_text = ("name,category,imei\n"
                "Łukasz Żółć,Staff,\n"
                "Ève Müller,Volunteer,260531793113837\n")
    with unit_of_work(session):
        importer.apply_import(session, csv_text, "test")
    stored = {name: folded for name, folded in session.execute(
        select(Person.name, Person.search_name))}
    assert stored["Siobhán Adams"] == "siobhan adams"
    assert stored["Łukasz Żółć"] == "lukasz zolc"
    assert stored["Ève Müller"] == "eve muller"
    assert names(session, "zoe") == []
    assert names(session, "siobhan") == ["Siobhán Adams"]
    assert names(session, "lukasz") == ["Łukasz Żółć"]
    assert names(session, "eve muller") == ["Ève Müller"]


# --- a second person of the same name --------------------------------------------------------

def test_a_second_person_of_the_same_name_is_a_question(session, school):
    with unit_of_work(session), pytest.raises(people.PossibleDuplicate) as asked:
        add(session, "ALICE  adams", "governor")
    assert str(asked.value).startswith(
        "There is already someone called Alice Adams on the register (Staff, badge 0003887558).")
    with unit_of_work(session):
        add_anyway = people.add_person(session, people.PersonDetails(
            "Alice Adams", "governor"), "test", confirmed_different=True)
    assert add_anyway.id is not None
    with unit_of_work(session), pytest.raises(people.PossibleDuplicate) as again:
        add(session, "Alice Adams")
    assert str(again.value).startswith("There are already 2 people called Alice Adams (Staff, "
                                       "badge 0003887558; Governor, no badge).")


def test_renaming_to_someone_elses_name_is_a_question_too(session, school):
    details = people.PersonDetails("Alice Adams", "staff", school.bob.badge_id)
    with unit_of_work(session), pytest.raises(people.PossibleDuplicate):
        people.update_person(session, school.bob, details, "test")
    with unit_of_work(session):  # the same name, saved again: nothing to ask
        people.update_person(session, school.alice, people.PersonDetails(
            "Alice Adams", "staff", school.alice.badge_id), "test")


# --- the office's pages ----------------------------------------------------------------------

@pytest.fixture
def office(client, auth, web_school, app):
    with app.app_context(), unit_of_work(db.session()) as session:
        for name in NAMES:
            add(session, name)
    auth.login("office")
    return client


def last_audit(app) -> AuditEvent:
    with app.app_context():
        return db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()


def test_the_office_search_finds_accented_names(office):
    page = office.post("/office/", data={"q": "zolc"}).data.decode()
    assert "Łukasz Żółć" in page and "Alice Adams" not in page
    assert "1 person found for your search." in page


def test_search_as_you_type_answers_a_post_with_the_rows(office, app):
    answer = office.post("/office/search.json", data={"q": "siobhan"},
                         headers={"Accept": "application/json"})
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["count"] == 1 and body["summary"] == "1 person found for your search."
    assert "Siobhán Murphy" in body["html"] and "Alice Adams" not in body["html"]
    assert answer.headers["Cache-Control"].startswith("no-store")
    entry = last_audit(app)
    assert (entry.action, entry.detail) == (
        "register.search", "1 person listed; searched by text as you type")
    by_imei = office.post("/office/search.json", data={"q": "354178036859789"}).get_json()
    assert "Bob Brown" in by_imei["html"]
    assert "354178036859789" not in by_imei["html"]  # the table never shows an IMEI
    assert office.get("/office/search.json?q=bob").status_code == 405  # never in a URL


def test_the_search_box_says_where_it_searches_as_you_type(office):
    page = office.get("/office/").data.decode()
    assert 'data-live-search="/office/search.json"' in page
    assert "/static/search.js" in page


def test_record_a_request_finds_people_as_you_type(office, app, web_school):
    body = office.post("/requests/people", data={"q": "zoe"},
                       headers={"Accept": "application/json"}).get_json()
    assert body["count"] == 2
    assert "Zoë Ó Súilleabháin" in body["html"] and "Zoe Smith" in body["html"]
    assert body["summary"] == "2 matches: choose who the request is for."
    assert last_audit(app).action == "requests.person_search"
    nobody = office.post("/requests/people", data={"q": "xyzzy"},
                         headers={"Accept": "application/json"}).get_json()
    assert nobody["count"] == 0 and nobody["summary"] == "Nobody on the register matches “xyzzy”."


def test_record_a_request_search_works_without_the_script(office):
    """The form posts (nothing typed reaches a URL) and the page lists who matches."""
    page = office.get("/requests/new").data.decode()
    assert 'action="/requests/people"' in page and 'method="post"' in page
    found = office.post("/requests/people", data={"q": "LUKASZ"}).data.decode()
    assert "Łukasz Żółć" in found and "1 match: choose who the request is for." in found


def test_slt_may_search_for_a_request_but_not_the_register(client, auth, web_school):
    auth.login("slt")
    assert client.post("/requests/people", data={"q": "alice"},
                       headers={"Accept": "application/json"}).get_json()["count"] == 1
    assert client.post("/office/search.json", data={"q": "alice"}).status_code == 403


def test_adding_a_duplicate_name_asks_first(office, app, web_school):
    asked = office.post("/office/people/new", data={"name": "Alice  ADAMS", "category": "staff"})
    assert asked.status_code == 422
    page = asked.data.decode()
    assert ("There is already someone called Alice Adams on the register (Staff, badge "
            "0003887558).") in page
    assert 'name="different_person" value="1"' in page
    assert f'href="/office/people/{web_school.alice.id}"' in page
    added = office.post("/office/people/new", data={
        "name": "Alice  ADAMS", "category": "staff", "different_person": "1"})
    assert added.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Person).where(
            Person.search_name == "alice adams")) == 2


def test_a_long_list_as_you_type_says_how_much_is_shown(office, monkeypatch):
    import kiosk.office
    monkeypatch.setattr(kiosk.office, "MAX_SHOWN", 2)
    body = office.post("/office/search.json", data={"q": ""}).get_json()
    assert body["count"] == 3 + len(NAMES)
    assert body["summary"] == (f"{3 + len(NAMES)} people: the first 2 are shown. Type more to "
                               "narrow the list, or press Search to list them all.")
    assert body["html"].count("<tr>") == 2
