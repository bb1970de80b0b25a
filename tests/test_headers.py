"""Security headers on real pages: a Content-Security-Policy whose nonce is new with every
response, nosniff, the referrer policy, HSTS only over HTTPS, and nothing but static files
kept in a cache. And the templates as text: no inline script or style without the nonce, no
style attribute, no inline event handler (the browser refuses all three under the policy)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.routing import Rule

from tests.conftest import pair_browser

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
NONCE = re.compile(r"'nonce-([A-Za-z0-9_-]{22})'")  # secrets.token_urlsafe(16)
POLICY = {
    "default-src": "'self'",
    "script-src": "'self' 'nonce-{}'",
    "style-src": "'self' 'nonce-{}'",
    "img-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}
# Pages that show a whole register, a person's IMEIs, exception reasons or the kiosk's state.
PERSONAL = [
    "/office/", "/office/people/{alice}", "/office/people/{alice}/edit",
    "/office/devices/{alice_phone}/edit", "/print/register", "/print/labels",
    "/print/people/{alice}/imei-slip", "/print/devices/{alice_phone}/lost-report",
    "/reports/roll-call", "/reports/roll-call?print=1", "/reports/daily-log",
    "/reports/summaries", "/slt/", "/slt/pending.json", "/slt/report", "/slt/report?print=1",
    "/requests/new", "/admin/settings",
]
INLINE_TAG = re.compile(r"<(script|style)\b([^>]*)>", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"""\sstyle\s*=\s*["']""", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"""\son[a-z]+\s*=\s*["']""", re.IGNORECASE)
JINJA = re.compile(r"{%.*?%}|{{.*?}}|{#.*?#}", re.DOTALL)
TEMPLATE_NONCE = 'nonce="{{ csp_nonce() }}"'


def policy_of(response) -> tuple[dict[str, str], str]:
    """The policy's directives by name, and its nonce."""
    header = response.headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in header.split(";"))
    found = NONCE.findall(header)
    assert len(set(found)) == 1, header
    return directives, found[0]


def assert_policy(response) -> str:
    directives, nonce = policy_of(response)
    assert directives == {name: value.format(nonce) for name, value in POLICY.items()}
    return nonce


def assert_common(response) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP here


def pages(web_school) -> list[str]:
    ids = {"alice": web_school.alice.id, "alice_phone": web_school.alice_phone.id}
    return [path.format(**ids) for path in PERSONAL]


@pytest.fixture
def admin(client, auth, web_school):
    auth.login("admin")
    return client


@pytest.fixture
def paired(client, web_school):
    """The kiosk's browser, paired as IT does once."""
    pair_browser(client)
    return client


# --- every page ----------------------------------------------------------------------------

def test_pages_with_personal_data_carry_the_policy_and_are_never_stored(admin, web_school):
    for path in pages(web_school):
        response = admin.get(path)
        assert response.status_code == 200, path
        assert_common(response)
        assert response.headers["Cache-Control"] == "no-store", path
        if response.mimetype == "text/html":
            nonce = assert_policy(response)
            # Every inline block on the page carries this response's nonce, and no other.
            for tag, attributes in INLINE_TAG.findall(response.get_data(as_text=True)):
                if tag.lower() == "script" and "src=" in attributes:
                    continue
                assert f'nonce="{nonce}"' in attributes, f"{path}: <{tag}{attributes}>"


def test_each_response_has_a_fresh_nonce(admin, web_school):
    seen = set()
    for _ in range(3):
        for path in ("/office/", "/reports/roll-call", "/login", "/no/such/page"):
            response = admin.get(path)
            _, nonce = policy_of(response)
            seen.add(nonce)
            if "<style" in (page := response.get_data(as_text=True)):
                assert f'nonce="{nonce}"' in page
    assert len(seen) == 12


def test_the_kiosk_screen_and_its_json_are_never_stored(paired, web_school):
    screen = paired.get("/kiosk")
    assert screen.status_code == 200
    assert_common(screen)
    assert_policy(screen)
    assert screen.headers["Cache-Control"] == "no-store"

    events = paired.get("/kiosk/events?after=0")
    assert events.status_code == 200 and events.is_json
    assert_common(events)
    assert events.headers["Cache-Control"] == "no-store"

    scan = paired.post("/api/v1/scan", json={"code": web_school.alice.badge_id},
                       headers={"Authorization": f"Bearer {web_school.staff_kiosk_token}"})
    assert scan.status_code == 200 and scan.is_json
    assert "Alice" in scan.get_data(as_text=True)
    assert_common(scan)
    assert scan.headers["Cache-Control"] == "no-store"


def test_every_route_answers_with_the_headers_whatever_it_answers(app: Flask, admin, web_school):
    """Each GET route in the app, signed in as an admin: a page, a download, a redirect, a
    refusal or a 404, the headers are on it."""
    ids = {"person_id": web_school.alice.id, "device_id": web_school.alice_phone.id}
    rule: Rule
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint == "static":
            continue
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<int:{name}>", str(ids.get(name, 1)))
            path = re.sub(rf"<(?:[a-z]+:)?{name}>", str(ids.get(name, 1)), path)
        response = admin.get(path)
        assert response.status_code < 500, path
        assert_common(response)
        assert response.headers["Cache-Control"] == "no-store", path
        if response.mimetype == "text/html":
            assert_policy(response)


def test_signed_out_pages_and_errors_carry_the_headers(client, web_school):
    for path, status in (("/login", 200), ("/office/", 302), ("/kiosk", 401), ("/kiosk/pair", 200),
                         ("/nothing", 404)):
        response = client.get(path)
        assert response.status_code == status, path
        assert_common(response)
        assert_policy(response)
        assert response.headers["Cache-Control"] == "no-store"


def test_hsts_only_over_https(client, web_school):
    secure = client.get("/login", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_static_files_keep_normal_caching(client):
    for name in ("app.css", "kiosk.js", "print.js"):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200
        assert "no-store" not in response.headers.get("Cache-Control", "")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        response.close()


# --- the templates -------------------------------------------------------------------------

def template_files() -> list[Path]:
    files = sorted(TEMPLATES.rglob("*.html"))
    assert files
    return files


@pytest.mark.parametrize("template", template_files(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_template_has_inline_code_or_style_the_policy_would_refuse(template: Path):
    text = template.read_text(encoding="utf-8")
    for tag, attributes in INLINE_TAG.findall(text):
        if tag.lower() == "script" and "src=" in attributes:
            continue
        assert TEMPLATE_NONCE in attributes, f"<{tag}{attributes}> without the nonce"
    markup = JINJA.sub("", text)  # Jinja's own `x = y` is not an attribute
    assert not STYLE_ATTRIBUTE.search(markup), "a style= attribute: use a class in the CSS"
    assert not EVENT_HANDLER.search(markup), "an inline event handler: use addEventListener"
    assert "javascript:" not in markup.lower()
