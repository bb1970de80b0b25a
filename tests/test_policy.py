"""The policy, acknowledged (issue 11): versions published at the annual review, acknowledged
once per person at the kiosk or on paper, re-asked after a new version, coverage by category;
the kiosk's question rides on the scan's answer and its token refuses any other use."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from register import people, policy
from register.errors import ValidationError
from register.models import AuditEvent, PolicyAcknowledgement
from tests.conftest import scan_code, set_rescan_guard

NOW = datetime(2026, 9, 7, 7, 55, tzinfo=UTC)
SUMMARY = ("Phones are switched off and locked away while you are on duty. Keep your "
           "personal number and social media private from pupils and parents.")
TOKENS = policy.AskTokens(b"a test secret key of some length")


def publish(session, version: str = "2026-27", adopted_on: date | str = date(2026, 9, 1),
            summary: str = SUMMARY, text: str = "1. Rationale\n\nThe whole policy.",
            title: str = "Safer use of phones and social media", now: datetime = NOW):
    published = policy.publish_version(session, title, version, adopted_on, summary, text,
                                       "admin", now)
    session.commit()
    return published


def audit_actions(session, action: str) -> list[tuple[str, str, str]]:
    return [(e.actor, e.subject, e.detail) for e in session.scalars(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))]


# --- publishing --------------------------------------------------------------------------------

def test_a_published_version_is_current_and_audited(session):
    assert policy.current_version(session) is None
    first = publish(session, "2025-26", date(2025, 9, 1))
    second = publish(session, "2026-27", "2026-09-01",
                     text="Line one  \r\nLine two\r\n \r\n\r\n\r\nNext paragraph\r\n")

    assert policy.current_version(session).id == second.id
    assert [v.version for v in policy.versions(session)] == ["2026-27", "2025-26"]
    # A form's CR LF kept as lines, and blank lines (spaces and all) as one paragraph break.
    assert second.text == "Line one\nLine two\n\nNext paragraph"
    assert second.published_by == "admin" and second.adopted_on == date(2026, 9, 1)
    assert audit_actions(session, "policy.publish") == [
        ("admin", f"policy:{first.id}", "version 2025-26, adopted 2025-09-01"),
        ("admin", f"policy:{second.id}", "version 2026-27, adopted 2026-09-01")]


@pytest.mark.parametrize(("fields", "sentence"), [
    ({"title": "  "}, "The title is needed."),
    ({"version": ""}, "The version is needed."),
    ({"summary": "\n "}, "The summary for the kiosk is needed."),
    ({"text": ""}, "The whole text is needed."),
    ({"summary": "x" * 601}, "The summary for the kiosk is 601 characters: at most 600 fit"),
    ({"adopted_on": "1 Sept"}, "Give the date it was adopted as a date, e.g. 2026-09-01."),
    ({"adopted_on": "1900-09-01"}, "Give the date it was adopted between 2000 and 2099."),
    ({"title": "T\x00"}, "The title contains a NUL character"),
    ({"version": "2025-26"}, "Version 2025-26 was already published (adopted 1 September 2025)"),
    ({"version": "2025-26 ".upper()}, "Version 2025-26 was already published"),
    ({"adopted_on": "2025-08-31"}, "The current version, 2025-26, was adopted on 1 September "
                                   "2025: a new version is adopted on or after that day."),
])
def test_a_version_is_refused_with_a_sentence_and_nothing_saved(session, fields, sentence):
    publish(session, "2025-26", date(2025, 9, 1))
    values = {"title": "Phone policy", "version": "2026-27", "adopted_on": "2026-09-01",
              "summary": SUMMARY, "text": "Whole text", **fields}
    with pytest.raises(ValidationError, match=re.escape(sentence)):
        policy.publish_version(session, values["title"], values["version"],
                               values["adopted_on"], values["summary"], values["text"],
                               "admin", NOW)
    session.rollback()
    assert [v.version for v in policy.versions(session)] == ["2025-26"]


def test_a_summary_of_exactly_600_characters_fits(session):
    assert len(publish(session, summary="x" * 600).summary) == 600


# --- acknowledging -----------------------------------------------------------------------------

def test_acknowledging_twice_records_once_and_audits_once(session, school):
    version = publish(session)
    assert policy.needs_acknowledgement(session, school.alice.id).id == version.id

    first = policy.acknowledge(session, school.alice, version, policy.KIOSK,
                               f"kiosk:{school.staff_kiosk.id}", school.staff_kiosk.id, NOW)
    again = policy.acknowledge(session, school.alice, version, policy.OFFICE, "office",
                               now=NOW + timedelta(hours=1))
    session.commit()

    assert (first.new, again.new) == (True, False)
    assert (again.via, again.at) == (policy.KIOSK, NOW)  # the first, as it was recorded
    assert session.scalar(select(func.count()).select_from(PolicyAcknowledgement)) == 1
    assert policy.needs_acknowledgement(session, school.alice.id) is None
    assert audit_actions(session, "policy.acknowledge") == [
        (f"kiosk:{school.staff_kiosk.id}", f"person:{school.alice.id}",
         f"version 2026-27 (policy:{version.id}), at the kiosk")]


def test_a_new_version_is_asked_again(session, school):
    old = publish(session, "2025-26", date(2025, 9, 1))
    policy.acknowledge(session, school.alice, old, policy.OFFICE, "office", now=NOW)
    session.commit()
    assert policy.needs_acknowledgement(session, school.alice.id) is None

    new = publish(session, "2026-27", date(2026, 9, 1))
    assert policy.needs_acknowledgement(session, school.alice.id).id == new.id


def test_nothing_to_acknowledge_before_a_version_is_published(session, school):
    assert policy.needs_acknowledgement(session, school.alice.id) is None
    assert policy.not_acknowledged(session) == []
    assert policy.coverage(session).version is None


def test_coverage_by_category_counts_active_people_and_the_current_version_only(session, school):
    visitor = people.add_person(session, people.PersonDetails(
        name="Vera Visitor", category="visitor"), "test")
    left = people.add_person(session, people.PersonDetails(
        name="Lee Left", category="contractor"), "test")
    left.active = False
    old = publish(session, "2025-26", date(2025, 9, 1))
    policy.acknowledge(session, school.bob, old, policy.KIOSK, "kiosk:1", now=NOW)  # old one
    current = publish(session, "2026-27", date(2026, 9, 1))
    policy.acknowledge(session, school.alice, current, policy.KIOSK, "kiosk:1", now=NOW)
    policy.acknowledge(session, visitor, current, policy.OFFICE, "office", now=NOW)
    session.commit()

    found = policy.coverage(session)
    rows = {row.category: (row.people, row.acknowledged, row.not_yet) for row in found.rows}
    assert found.version.version == "2026-27"
    assert rows["staff"] == (3, 1, 2)  # Bob acknowledged last year's only
    assert rows["visitor"] == (1, 1, 0)
    assert rows["contractor"] == (0, 0, 0)  # who has left is not counted
    assert [row.label for row in found.rows][:2] == ["Staff", "Governor"]  # the policy's order
    assert (found.total.people, found.total.acknowledged) == (4, 2)
    assert found.total.rate == 0.5 and found.rows[1].rate is None

    assert [p.name for p in policy.not_acknowledged(session)] == ["Bob Brown", "Carol Clark"]
    assert [p.name for p in policy.not_acknowledged(session, "visitor")] == []
    with pytest.raises(ValidationError, match="Choose one of the stakeholder categories"):
        policy.not_acknowledged(session, "pupils")


# --- the kiosk's question ----------------------------------------------------------------------

def test_the_scan_answer_asks_only_while_the_current_version_is_unread(session, school):
    set_rescan_guard(session, 0)
    label = school.alice_phone.label_code
    assert scan_code(session, school.staff_kiosk.id, label, NOW).policy is None  # no version

    version = publish(session)
    asked = scan_code(session, school.staff_kiosk.id, label, NOW + timedelta(minutes=1))
    assert asked.outcome == "collected"  # the scan did what it always does
    assert (asked.policy.version, asked.policy.summary) == ("2026-27", SUMMARY)
    assert asked.policy.whole == "The whole policy is on paper at the office."

    policy.acknowledge(session, school.alice, version, policy.KIOSK, "kiosk:1", now=NOW)
    session.commit()
    assert scan_code(session, school.staff_kiosk.id, label, NOW + timedelta(minutes=2)
                     ).policy is None

    publish(session, "2026-27 (spring update)", date(2027, 1, 5))
    again = scan_code(session, school.staff_kiosk.id, label, NOW + timedelta(minutes=3))
    assert again.outcome == "collected" and again.policy.version == "2026-27 (spring update)"


def test_which_phone_asks_nothing_and_the_phone_chosen_does(session, school):
    publish(session)
    which = scan_code(session, school.staff_kiosk.id, school.bob.badge_id, NOW)
    assert (which.outcome, which.policy) == ("choose", None)
    chosen = scan_code(session, school.staff_kiosk.id, school.bob_phone.label_code, NOW)
    assert chosen.outcome == "deposited" and chosen.policy.version == "2026-27"


def test_a_token_names_its_person_version_and_kiosk_and_nothing_else(session, school):
    token = TOKENS.issue(school.alice.id, 7, school.staff_kiosk.id, NOW)
    assert TOKENS.read(token, school.staff_kiosk.id, NOW + timedelta(minutes=4)) == (
        school.alice.id, 7)

    refused = {
        "another kiosk": (token, school.reception_kiosk.id, NOW),
        "expired": (token, school.staff_kiosk.id, NOW + timedelta(minutes=5, seconds=1)),
        "another person": (token.replace(f"{school.alice.id}.", f"{school.bob.id}.", 1),
                           school.staff_kiosk.id, NOW),
        "another key": (policy.AskTokens(b"another").issue(school.alice.id, 7,
                                                           school.staff_kiosk.id, NOW),
                        school.staff_kiosk.id, NOW),
        "nonsense": ("1.2.3", school.staff_kiosk.id, NOW),
        "not text": (12, school.staff_kiosk.id, NOW),
    }
    for name, (forged, kiosk_id, when) in refused.items():
        with pytest.raises(policy.AskRefused) as caught:
            TOKENS.read(forged, kiosk_id, when)
        expected = "timed out" if name == "expired" else "not asked at this kiosk"
        assert expected in str(caught.value), name
        assert "nothing was recorded" in str(caught.value)


def test_the_tap_records_the_version_asked_about(session, school):
    version = publish(session)
    token = TOKENS.issue(school.carol.id, version.id, school.staff_kiosk.id, NOW)
    person, done = policy.acknowledge_at_kiosk(session, TOKENS, token, school.staff_kiosk.id,
                                               NOW + timedelta(seconds=20))
    session.commit()
    assert (person.name, done.new, done.via) == ("Carol Clark", True, "kiosk")
    row = session.scalars(select(PolicyAcknowledgement)).one()
    assert (row.kiosk_id, row.recorded_by) == (school.staff_kiosk.id,
                                               f"kiosk:{school.staff_kiosk.id}")
