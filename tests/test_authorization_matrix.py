"""Who may reach what: every route and method of the app, times every kind of caller.

The table below is the whole access policy. The test is generated from ``app.url_map``, so a
new route without an entry here fails the suite until someone decides who may use it.
"""

from __future__ import annotations

import re

import pytest

from kiosk import create_app
from tests.conftest import pair_browser

ANONYMOUS, KIOSK_COOKIE, KIOSK_BEARER = "anonymous", "kiosk cookie", "kiosk bearer"
OFFICE, SLT, ADMIN = "office", "slt", "admin"
CALLERS = (ANONYMOUS, KIOSK_COOKIE, KIOSK_BEARER, OFFICE, SLT, ADMIN)

EVERYONE = frozenset(CALLERS)
KIOSK = frozenset({KIOSK_COOKIE, KIOSK_BEARER})  # the kiosk page takes its cookie or a bearer
AGENT = frozenset({KIOSK_BEARER})  # the agent API takes the bearer token only
OFFICE_STAFF = frozenset({OFFICE, ADMIN})
SLT_STAFF = frozenset({SLT, ADMIN})
STAFF = frozenset({OFFICE, SLT, ADMIN})
ADMINS = frozenset({ADMIN})
# Demo only (404 in production): the simulated readers, for the office or a paired kiosk.
DEMO_TAPS = frozenset({KIOSK_COOKIE, KIOSK_BEARER, OFFICE, ADMIN})

# endpoint -> who may use it (every method the endpoint has).
ALLOWED = {
    "static": EVERYONE, "api.healthz": EVERYONE, "auth.index": EVERYONE,
    "auth.login": EVERYONE, "auth.logout": EVERYONE, "kiosk.pair": EVERYONE,
    "kiosk.screen": KIOSK, "kiosk.scan": KIOSK, "kiosk.events": KIOSK,
    "kiosk.identify": KIOSK, "kiosk.ask_mode": KIOSK, "kiosk.exception_request": KIOSK,
    "simulator.page": DEMO_TAPS, "simulator.tap": DEMO_TAPS,
    "api.scan": AGENT, "api.heartbeat": AGENT, "api.command_result": AGENT,
    "admin.settings_form": ADMINS, "admin.settings_save": ADMINS,
    "office.emergency_open": ADMINS, "reports.save_day_times": ADMINS,
    "requests.new": STAFF, "requests.record": STAFF,
    "reports.index": STAFF, "reports.roll_call": STAFF, "reports.daily_log_page": STAFF,
    "reports.daily_log_csv": STAFF, "reports.summaries": STAFF,
    "slt.now": SLT_STAFF, "slt.pending_json": SLT_STAFF, "slt.approve": SLT_STAFF,
    "slt.decline": SLT_STAFF, "slt.revoke": SLT_STAFF, "slt_report.report": SLT_STAFF,
}
# The register and its printouts: the office and admins.
ALLOWED.update(dict.fromkeys((
    "office.people", "office.person_new", "office.person_view", "office.person_edit",
    "office.person_left", "office.device_new", "office.device_edit", "office.device_verify",
    "office.device_retire", "office.lockers", "office.bank_add", "office.locker_service",
    "office.import_form", "office.import_upload", "office.import_confirm",
    "office.import_template", "printing.index", "printing.register_page",
    "printing.register_pdf", "printing.register_csv", "printing.labels_page",
    "printing.labels_pdf", "printing.alignment_pdf", "printing.imei_slip",
    "printing.lost_report",
), OFFICE_STAFF))

# Accounts and sign-in sessions (kiosk/accounts.py).
ALLOWED.update({
    "accounts.password": STAFF, "accounts.users": ADMINS, "accounts.user_create": ADMINS,
    "accounts.user_page": ADMINS, "accounts.user_disable": ADMINS,
    "accounts.user_enable": ADMINS, "accounts.user_sign_out_everywhere": ADMINS,
    "accounts.user_unlock": ADMINS, "accounts.user_reset_password": ADMINS,
})
# Kiosk pairing and revocation (kiosk/kiosks_admin.py).
ALLOWED.update({
    "kiosk.pair_code": EVERYONE,  # a browser with no credential yet types its one-time code
    "kiosks_admin.kiosks_page": ADMINS, "kiosks_admin.create": ADMINS,
    "kiosks_admin.pair": ADMINS, "kiosks_admin.revoke": ADMINS,
})
# The audit trail (kiosk/audit_views.py).
ALLOWED.update({
    "audit_views.audit_trail": ADMINS,
})
# Issue 10, the office: search as you type (POST, so nothing typed reaches a URL), and undoing
# a retired phone or a person marked as left (kiosk/office.py, kiosk/requests.py).
ALLOWED.update({
    "office.people_search": OFFICE_STAFF, "office.person_rejoin": OFFICE_STAFF,
    "office.device_reinstate": OFFICE_STAFF, "requests.people_search": STAFF,
})

# Issue 11: the privacy notice is for everyone (the kiosk's browser is not signed in).
ALLOWED.update({
    "privacy.notice": EVERYONE,
    "office.device_imei": OFFICE_STAFF,  # Show beside a masked IMEI, as the person page
})

# Issue 11: everything held about a person, and erasing them (kiosk/data_subject.py).
ALLOWED.update(dict.fromkeys((
    "data_subject.summary", "data_subject.download_json", "data_subject.download_pdf",
    "data_subject.erase_form", "data_subject.erase",
), ADMINS))

# Issue 11: the policy, acknowledged (kiosk/policy_views.py; the kiosk's tap in kiosk_views).
ALLOWED.update({
    "policy.admin_page": ADMINS, "policy.publish": ADMINS, "policy.print_policy": STAFF,
    "policy.acknowledgements": OFFICE_STAFF, "policy.record_paper": OFFICE_STAFF,
    "kiosk.acknowledge_policy": KIOSK,
})
# Issue 12: is everything working? (kiosk/status_views.py).
ALLOWED.update({"status_views.status_page": ADMINS})
# Issue 13: the fire alarm, reported by a kiosk's agent and cleared by SLT (register/fire.py).
ALLOWED.update({"api.fire_alarm": AGENT, "slt.fire_alarm_clear": SLT_STAFF})
# Issue 13: the incident log (kiosk/incidents.py); the office sees only what it recorded.
ALLOWED.update(dict.fromkeys((
    "incidents.index", "incidents.new", "incidents.record", "incidents.show",
    "incidents.action", "incidents.close", "incidents.reopen",
), STAFF))
# Issue 13: the evidence pack (kiosk/evidence.py).
ALLOWED.update({"evidence.evidence_page": SLT_STAFF, "evidence.evidence_pdf": SLT_STAFF})


def _routes() -> list[tuple[str, str, str]]:
    app = create_app({"KIOSK_ENV": "demo", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    return sorted((rule.endpoint, method, rule.rule) for rule in app.url_map.iter_rules()
                  for method in sorted(rule.methods - {"HEAD", "OPTIONS"}))


ROUTES = _routes()


def test_every_route_has_an_entry_in_the_table():
    assert sorted({endpoint for endpoint, _m, _r in ROUTES} - set(ALLOWED)) == []
    assert sorted(set(ALLOWED) - {endpoint for endpoint, _m, _r in ROUTES}) == []


def _path(rule: str) -> str:
    path = re.sub(r"<int:[^>]+>", "1", rule)
    return re.sub(r"<path:[^>]+>", "kiosk.css", path)


def _refused(response) -> bool:
    """401 or 403, or sent to sign in."""
    if response.status_code in (401, 403):
        return True
    return response.status_code in (302, 303) and "/login" in response.headers["Location"]


@pytest.mark.parametrize(("endpoint", "method", "rule"), ROUTES,
                         ids=[f"{m} {r}" for _e, m, r in ROUTES])
def test_each_kind_of_caller_is_let_in_or_refused_as_the_table_says(
        app, web_school, endpoint, method, rule):
    path, wrong = _path(rule), []
    for caller in CALLERS:
        client = app.test_client()
        headers = {}
        if caller == KIOSK_COOKIE:
            pair_browser(client)
        elif caller == KIOSK_BEARER:
            headers["Authorization"] = f"Bearer {web_school.staff_kiosk_token}"
        elif caller in (OFFICE, SLT, ADMIN):
            signed_in = client.post("/login", data={"username": caller,
                                                    "password": "correct horse battery"})
            assert signed_in.status_code == 302, caller
        response = client.open(path, method=method, headers=headers, json={}
                               if method == "POST" and path.startswith(("/api/", "/kiosk/"))
                               else None)
        allowed = caller in ALLOWED[endpoint]
        # Open routes have no gate to test: a sign-in with no password is a 401 of its own.
        if ALLOWED[endpoint] is not EVERYONE and _refused(response) == allowed:
            wrong.append(f"{caller}: {response.status_code} "
                         f"({'should be let in' if allowed else 'should be refused'})")
        if response.status_code >= 500:
            wrong.append(f"{caller}: {response.status_code}")
    assert wrong == [], f"{method} {path}"
