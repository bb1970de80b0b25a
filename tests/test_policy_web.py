"""The policy, acknowledged, through the web: the admin publishes, the office prints it and
records paper acknowledgements, the kiosk's tap records one with the scan's token (and only
that), the policy report shows coverage. Service-level rules are tests/test_policy.py's."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.extensions import db
from register import policy
from register.models import AuditEvent, PolicyAcknowledgement
from tests.conftest import pair_browser, set_rescan_guard_in
from tests.test_transactions import STATEMENTS_PER_DEPOSIT, statements_of

SUMMARY = "Phones are locked away while you are on duty."


def publish(app, version: str = "2026-27", adopted_on: date = date(2026, 9, 1)) -> int:
    with app.app_context(), Session(db.engine) as session:
        published = policy.publish_version(session, "Phone policy", version, adopted_on,
                                           SUMMARY, "Rationale\n\nThe whole text.", "admin")
        session.commit()
        return published.id


def acknowledgements(app) -> list[tuple[int, int, str, str]]:
    with app.app_context(), Session(db.engine) as session:
        return [(a.person_id, a.policy_version_id, a.via, a.recorded_by) for a in
                session.scalars(select(PolicyAcknowledgement).order_by(PolicyAcknowledgement.id))]


def text_of(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())


def test_the_admin_publishes_a_version_and_a_bad_one_is_refused_with_a_sentence(
        client, auth, web_school):
    auth.login("admin")
    page = client.get("/admin/policy")
    assert "No policy has been published yet." in text_of(page)
    form = {"title": "Safer use of phones", "version": "2026-27", "adopted_on": "2026-09-01",
            "summary": SUMMARY, "text": "Rationale\r\n\r\nThe whole text."}

    refused = client.post("/admin/policy", data={**form, "summary": "x" * 700})
    assert refused.status_code == 422
    assert "Not published: The summary for the kiosk is 700 characters" in text_of(refused)
    assert 'value="2026-27"' in refused.get_data(as_text=True)  # what was typed stays

    done = client.post("/admin/policy", data=form, follow_redirects=True)
    shown = text_of(done)
    assert "Published version 2026-27." in shown
    assert "Current version Safer use of phones" in shown and SUMMARY in shown
    again = client.post("/admin/policy", data=form)
    assert "Version 2026-27 was already published" in text_of(again)


def test_staff_print_the_whole_text_and_an_earlier_version_says_so(client, auth, app,
                                                                  web_school):
    first = publish(app, "2025-26", date(2025, 9, 1))
    publish(app)
    auth.login("slt")
    page = text_of(client.get("/print/policy"))
    assert "Phone policy Version 2026-27, adopted 1 September 2026 Rationale" in page
    assert "I have read this policy and will follow it." in page
    earlier = text_of(client.get(f"/print/policy?version={first}"))
    assert "This is an earlier version. The current version is 2026-27" in earlier
    assert client.get("/print/policy?version=999").status_code == 404
    assert client.get("/print/policy?version=x").status_code == 404


def test_the_office_sees_who_has_not_and_records_a_paper_acknowledgement(
        client, auth, app, web_school):
    version_id = publish(app)
    auth.login("office")
    page = client.get("/office/acknowledgements")
    shown = text_of(page)
    assert "Staff 3 0 3" in shown and "All 3 0 3" in shown
    assert "3 people have not acknowledged version 2026-27" in shown
    assert "Alice Adams Staff" in shown

    alice = web_school.alice.id
    recorded = client.post(f"/office/acknowledgements/{alice}",
                           data={"version_id": version_id, "category": "staff"})
    assert recorded.status_code == 303
    assert recorded.headers["Location"].endswith("/office/acknowledgements?category=staff")
    after = text_of(client.get("/office/acknowledgements?category=staff"))
    assert "Recorded: Alice Adams has read version 2026-27 of the policy, on paper." in after
    assert "Staff 3 1 2" in after and "Alice Adams Staff" not in after
    assert acknowledgements(app) == [(alice, version_id, "office", "office")]

    twice = client.post(f"/office/acknowledgements/{alice}", data={"version_id": version_id},
                        follow_redirects=True)
    assert "Alice Adams had already acknowledged version 2026-27: nothing changed." in text_of(
        twice)
    stale = client.post(f"/office/acknowledgements/{web_school.bob.id}",
                        data={"version_id": version_id + 1}, follow_redirects=True)
    assert "A new version of the policy was published since this page was shown" in text_of(
        stale)
    assert client.post("/office/acknowledgements/999", data={"version_id": version_id}
                       ).status_code == 404
    bad = client.get("/office/acknowledgements?category=pupils")
    assert bad.status_code == 400 and "Choose one of the stakeholder categories." in text_of(bad)
    with app.app_context(), Session(db.engine) as session:
        listed = session.scalars(select(AuditEvent.detail).where(
            AuditEvent.action == "policy.not_acknowledged")).all()
    assert "3 people listed" in listed and "2 people listed; category staff" in listed


def test_the_kiosk_tap_records_with_the_scans_token_only(client, app, web_school):
    version_id = publish(app)
    set_rescan_guard_in(app, 0)
    pair_browser(client)
    answer = client.post("/kiosk/scan", json={"code": web_school.alice_phone.label_code,
                                              "entry": "scanner"}).json
    assert answer["outcome"] == "deposited" and answer["locker"] == 1
    ask = answer["policy"]
    assert (ask["summary"], ask["whole"]) == (SUMMARY, "The whole policy is on paper at the "
                                                       "office.")

    forged = ask["token"][:-4] + "0000"
    refused = client.post("/kiosk/policy/acknowledge", json={"token": forged})
    assert refused.status_code == 403
    assert refused.json["message"].startswith("That question was not asked at this kiosk")
    other_kiosk = app.test_client()
    pair_browser(other_kiosk, "Front kiosk")
    assert other_kiosk.post("/kiosk/policy/acknowledge", json={"token": ask["token"]}
                            ).status_code == 403
    assert client.post("/kiosk/policy/acknowledge", json={}).status_code == 400
    assert acknowledgements(app) == []

    done = client.post("/kiosk/policy/acknowledge", json={"token": ask["token"]})
    assert done.json == {"outcome": "acknowledged", "person": "Alice", "version": "2026-27",
                         "message": "Thank you, Alice: recorded that you have read it."}
    assert client.post("/kiosk/policy/acknowledge", json={"token": ask["token"]}).status_code \
        == 200  # a second tap: the same thanks, nothing more recorded
    kiosk_id = web_school.staff_kiosk.id
    assert acknowledgements(app) == [(web_school.alice.id, version_id, "kiosk",
                                      f"kiosk:{kiosk_id}")]
    assert client.post("/kiosk/scan", json={"code": web_school.alice_phone.label_code,
                                            "entry": "scanner"}).json["policy"] is None


def test_the_question_costs_a_scan_one_statement_and_none_without_a_policy(
        app, client, web_school):
    bearer = {"Authorization": f"Bearer {web_school.staff_kiosk_token}"}
    set_rescan_guard_in(app, 0)

    def deposit_or_collect(code: str) -> list[str]:
        return statements_of(app, lambda: client.post(
            "/api/v1/scan", json={"code": code, "source": "scanner"}, headers=bearer))

    assert len(deposit_or_collect(web_school.alice_phone.label_code)) <= STATEMENTS_PER_DEPOSIT
    without = len(deposit_or_collect(web_school.carol_phone.label_code))
    publish(app)
    with_policy = deposit_or_collect(web_school.bob_phone.label_code)
    assert len(with_policy) <= without + 1
    assert sum("policy_acknowledgements" in statement for statement in with_policy) == 1


def test_the_policy_report_shows_coverage_on_screen_and_in_print(client, auth, app,
                                                                 web_school):
    auth.login("slt")
    assert "No version of the phone policy has been published" in text_of(
        client.get("/slt/report"))
    version_id = publish(app)
    with app.app_context(), Session(db.engine) as session:
        policy.acknowledge(session, session.get_one(type(web_school.alice), web_school.alice.id),
                           session.get_one(policy.PolicyVersion, version_id), policy.OFFICE,
                           "office")
        session.commit()
    for page in (client.get("/slt/report"), client.get("/slt/report?print=1")):
        shown = text_of(page)
        assert "The policy, acknowledged" in shown
        assert "Staff 3 1 2 33%" in shown and "All 3 1 2 33%" in shown
