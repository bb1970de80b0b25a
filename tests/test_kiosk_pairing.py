"""Pairing a kiosk's browser with a one-time code, and revoking a kiosk: the service layer
first (an injected clock), then the pages, the cookie and the commands."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from kiosk.extensions import db
from register import kiosks
from register.db import unit_of_work
from register.models import AgentHeartbeat, AuditEvent, Deposit, Kiosk
from tests.conftest import new_pairing_code, pair_browser

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def start(session, kiosk, now=T0) -> kiosks.PairingCode:
    with unit_of_work(session):
        return kiosks.start_pairing(session, session.get(Kiosk, kiosk.id), "admin", now)


def pair(session, code: str, now=T0, address="10.0.0.7") -> kiosks.Pairing:
    with unit_of_work(session):
        return kiosks.pair_browser(session, code, address, now)


def browser_kiosk(session, token):
    return kiosks.kiosk_for_token(session, token, browser=True)


# --- the service layer ----------------------------------------------------------------------

def test_a_code_pairs_one_browser_once(session, school):
    code = start(session, school.staff_kiosk)
    assert re.fullmatch(r"[23456789ABCDEFGHJKMNPQRSTVWXYZ]{8}", code.code)
    assert code.grouped == f"{code.code[:4]}-{code.code[4:]}"
    assert code.expires_at == T0 + timedelta(minutes=10)
    assert code.agent_token is None, "the agent's token is untouched"

    paired = pair(session, code.code.lower()[:4] + " - " + code.code[4:], T0)  # typed loosely
    assert (paired.kiosk_name, paired.reason) == ("Staff kiosk", "")
    assert browser_kiosk(session, paired.browser_token).id == school.staff_kiosk.id

    again = pair(session, code.code, T0 + timedelta(seconds=5))
    assert (again.browser_token, again.reason) == (None, kiosks.BAD_CODE)
    assert again.refusal == ("That pairing code is not right, or it has already been used. "
                             "Check it and try again, or ask the office for a new one.")


def test_a_code_lasts_ten_minutes(session, school):
    code = start(session, school.staff_kiosk)
    late = pair(session, code.code, T0 + timedelta(minutes=10))
    assert (late.browser_token, late.reason) == (None, kiosks.EXPIRED_CODE)
    assert late.refusal == ("That pairing code has expired: codes last 10 minutes. Ask the "
                            "office for a new one.")
    code = start(session, school.staff_kiosk)
    assert pair(session, code.code, T0 + timedelta(minutes=9, seconds=59)).browser_token


def test_only_hashes_are_kept_and_the_audit_trail_names_no_secret(session, school):
    code = start(session, school.staff_kiosk)
    paired = pair(session, code.code)
    kiosk = session.get(Kiosk, school.staff_kiosk.id)
    session.refresh(kiosk)
    assert kiosk.browser_token_hash == kiosks.hash_token(paired.browser_token)
    assert kiosk.pairing_code_hash is None, "a used code is cleared"
    trail = " ".join(f"{e.actor} {e.action} {e.subject} {e.detail}"
                     for e in session.scalars(select(AuditEvent)))
    assert "kiosk.pairing_code" in trail and "kiosk.pair " in trail
    for secret in (code.code, code.grouped, paired.browser_token, school.staff_kiosk_token):
        assert secret not in trail


def test_pairing_a_new_browser_unpairs_the_old_one(session, school):
    first = pair(session, start(session, school.staff_kiosk).code)
    second_code = start(session, school.staff_kiosk)
    assert browser_kiosk(session, first.browser_token) is not None, \
        "a code waiting changes nothing until it is used"
    second = pair(session, second_code.code)
    assert browser_kiosk(session, first.browser_token) is None
    assert browser_kiosk(session, second.browser_token).id == school.staff_kiosk.id


def test_a_new_code_replaces_an_unused_one(session, school):
    old = start(session, school.staff_kiosk)
    new = start(session, school.staff_kiosk, T0 + timedelta(minutes=1))
    assert pair(session, old.code).reason == kiosks.BAD_CODE
    assert pair(session, new.code).browser_token


def test_wrong_codes_are_held_back_per_address_and_for_everyone(session, school):
    code = start(session, school.staff_kiosk)
    for _ in range(kiosks.MAX_FAILURES_PER_ADDRESS):
        assert pair(session, "WRONG234", address="10.0.0.66").reason == kiosks.BAD_CODE
    held = pair(session, code.code, address="10.0.0.66")
    assert (held.browser_token, held.reason) == (None, kiosks.TOO_MANY)
    assert held.refusal == ("Too many wrong pairing codes from this screen. Wait 10 minutes, "
                            "then try again.")
    assert pair(session, code.code, address="10.0.0.7").browser_token, "another screen pairs"
    # Ten minutes later the address may try again.
    other = start(session, school.reception_kiosk, T0 + timedelta(minutes=11))
    assert pair(session, other.code, T0 + timedelta(minutes=11), "10.0.0.66").browser_token


def test_revoking_refuses_the_browser_and_the_agent_at_once(session, school):
    paired = pair(session, start(session, school.staff_kiosk).code)
    waiting = start(session, school.staff_kiosk)
    with unit_of_work(session):
        kiosks.revoke(session, session.get(Kiosk, school.staff_kiosk.id), "admin", T0)
    assert browser_kiosk(session, paired.browser_token) is None
    assert kiosks.kiosk_for_token(session, school.staff_kiosk_token) is None
    assert pair(session, waiting.code).reason == kiosks.BAD_CODE, "an unused code dies too"
    with pytest.raises(kiosks.AlreadyRevoked), unit_of_work(session):
        kiosks.revoke(session, session.get(Kiosk, school.staff_kiosk.id), "admin", T0)
    # The other kiosk is untouched.
    assert kiosks.kiosk_for_token(session, school.reception_kiosk_token) is not None


def test_pairing_a_revoked_kiosk_gives_its_agent_a_new_token(session, school):
    with unit_of_work(session):
        kiosks.revoke(session, session.get(Kiosk, school.staff_kiosk.id), "admin", T0)
    code = start(session, school.staff_kiosk, T0 + timedelta(minutes=1))
    assert code.agent_token and code.agent_token != school.staff_kiosk_token
    assert kiosks.kiosk_for_token(session, school.staff_kiosk_token) is None, "old stays dead"
    assert kiosks.kiosk_for_token(session, code.agent_token).id == school.staff_kiosk.id
    assert pair(session, code.code, T0 + timedelta(minutes=1)).browser_token


# --- the pages ------------------------------------------------------------------------------

def test_the_code_buys_an_httponly_strict_cookie_that_is_neither_code_nor_agent_token(
        client, web_school):
    page = client.get("/kiosk/pair")
    assert page.status_code == 200 and 'name="code"' in page.text
    code = new_pairing_code(client.application)
    response = client.post("/kiosk/pair", data={"code": code})
    assert (response.status_code, response.headers["Location"]) == (303, "/kiosk")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("kiosk_browser=") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie and "Secure" not in cookie  # the demo runs on http
    assert code not in cookie and web_school.staff_kiosk_token not in cookie
    assert "Staff room lockers" in client.get("/kiosk").text


def test_production_cookies_are_secure(app, client, web_school):
    app.config["SESSION_COOKIE_SECURE"] = True
    cookie = pair_browser(client).headers["Set-Cookie"]
    assert "; Secure" in cookie


def test_a_wrong_or_used_code_is_a_sentence_and_pairs_nothing(client, web_school):
    code = new_pairing_code(client.application)
    wrong = client.post("/kiosk/pair", data={"code": "ABCD-EFGH"})
    assert wrong.status_code == 403 and "kiosk_browser" not in wrong.headers.get("Set-Cookie", "")
    assert "That pairing code is not right, or it has already been used." in wrong.text
    assert 'value="ABCD-EFGH"' in wrong.text, "what was typed stays, to check"
    assert client.post("/kiosk/pair", data={"code": code}).status_code == 303
    other = client.application.test_client()
    used = other.post("/kiosk/pair", data={"code": code})
    assert used.status_code == 403 and "already been used" in used.text
    assert other.get("/kiosk").status_code == 401


def test_the_old_token_link_no_longer_pairs_and_says_so(client, web_school):
    response = client.get(f"/kiosk/pair?token={web_school.staff_kiosk_token}")
    assert response.status_code == 400
    assert "kiosk_browser" not in response.headers.get("Set-Cookie", "")
    assert ("Pairing links with a token no longer work. Ask the office for a pairing code and "
            "type it here.") in response.text
    assert client.get("/kiosk").status_code == 401
    # A browser paired the old way carries the agent's token in a cookie: no longer read.
    client.set_cookie("kiosk_token", web_school.staff_kiosk_token)
    assert client.get("/kiosk").status_code == 401


def test_an_unpaired_screen_sends_people_to_the_office(client, web_school):
    response = client.get("/kiosk")
    assert response.status_code == 401
    assert "This kiosk is not paired" in response.text and "Please see the office." in response.text
    assert client.post("/kiosk/scan", json={"code": "x"}).json["reason"] == "unpaired"


def test_the_pairing_form_needs_its_csrf_token(app_config, web_school):
    from kiosk import create_app

    app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    client = app.test_client()
    code = new_pairing_code(app)
    assert client.post("/kiosk/pair", data={"code": code}).status_code == 400
    pair_browser(client)  # the form's own token: pairs


def revoke_on_the_page(app, kiosk_id: int):
    admin = app.test_client()
    admin.post("/login", data={"username": "admin", "password": "correct horse battery"})
    return admin, admin.post(f"/admin/kiosks/{kiosk_id}/revoke")


def test_a_revoked_kiosk_gets_401_at_once_on_its_screen_and_its_agent(app, client, web_school):
    pair_browser(client)
    bearer = {"Authorization": f"Bearer {web_school.staff_kiosk_token}"}
    assert client.get("/kiosk").status_code == 200
    admin, response = revoke_on_the_page(app, web_school.staff_kiosk.id)
    assert response.status_code == 302
    listing = admin.get("/admin/kiosks").text
    assert "Staff kiosk is revoked: its screen and its agent are refused from now on." in listing

    screen = client.get("/kiosk")
    assert screen.status_code == 401 and "This kiosk is not paired" in screen.text
    badge = {"code": web_school.alice.badge_id, "entry": "scanner"}
    for call in (client.post("/kiosk/scan", json=badge), client.get("/kiosk/events"),
                 client.post("/kiosk/identify", json=badge)):
        assert (call.status_code, call.json["reason"]) == (401, "unpaired")
    scan = client.post("/api/v1/scan", json=badge, headers=bearer)
    assert (scan.status_code, scan.json["reason"]) == (401, "unauthorised")
    assert scan.json["message"] == "Missing, unknown or revoked kiosk token."
    heartbeat = client.post("/api/v1/agent/heartbeat", json={}, headers=bearer)
    assert heartbeat.status_code == 401
    with app.app_context():
        assert db.session.scalars(select(Deposit)).all() == []


def test_pairing_a_revoked_kiosk_on_the_page_shows_a_new_agent_token_once(app, client,
                                                                          web_school):
    admin, _ = revoke_on_the_page(app, web_school.staff_kiosk.id)
    page = admin.post(f"/admin/kiosks/{web_school.staff_kiosk.id}/pair")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    code = re.search(r'class="pairing-code mono"[^>]*>([0-9A-Z]{4}-[0-9A-Z]{4})<', page.text)
    token = re.search(r'<p class="mono token">([^<]+)</p>', page.text).group(1)
    assert "Agent token: shown once" in page.text
    assert f"/kiosk/pair#code={code.group(1).replace('-', '')}" in page.text
    assert '<svg class="qr pairing-qr"' in page.text
    old = client.post("/api/v1/scan", json={"code": "x"},
                      headers={"Authorization": f"Bearer {web_school.staff_kiosk_token}"})
    new = client.post("/api/v1/scan", json={"code": "nobody"},
                      headers={"Authorization": f"Bearer {token}"})
    assert (old.status_code, new.status_code) == (401, 404)  # new: let in; the code unknown
    assert client.post("/kiosk/pair", data={"code": code.group(1)}).status_code == 303
    assert client.get("/kiosk").status_code == 200
    listing = admin.get("/admin/kiosks").text
    assert "Revoked" not in listing


def test_admins_list_add_and_pair_kiosks(app, client, auth, web_school):
    with app.app_context(), unit_of_work(db.session()) as session:
        session.add(AgentHeartbeat(kiosk_id=web_school.staff_kiosk.id, first_seen_at=T0,
                                   last_seen_at=T0, readers={}))
    pair_browser(app.test_client(), "Front kiosk")
    auth.login("admin")
    listing = client.get("/admin/kiosks").text
    front = listing[listing.index("Front kiosk"):listing.index("Staff kiosk")]  # by name
    assert "Paired" in front and "Not paired" not in front and "none yet" in front
    staff = listing[listing.index("Staff kiosk"):]
    assert "Not paired" in staff and "Mon 07 Dec 2026, 08:00" in staff
    added = client.post("/admin/kiosks", data={"name": "Hall kiosk", "bank": "Reception"})
    assert added.status_code == 200 and "Hall kiosk was added." in added.text
    assert "Agent token: shown once" in added.text and "Pair Hall kiosk" in added.text
    again = client.post("/admin/kiosks", data={"name": "Hall kiosk", "bank": "Reception"},
                        follow_redirects=True)
    assert "A kiosk called Hall kiosk already exists." in again.text


def test_office_and_slt_cannot_pair_or_revoke(client, auth, web_school):
    for user in ("office", "slt"):
        auth.login(user)
        assert client.get("/admin/kiosks").status_code == 403
        assert client.post(f"/admin/kiosks/{web_school.staff_kiosk.id}/revoke").status_code \
            == 403
        auth.logout()


# --- the commands ---------------------------------------------------------------------------

def test_pair_kiosk_and_revoke_kiosk_on_the_command_line(app, runner, client, web_school):
    app.config["PUBLIC_URL"] = "https://phones.school.example"
    printed = runner.invoke(args=["pair-kiosk", "Staff kiosk"])
    assert printed.exit_code == 0, printed.output
    code = re.search(r"Pairing code for Staff kiosk: ([0-9A-Z]{4}-[0-9A-Z]{4}) \(one use, "
                     r"until \d\d:\d\d\)", printed.output).group(1)
    assert f"https://phones.school.example/kiosk/pair#code={code.replace('-', '')}" \
        in printed.output
    assert "agent" not in printed.output, "a kiosk in use keeps its agent's token"
    assert client.post("/kiosk/pair", data={"code": code}).status_code == 303

    revoked = runner.invoke(args=["revoke-kiosk", "Staff kiosk"])
    assert revoked.exit_code == 0
    assert "Staff kiosk is revoked" in revoked.output
    assert client.get("/kiosk").status_code == 401
    assert "already revoked" in runner.invoke(args=["revoke-kiosk", "Staff kiosk"]).output

    back = runner.invoke(args=["pair-kiosk", "Staff kiosk"])
    token = re.search(r"new token \(shown once; put it in the agent's token file\): (\S+)",
                      back.output).group(1)
    assert client.post("/api/v1/scan", json={"code": "nobody"},
                       headers={"Authorization": f"Bearer {token}"}).status_code == 404
    missing = runner.invoke(args=["pair-kiosk", "Gym kiosk"])
    assert missing.exit_code == 1
    assert "There is no kiosk called 'Gym kiosk' (kiosks: Front kiosk, Staff kiosk)." \
        in missing.output


def test_pair_kiosk_gives_a_replaced_pi_a_new_agent_token(app, runner, client, web_school,
                                                          tmp_path):
    """A restored SD card has the kiosk on the register but not its agent's token file."""
    old = {"Authorization": f"Bearer {web_school.staff_kiosk_token}"}
    assert client.post("/api/v1/scan", json={"code": "nobody"}, headers=old).status_code == 404
    token_file = tmp_path / "kiosk.token"
    printed = runner.invoke(args=["pair-kiosk", "Staff kiosk", "--token-file", str(token_file)])
    assert printed.exit_code == 0, printed.output
    assert f"New agent token written to {token_file} (mode 600)" in printed.output
    assert "Pairing code for Staff kiosk" in printed.output
    token = token_file.read_text().strip()
    assert token not in printed.output and token_file.stat().st_mode & 0o777 == 0o600
    new = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/scan", json={"code": "nobody"}, headers=new).status_code == 404
    assert client.post("/api/v1/scan", json={"code": "nobody"}, headers=old).status_code == 401


def test_no_code_or_token_reaches_a_log_line(app, client, auth, web_school, caplog):
    caplog.set_level(logging.DEBUG)
    auth.login("admin")
    page = client.post(f"/admin/kiosks/{web_school.staff_kiosk.id}/pair").text
    code = re.search(r"([0-9A-Z]{4}-[0-9A-Z]{4})</p>", page).group(1)
    kiosk_browser = app.test_client()
    paired = kiosk_browser.post("/kiosk/pair", data={"code": code})
    cookie = paired.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    kiosk_browser.get("/kiosk")
    logged = caplog.text
    for secret in (code, code.replace("-", ""), cookie, web_school.staff_kiosk_token):
        assert secret not in logged
