"""Security headers on every answer (a Litestar ``before_send`` hook).

* everywhere: ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``,
  ``X-Frame-Options: DENY``, ``Cross-Origin-Opener-Policy: same-origin``; over HTTPS also
  ``Strict-Transport-Security``;
* the API (and ``/health``): ``Content-Security-Policy: default-src 'none'; frame-ancestors
  'none'`` and ``Cache-Control: no-store`` (license answers must not be cached by proxies);
* the dashboard: a CSP that allows only the server's own scripts, styles and images — no inline
  scripts, no ``eval``, no framing — and ``Cache-Control: no-store``;
* the customer portal: the dashboard's policy, except that images may also come from any
  ``https:`` address (the publisher's logo), and ``Cache-Control: no-store``;
* ``/schema`` (the OpenAPI viewers load their scripts from a CDN): only ``frame-ancestors``.

Headers a handler set itself are kept.
"""

from __future__ import annotations

from litestar.types import Message, Scope

__all__ = ["API_CSP", "DASHBOARD_CSP", "PORTAL_CSP", "add_security_headers", "security_headers"]

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
PORTAL_CSP = DASHBOARD_CSP.replace("img-src 'self' data:", "img-src 'self' data: https:")
SCHEMA_CSP = "frame-ancestors 'none'"
HSTS = "max-age=31536000"

_COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

RawHeaders = list[tuple[bytes, bytes]]


def _policy(path: str) -> tuple[str, bool]:
    """(CSP, no-store) for a path."""
    if path.startswith("/dashboard"):
        return DASHBOARD_CSP, True
    if path.startswith("/portal"):
        return PORTAL_CSP, True
    if path.startswith("/schema"):
        return SCHEMA_CSP, False
    return API_CSP, path.startswith(("/api", "/health"))


def _raw(csp: str, no_store: bool, https: bool) -> RawHeaders:
    headers = {**_COMMON, "Content-Security-Policy": csp}
    if no_store:
        headers["Cache-Control"] = "no-store"
    if https:
        headers["Strict-Transport-Security"] = HSTS
    return [(name.lower().encode(), value.encode()) for name, value in headers.items()]


#: The headers of every (CSP, no-store, HTTPS) combination, encoded once.
_PREBUILT = {
    (csp, no_store, https): _raw(csp, no_store, https)
    for csp in (API_CSP, DASHBOARD_CSP, PORTAL_CSP, SCHEMA_CSP)
    for no_store in (False, True)
    for https in (False, True)
}


def security_headers(scope: Scope) -> RawHeaders:
    """The security headers of an answer to ``scope`` (encoded once; do not mutate)."""
    csp, no_store = _policy(scope.get("path", ""))
    return _PREBUILT[csp, no_store, scope.get("scheme") == "https"]


async def add_security_headers(message: Message, scope: Scope) -> None:
    """Add the headers to the start of every HTTP answer (one pass over its headers)."""
    if message["type"] != "http.response.start":
        return
    wanted = security_headers(scope)
    present = list(message.get("headers") or ())
    names = {bytes(name).lower() for name, _ in present}
    message["headers"] = present + [pair for pair in wanted if pair[0] not in names]
