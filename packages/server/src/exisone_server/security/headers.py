"""Security headers on every answer (a Litestar ``before_send`` hook).

* everywhere: ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``,
  ``X-Frame-Options: DENY``, ``Cross-Origin-Opener-Policy: same-origin``; over HTTPS also
  ``Strict-Transport-Security``;
* the API (and ``/health``): ``Content-Security-Policy: default-src 'none'; frame-ancestors
  'none'`` and ``Cache-Control: no-store`` (license answers must not be cached by proxies);
* the dashboard: a CSP that allows only the server's own scripts, styles and images — no inline
  scripts, no ``eval``, no framing — and ``Cache-Control: no-store``;
* ``/schema`` (the OpenAPI viewers load their scripts from a CDN): only ``frame-ancestors``.

Headers a handler set itself are kept.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

__all__ = ["API_CSP", "DASHBOARD_CSP", "add_security_headers"]

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SCHEMA_CSP = "frame-ancestors 'none'"
HSTS = "max-age=31536000"

_COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _policy(path: str) -> tuple[str, bool]:
    """(CSP, no-store) for a path."""
    if path.startswith("/dashboard"):
        return DASHBOARD_CSP, True
    if path.startswith("/schema"):
        return SCHEMA_CSP, False
    return API_CSP, path.startswith(("/api", "/health"))


async def add_security_headers(message: Message, scope: Scope) -> None:
    """Add the headers to the start of every HTTP answer."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in _COMMON.items():
        if name not in headers:
            headers[name] = value
    csp, no_store = _policy(scope.get("path", ""))
    if "Content-Security-Policy" not in headers:
        headers["Content-Security-Policy"] = csp
    if no_store and "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"
    if scope.get("scheme") == "https" and "Strict-Transport-Security" not in headers:
        headers["Strict-Transport-Security"] = HSTS
