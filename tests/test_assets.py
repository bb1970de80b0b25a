"""Everything the kiosk and office pages load comes from the product itself: no CDN, no web
fonts, nothing that stops working when the school's network blocks the outside world."""

from __future__ import annotations

import re

from tests.conftest import pair_browser

# A URL that leaves the product: scheme-relative or absolute, to any host.
EXTERNAL = re.compile(r"(?:https?:)?//[a-z0-9-]+(?:\.[a-z0-9-]+)+", re.IGNORECASE)
# XML namespaces look like URLs but are never fetched.
NAMESPACE = re.compile(r"""xmlns(?::\w+)?=["'][^"']*["']""")
LINKED = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


def external_urls(text: str) -> list[str]:
    return EXTERNAL.findall(NAMESPACE.sub("", text))


def test_kiosk_and_office_pages_load_nothing_from_elsewhere(client, auth, web_school):
    pair_browser(client)
    auth.login()
    alice = web_school.alice.id
    pages = ["/kiosk", "/login", "/office/", "/office/lockers", "/office/people/new",
             f"/office/people/{alice}", f"/office/people/{alice}/devices/new"]
    assets: set[str] = set()
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        assert external_urls(html) == [], path
        links = LINKED.findall(html)
        assert all(link.startswith(("/", "#")) and not link.startswith("//") for link in links)
        assets.update(link for link in links if link.startswith("/static/"))

    assert {"/static/kiosk.css", "/static/kiosk.js", "/static/app.css"} <= assets
    for asset in sorted(assets):
        response = client.get(asset)
        assert response.status_code == 200, asset
        text = response.get_data(as_text=True)
        assert external_urls(text) == [], asset
        assert "@import" not in text, asset  # CSS pulls in nothing further
