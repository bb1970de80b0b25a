"""The ``flask --app kiosk`` commands, through Flask's CLI runner."""

import re

from kiosk import demo
from kiosk.extensions import db
from register.db import unit_of_work
from register.imei import parse_imei
from register.models import Category, Device, Locker, LockerBank, Person, User


def test_init_db_is_safe_to_run_twice(runner):
    assert "Database ready" in runner.invoke(args=["init-db"]).output
    assert runner.invoke(args=["init-db"]).exit_code == 0


def test_seed_demo_builds_a_believable_school_once(runner, app):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "Demo school created." in first.output
    codes = re.findall(r"/kiosk/pair#code=(\S+)", first.output)
    assert len(codes) == 2
    with app.app_context():
        people = db.session.scalars(db.select(Person)).all()
        assert 55 <= len(people) <= 65
        assert {p.category for p in people} == set(Category)
        assert [len(b.lockers) for b in db.session.scalars(db.select(LockerBank))] == [24, 24]
        devices = db.session.scalars(db.select(Device)).all()
        assert 45 <= len(devices) <= 60
        for device in devices:
            assert device.imei.startswith("00"), "demo IMEIs use the test reporting body"
            assert parse_imei(device.imei).imei == device.imei
    # Months of history, and still an audit trail that verifies (nothing dated back).
    verified = runner.invoke(args=["audit-verify"])
    assert verified.exit_code == 0, verified.output
    second = runner.invoke(args=["seed-demo"])
    assert "Demo data already present; kept as is." in second.output
    new_codes = re.findall(r"/kiosk/pair#code=(\S+)", second.output)
    assert set(new_codes).isdisjoint(codes), "each run prints working, fresh links"
    with app.app_context():
        assert len(db.session.scalars(db.select(Person)).all()) == len(people)


def test_demo_links_and_logins_work(runner, app, client):
    output = runner.invoke(args=["seed-demo"]).output
    code = re.findall(r"/kiosk/pair#code=(\S+)", output)[-1]  # the Staff room kiosk's
    assert client.post("/kiosk/pair", data={"code": code}).status_code == 303
    page = client.get("/kiosk").data.decode()
    sample = re.search(r'data-code="(PH[0-9A-Z]+)"', page).group(1)
    assert client.post("/kiosk/scan", json={"code": sample}).json["outcome"] == "deposited"
    response = client.post("/login", data={"username": "office", "password": demo.PASSWORD})
    assert response.status_code == 302


def test_create_user_reads_the_password_from_stdin(runner, app):
    result = runner.invoke(args=["create-user", "Head", "--role", "slt"],
                           input="a sensible passphrase\n")
    assert result.exit_code == 0, result.output
    assert "Created slt user Head." in result.output
    with app.app_context():
        user = db.session.scalars(db.select(User)).one()
        assert (user.username, user.role) == ("head", "slt")
    again = runner.invoke(args=["create-user", "head", "--role", "slt"], input="another one!!\n")
    assert again.exit_code != 0
    assert "already exists" in again.output


def test_create_user_refuses_a_short_password(runner):
    result = runner.invoke(args=["create-user", "x", "--role", "office"], input="short\n")
    assert result.exit_code != 0
    assert "at least 12 characters" in result.output


def test_create_kiosk_prints_a_working_token_once(runner, app, client):
    with app.app_context(), unit_of_work(db.session()):
        db.session.add(LockerBank(name="Hall", lockers=[Locker(number=1)]))
    result = runner.invoke(args=["create-kiosk", "Hall kiosk", "--bank", "Hall"])
    assert result.exit_code == 0, result.output
    token = re.search(r"Agent token \(shown once; for the agent's token file\): (\S+)",
                      result.output).group(1)
    code = re.search(r"Pairing code for Hall kiosk: ([0-9A-Z]{4}-[0-9A-Z]{4}) ",
                     result.output).group(1)
    assert client.post("/kiosk/pair", data={"code": code}).status_code == 303
    assert "Hall lockers" in client.get("/kiosk").get_data(as_text=True)
    response = client.post("/api/v1/scan", json={"code": "nobody"},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404  # authenticated; the code is simply unknown
    missing = runner.invoke(args=["create-kiosk", "Other", "--bank", "Nowhere"])
    assert "There is no locker bank called 'Nowhere'." in missing.output
