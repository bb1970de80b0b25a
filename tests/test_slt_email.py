"""Email to SLT about a new request, through a real SMTP server on a loopback port (aiosmtpd)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import date
from email import message_from_bytes
from email.message import Message
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.extensions import db
from register import notify
from register.models import ExceptionRequest, User, utc_now
from tests.conftest import FAST_HASH, pair_browser
from tests.servers import free_port


def today() -> date:
    return utc_now().astimezone(ZoneInfo("Europe/London")).date()


class Inbox:
    """What the SMTP server accepted: (envelope recipients, parsed message)."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd calls it so
        self.received.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def wait_for(condition: Callable[[], object], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def slt_with_email(app, web_school) -> None:
    with app.app_context(), Session(db.engine) as session:
        session.scalars(select(User).where(User.username == "slt")).one().email = \
            "head@school.example"
        session.scalars(select(User).where(User.username == "office")).one().email = \
            "office@school.example"  # not SLT: never told
        session.add_all([
            User(username="deputy", password_hash=FAST_HASH, role="slt",
                 email="deputy@school.example"),
            User(username="former", password_hash=FAST_HASH, role="slt", active=False,
                 email="former@school.example"),
            User(username="quiet", password_hash=FAST_HASH, role="slt")])  # no address
        session.commit()


def record_request(client, auth, web_school, user: str = "office"):
    auth.login(user)
    return client.post("/requests/new", data={
        "person_id": web_school.alice.id, "category": "emergency",
        "reason": "Her son is in hospital", "when": "range",
        "range_from": today().isoformat(), "range_to": today().isoformat()})


PUBLIC_URL = "https://phones.school.example"


def test_a_new_request_is_emailed_to_slt_with_only_a_name_and_a_link(
        app, client, auth, web_school, slt_with_email, smtp_server):
    inbox, port = smtp_server
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(port),
                      SMTP_FROM="phones@school.example", PUBLIC_URL=PUBLIC_URL)
    assert record_request(client, auth, web_school).status_code == 302
    wait_for(lambda: len(inbox.received) == 2)
    assert sorted(to for to, _ in inbox.received) == [["deputy@school.example"],
                                                      ["head@school.example"]]
    _, message = inbox.received[0]
    assert message["Subject"] == "Phone exception request: Alice Adams"
    assert message["From"] == "phones@school.example"
    body = message.get_payload(decode=True).decode()
    assert "Alice Adams is waiting for an SLT decision" in body
    assert "https://phones.school.example/slt/" in body
    assert "localhost" not in body  # the address the request came in on is never used
    for private in ("hospital", "emergency", "Family", today().isoformat(), "Staff"):
        assert private not in body and private not in message["Subject"]


def test_whoever_records_it_is_not_emailed_and_public_url_makes_the_link(
        app, client, auth, web_school, slt_with_email, smtp_server):
    inbox, port = smtp_server
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(port),
                      PUBLIC_URL="https://phones.school.example/")
    record_request(client, auth, web_school, user="slt")
    wait_for(lambda: inbox.received)
    time.sleep(0.2)  # nothing else is coming
    [(to, message)] = inbox.received
    assert to == ["deputy@school.example"]
    assert "https://phones.school.example/slt/" in message.get_payload(decode=True).decode()


def test_without_public_url_no_email_is_sent_whatever_the_host_header(
        app, client, auth, web_school, slt_with_email, smtp_server, caplog):
    inbox, port = smtp_server
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(port), PUBLIC_URL="")
    client.environ_base["HTTP_HOST"] = "127.0.0.1"  # trusted, but not for links in emails
    with caplog.at_level(logging.ERROR, logger="kiosk.slt"):
        assert record_request(client, auth, web_school).status_code == 302
    time.sleep(0.2)
    assert inbox.received == []
    assert "PUBLIC_URL is not set: no email to SLT" in caplog.text


def test_an_unreachable_mail_server_never_fails_the_request(
        app, client, auth, web_school, slt_with_email, caplog):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(free_port()),  # nothing listens
                      PUBLIC_URL=PUBLIC_URL)
    with caplog.at_level(logging.ERROR, logger="register.notify"):
        response = record_request(client, auth, web_school)
        assert response.status_code == 302
        wait_for(lambda: "email to SLT not sent via 127.0.0.1" in caplog.text)
    with app.app_context():
        assert db.session.scalars(select(ExceptionRequest.status)).one() == "pending"


def test_without_smtp_settings_nothing_is_sent(app, client, auth, web_school, slt_with_email,
                                               smtp_server, monkeypatch):
    inbox, _ = smtp_server
    monkeypatch.delenv("SMTP_HOST", raising=False)
    assert record_request(client, auth, web_school).status_code == 302
    time.sleep(0.2)
    assert inbox.received == []


def test_a_password_is_never_sent_without_tls(smtp_server, caplog):
    inbox, port = smtp_server
    settings = notify.SmtpSettings("127.0.0.1", port, "mailer", "secret", "phones@school.example")
    message = notify.request_message("Alice Adams", "http://x/slt/", "School", settings.sender,
                                     "head@school.example")
    with caplog.at_level(logging.ERROR, logger="register.notify"):
        assert notify.send(settings, [message]) == 0
    assert "the SMTP password is never sent in clear" in caplog.text
    assert inbox.received == []


def test_settings_from_the_environment():
    assert notify.SmtpSettings.from_mapping({}) is None
    assert notify.SmtpSettings.from_mapping({"SMTP_HOST": "mail", "SMTP_PORT": "25x"}) is None
    settings = notify.SmtpSettings.from_mapping({"SMTP_HOST": " mail.school.example ",
                                                  "SMTP_USER": "phones@school.example",
                                                  "SMTP_PASSWORD": "pw"})
    assert settings == notify.SmtpSettings("mail.school.example", 587, "phones@school.example",
                                           "pw", "phones@school.example")
    assert notify.SmtpSettings.from_mapping({"SMTP_HOST": "mail", "SMTP_PORT": "465"}).sender \
        == "phone-register@mail"


def test_a_request_made_at_the_kiosk_is_emailed_too(
        app, client, web_school, slt_with_email, smtp_server):
    inbox, port = smtp_server
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(port), PUBLIC_URL=PUBLIC_URL)
    pair_browser(client)
    response = client.post("/kiosk/exception-request", json={
        "code": web_school.alice.badge_id, "category": "emergency",
        "reason": "Son ill at home", "ends_on": today().isoformat()})
    assert response.status_code == 201
    wait_for(lambda: len(inbox.received) == 2)
    _, message = inbox.received[0]
    assert message["Subject"] == "Phone exception request: Alice Adams"
    assert "ill" not in message.get_payload(decode=True).decode()
