"""The privacy notice (issue 11): open to anyone, the paired kiosk included; how long things
are kept comes from the retention settings, whom to ask from the DPO contact setting."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from kiosk.extensions import db
from register import retention
from tests.conftest import pair_browser


def notice(client, query: str = "") -> str:
    response = client.get(f"/privacy{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def retention_rows(page: str) -> dict[str, str]:
    """Each row of "How long do we keep it?": its label and how long, as shown."""
    rows = re.findall(r"<tr><td><strong>([^<]+)</strong>.*?<td class=\"kept\">([^<]+)</td>",
                      page, re.S)
    return {label.replace("&amp;", "&"): kept for label, kept in rows}


def test_anyone_signed_out_reads_it_with_the_defaults(client, app):
    page = notice(client)
    for question in ("What do we record?", "Why do we record it?", "Who can see it?",
                     "How long do we keep it?", "What can you ask us to do?",
                     "Who do I ask?"):
        assert f">{question}</h2>" in page
    assert "Test Primary School keeps a record" in page
    assert retention_rows(page) == {kind.label: kind.describe(kind.default)
                                    for kind in retention.KINDS}
    assert "Ask <strong>the school office</strong>" in page
    assert "https://ico.org.uk/make-a-complaint/" in page
    assert "Sign out" not in page  # nobody is signed in


def test_it_shows_the_retention_settings_and_dpo_as_changed(client, app):
    with app.app_context(), Session(db.engine) as session:
        retention.put_retention(session, {"deposits": "6", "audit": "36",
                                          "login_failures": "14"}, "admin")
        retention.put_dpo_contact(session, "Jo Bloggs, dpo@school.example, 01234 567890",
                                  "admin")
        session.commit()

    page = notice(client)

    rows = retention_rows(page)
    assert rows["Deposits, duty periods and kiosk scans"] == "6 months"
    assert rows["Audit trail"] == "3 years"
    assert rows["Failed sign-ins"] == "14 days"
    assert rows["Exception requests and decisions"] == "13 months"  # unchanged
    assert "Our data protection officer:\n  <strong>Jo Bloggs, dpo@school.example, 01234 567890" \
        in page
    assert "the school office" not in page


def test_from_the_paired_kiosk_a_touch_page_that_goes_back_to_the_kiosk(app, web_school):
    kiosk = app.test_client()
    pair_browser(kiosk)
    screen = kiosk.get("/kiosk").get_data(as_text=True)
    assert 'href="/privacy?from=kiosk"' in screen

    page = notice(kiosk, "?from=kiosk")

    assert 'class="kiosk-notice"' in page and 'data-back-url="/kiosk"' in page
    assert 'data-idle-seconds="120"' in page and "/static/privacy.js" in page
    assert page.count('href="/kiosk" data-back>') == 2  # Back at the top and the foot
    assert "Roll call" not in page and "How we use your information</a></footer>" not in page
    assert kiosk.get("/kiosk").status_code == 200  # still paired


def test_every_office_page_links_to_it(client, auth, web_school):
    auth.login("office")
    for path in ("/office/", f"/office/people/{web_school.alice.id}", "/print/", "/reports/"):
        page = client.get(path).get_data(as_text=True)
        assert '<a href="/privacy">How we use your information</a>' in page, path
    assert '<a href="/privacy">How we use your information</a>' in notice(client)
