"""The incident log (register/incidents.py, kiosk/incidents.py): recorded with sentences for
what is wrong, the office sees only its own, SLT and admins all, every view and change audited,
purged once closed and past keeping, and in the person's subject access. Both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk import data_subject
from register import incidents, purge
from register.errors import NotFound, ValidationError
from register.incidents import Filters, IncidentDetails
from register.models import AuditEvent, Incident, Person, User, incident_people
from register.subject_access import subject_access
from tests.conftest import FAST_HASH, PASSWORD, pair_browser
from tests.pdf_tools import flat, reader

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2025, 3, 12, 10, 0, tzinfo=UTC)
SAFEGUARDING = ("Not for safeguarding concerns: use the school's safeguarding system and tell "
                "the Designated Safeguarding Lead (DSL) now.")


def _users(session: Session) -> dict[str, User]:
    users = {name: User(username=name, password_hash=FAST_HASH, role=role) for name, role in (
        ("office", "office"), ("office2", "office"), ("slt", "slt"), ("admin", "admin"))}
    session.add_all(users.values())
    session.flush()
    return users


def _details(school, **changes) -> IncidentDetails:
    values = {"kind": "used_on_duty", "occurred_at": NOW - timedelta(hours=1),
              "what_happened": "Seen using a phone in the playground on duty.",
              "reported_by": "Mrs Patel (TA)", "location": "Playground",
              "person_ids": [school.bob.id], "device_ids": [school.bob_phone.id]}
    return IncidentDetails(**{**values, **changes})


def _audit(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_an_incident_is_recorded_with_its_people_and_devices(session, school):
    users = _users(session)
    incident = incidents.record_incident(
        session, _details(school, person_ids=[], device_ids=[school.alice_phone.id]),
        users["office"], NOW)
    session.commit()
    assert incident.status == "open"
    assert [p.name for p in incident.people] == ["Alice Adams"]  # the phone's owner
    assert incident.devices == [school.alice_phone]
    [entry] = _audit(session, "incident.record")
    assert entry.subject == f"incident:{incident.id}"
    assert "Alice" not in entry.detail and school.alice_phone.imei not in entry.detail


@pytest.mark.parametrize(("changes", "sentence"), [
    ({"kind": "safeguarding"}, "Choose what kind of incident it was."),
    ({"occurred_at": None}, "Say when it happened."),
    ({"occurred_at": NOW + timedelta(hours=2)}, "in the future"),
    ({"what_happened": "   "}, "Say what happened, briefly."),
    ({"what_happened": "x" * 2001}, "What happened: at most 2000 characters"),
    ({"reported_by": ""}, "Say who reported it"),
    ({"person_ids": [999999]}, "no longer on the register"),
])
def test_what_is_wrong_is_said_in_a_sentence(session, school, changes, sentence):
    users = _users(session)
    with pytest.raises(ValidationError, match=sentence):
        incidents.record_incident(session, _details(school, **changes), users["office"], NOW)


def test_the_office_sees_only_its_own_and_slt_and_admins_see_all(session, school):
    users = _users(session)
    mine = incidents.record_incident(session, _details(school), users["office"], NOW)
    theirs = incidents.record_incident(session, _details(school, kind="locker_fault"),
                                       users["office2"], NOW)
    slts = incidents.record_incident(session, _details(school), users["slt"], NOW)
    session.commit()

    def listed(name: str, filters: Filters | None = None) -> list[int]:
        found = incidents.list_incidents(session, users[name], filters or Filters(), LONDON,
                                         NOW)
        return [i.id for i in found]

    assert listed("office") == [mine.id]
    assert sorted(listed("slt")) == sorted(listed("admin")) == sorted(
        [mine.id, theirs.id, slts.id])
    assert listed("slt", Filters(kind="locker_fault")) == [theirs.id]
    with pytest.raises(NotFound, match="the office sees only the incidents it recorded"):
        incidents.incident_for(session, users["office"], theirs.id, NOW)
    assert incidents.incident_for(session, users["slt"], theirs.id, NOW) is theirs
    session.commit()
    views = _audit(session, "incident.view")
    assert [(v.actor, v.subject) for v in views] == [("slt", f"incident:{theirs.id}")]
    lists = _audit(session, "incident.list")
    assert [entry.detail for entry in lists][:2] == ["1 listed", "3 listed"]


def test_action_then_close_open_ones_listed_first(session, school):
    users = _users(session)
    first = incidents.record_incident(
        session, _details(school, occurred_at=NOW - timedelta(days=3)), users["slt"],
        NOW - timedelta(days=2))
    second = incidents.record_incident(session, _details(school), users["slt"], NOW)
    with pytest.raises(ValidationError, match="Record the action taken before closing"):
        incidents.close(session, second, users["slt"], NOW)
    incidents.update_action(session, second, users["slt"], "Spoke to Bob; reminded of policy",
                            "Head teacher", "", NOW)
    incidents.close(session, second, users["slt"], NOW)
    session.commit()
    assert second.status == "closed" and second.closed_at is not None
    listed = incidents.list_incidents(session, users["slt"], Filters(), LONDON, NOW)
    assert [i.id for i in listed] == [first.id, second.id]
    assert [e.subject for e in _audit(session, "incident.close")] == [f"incident:{second.id}"]
    closed = incidents.list_incidents(session, users["slt"], Filters(status="closed"),
                                      LONDON, NOW)
    assert [i.id for i in closed] == [second.id]


def test_links_are_counted(session, school):
    users = _users(session)
    incidents.record_incident(session, _details(school), users["slt"], NOW)
    session.commit()
    assert session.scalar(select(func.count()).select_from(incident_people)) == 1
    assert session.scalar(select(func.count()).select_from(Incident)) == 1


# --- the pages ---------------------------------------------------------------------------------

def _signed_in(app, username: str):
    client = app.test_client()
    assert client.post("/login", data={"username": username,
                                       "password": PASSWORD}).status_code == 302
    return client


def _form(school, **changes) -> dict[str, object]:
    an_hour_ago = (datetime.now(LONDON) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    values = {"kind": "refused_deposit", "occurred_at": an_hour_ago,
              "location": "Staff room", "what_happened": "Would not deposit at 8:30.",
              "reported_by": "Office", "person_ids": [str(school.alice.id)]}
    return {**values, **changes}


def test_the_form_says_safeguarding_goes_elsewhere_and_records(app, web_school):
    office = _signed_in(app, "office")
    form = office.get("/incidents/new")
    assert form.status_code == 200
    assert SAFEGUARDING in form.get_data(as_text=True).replace("&#39;", "'")
    refused = office.post("/incidents/new", data=_form(web_school, what_happened=""))
    assert refused.status_code == 422
    assert "Say what happened, briefly." in refused.get_data(as_text=True)
    recorded = office.post("/incidents/new", data=_form(web_school), follow_redirects=True)
    page = recorded.get_data(as_text=True)
    assert "Refusal to deposit a phone" in page and "Alice Adams" in page
    assert "Would not deposit at 8:30." in page


def test_the_office_cannot_open_an_incident_it_did_not_record(app, web_school):
    slt = _signed_in(app, "slt")
    made = slt.post("/incidents/new", data=_form(web_school))
    ident = made.headers["Location"].rsplit("/", 1)[-1]
    office = _signed_in(app, "office")
    refused = office.get(f"/incidents/{ident}")
    assert refused.status_code == 404
    assert "the office sees only the incidents it recorded" in refused.get_data(as_text=True)
    assert office.post(f"/incidents/{ident}/close").status_code == 404
    assert "Alice" not in office.get("/incidents/").get_data(as_text=True)
    admin = _signed_in(app, "admin")
    assert "Alice Adams" in admin.get(f"/incidents/{ident}").get_data(as_text=True)
    closing = admin.post(f"/incidents/{ident}/close")
    assert closing.status_code == 422
    assert "Record the action taken before closing" in closing.get_data(as_text=True)
    admin.post(f"/incidents/{ident}/action", data={"action_taken": "Spoke to her",
                                                   "action_by": "Head", "escalated_to": ""})
    closed = admin.post(f"/incidents/{ident}/close", follow_redirects=True)
    assert "Incident " + ident + " closed." in closed.get_data(as_text=True)


def test_a_kiosk_is_refused(app, web_school):
    client = app.test_client()
    pair_browser(client)
    answer = client.get("/incidents/")
    assert answer.status_code in (302, 401, 403)
    assert "Alice" not in answer.get_data(as_text=True)


# --- retention and subject access ---------------------------------------------------------------

def test_a_closed_incident_goes_after_13_months_and_an_open_one_stays(session, school):
    users = _users(session)
    old = incidents.record_incident(session, _details(school), users["slt"], NOW)
    still_open = incidents.record_incident(session, _details(school), users["slt"], NOW)
    recent = incidents.record_incident(session, _details(school), users["slt"], NOW)
    for incident, closed_on in ((old, NOW), (recent, NOW + timedelta(days=200))):
        incidents.update_action(session, incident, users["slt"], "Spoke to Bob", "Head", "",
                                closed_on)
        incidents.close(session, incident, users["slt"], closed_on)
    session.commit()
    fourteen_months_on = NOW + timedelta(days=14 * 31)
    dry = purge.purge(session, fourteen_months_on, LONDON, dry_run=True)
    assert dry.kind("incidents").removed == {"incident": 1}
    session.rollback()
    report = purge.purge(session, fourteen_months_on, LONDON)
    session.commit()
    assert report.kind("incidents").removed == {"incident": 1}
    left = session.scalars(select(Incident.id).order_by(Incident.id)).all()
    assert left == [still_open.id, recent.id]
    linked = session.scalars(select(incident_people.c.incident_id)).all()
    assert sorted(linked) == [still_open.id, recent.id]


def test_subject_access_holds_their_incidents(session, school):
    users = _users(session)
    incident = incidents.record_incident(session, _details(school), users["office"], NOW)
    session.commit()
    export = subject_access(session, session.get_one(Person, school.bob.id), "admin",
                            NOW).as_json()
    [held] = export["incidents"]
    assert held["id"] == incident.id and held["kind"] == "Phone used on duty"
    assert held["what_happened"] == "Seen using a phone in the playground on duty."
    assert held["their_phones"] == [school.bob_phone.label_code]
    pdf = data_subject.export_pdf(subject_access(session, session.get_one(
        Person, school.bob.id), "admin", NOW), "Test Primary School", LONDON)
    text = " ".join(flat(page.extract_text()) for page in reader(pdf).pages)
    assert "Incidents · 1" in text and "Phone used on duty" in text
    assert "Seen using a phone in the playground on duty." in text
