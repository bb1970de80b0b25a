"""Setting up SLT: ``create-user --person/--email``, and the demo school's SLT and requests."""

from __future__ import annotations

import re

from sqlalchemy import select

from kiosk import demo
from kiosk.extensions import db
from register.db import unit_of_work
from register.models import AuditEvent, ExceptionRequest, Person, User


def test_create_user_links_the_user_to_a_person_and_an_address(runner, app, web_school):
    result = runner.invoke(args=["create-user", "cclark", "--role", "slt", "--person",
                                 "carol  CLARK", "--email", "c.clark@school.example"],
                           input="a sensible passphrase\n")
    assert result.exit_code == 0, result.output
    assert "Created slt user cclark, who is Carol Clark on the register." in result.output
    with app.app_context():
        user = db.session.scalars(select(User).where(User.username == "cclark")).one()
        assert (user.person_id, user.email) == (web_school.carol.id, "c.clark@school.example")
        assert db.session.scalars(select(AuditEvent.detail).where(
            AuditEvent.action == "user.link")).one() == f"person:{web_school.carol.id}"


def test_create_user_refuses_a_person_it_cannot_find_before_asking_for_a_password(
        runner, app, web_school):
    unknown = runner.invoke(args=["create-user", "x1", "--role", "slt", "--person", "Dana"],
                            input="a sensible passphrase\n")
    assert unknown.exit_code != 0
    assert "Nobody called Dana is on the register" in unknown.output
    with app.app_context(), unit_of_work(db.session()):
        db.session.add(Person(name="Alice Adams", category="governor"))
    twice = runner.invoke(args=["create-user", "x2", "--role", "slt", "--person", "Alice Adams"],
                          input="a sensible passphrase\n")
    assert "2 people are called Alice Adams" in twice.output
    bad = runner.invoke(args=["create-user", "x3", "--role", "slt", "--email", "head at school"],
                        input="a sensible passphrase\n")
    assert "head at school does not look like an email address." in bad.output
    with app.app_context():
        assert db.session.scalars(select(User).where(User.username.like("x%"))).all() == []


def test_demo_school_has_two_slt_members_and_a_queue_to_decide(runner, app, client):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    with app.app_context():
        requests = db.session.scalars(select(ExceptionRequest)).all()
        assert sorted(r.status for r in requests) == ["approved", "pending", "pending",
                                                      "pending"]
        slt, deputy = (db.session.scalars(select(User).where(User.username == name)).one()
                       for name in ("slt", "deputy"))
        assert slt.person_id and deputy.person_id and slt.person_id != deputy.person_id
        own = next(r for r in requests if r.person_id == slt.person_id)
        assert (own.category, own.approvals_needed) == ("caring", 2)
    client.post("/login", data={"username": "slt", "password": demo.PASSWORD})
    html = client.get("/slt/").get_data(as_text=True)
    assert "<title>(3) SLT · " in html
    assert "Another SLT member must decide this" in html and "0 of 2 approvals" in html
    assert "Silent; answered only in the corridor or the staff room" in html
    assert len(re.findall(r">\s*Approve</button>", html)) == 2  # not on slt's own request
