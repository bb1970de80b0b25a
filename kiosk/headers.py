"""Security headers on every response.

Pages run only our own static files and the ``<script>``/``<style>`` blocks that carry this
response's nonce (``nonce="{{ csp_nonce() }}"``); no inline event handler or ``style=``
attribute runs at all. Nothing but static files may be kept in a cache: pages and JSON answers
hold names, IMEIs and exception reasons, and a shared browser or a proxy must not keep them.
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, g, request

# A year, the usual minimum for HSTS. Not includeSubDomains: a school's other hosts may still
# serve plain HTTP, and this app cannot know.
HSTS = "max-age=31536000"


def csp_nonce() -> str:
    """This response's nonce: made on first use, the same for every block on the page."""
    nonce: str | None = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(16)
    return nonce


def content_security_policy(nonce: str) -> str:
    """Our origin only; inline code and styles only by nonce; no plugins, no <base>, no
    framing (which also stops click-jacking), and forms post only to us. No page uses a data:
    image, so images are ours too: the QR codes are inline SVG."""
    return "; ".join((
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        f"style-src 'self' 'nonce-{nonce}'",
        "img-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ))


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    if response.mimetype == "text/html":
        # A policy governs documents; a PDF or CSV is a download, and a policy on a PDF can
        # stop a browser's built-in viewer from showing it.
        headers["Content-Security-Policy"] = content_security_policy(csp_nonce())
    headers["X-Content-Type-Options"] = "nosniff"
    # Not no-referrer: Flask-WTF refuses a form posted over HTTPS without a Referer from this
    # host. same-origin sends one to us and nothing to any other site.
    headers["Referrer-Policy"] = "same-origin"
    if request.is_secure:
        headers["Strict-Transport-Security"] = HSTS
    if request.endpoint != "static":
        headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.add_template_global(csp_nonce)
    app.after_request(add_security_headers)
