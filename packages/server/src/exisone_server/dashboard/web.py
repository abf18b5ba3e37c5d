"""The dashboard's request plumbing: who is logged in, CSRF checks, cookies, page rendering.

* Session cookie ``exisone_session``: random, HttpOnly, SameSite=Lax, Secure when the request
  came over HTTPS (directly or through a trusted proxy), path ``/dashboard``; the database keeps
  its SHA-256 (accounts.py).
* CSRF: every POST of a logged-in user must carry the session's synchronizer token in the form
  field ``csrf_token``; the login form uses a double-submit cookie. A POST whose ``Origin``
  header names another site is refused as well.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.enums import MediaType
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit import identify_user
from ..db import Database
from ..errors import ApiError
from .accounts import SessionView, load_session, pop_flash, set_flash

__all__ = [
    "BASE",
    "LOGIN_CSRF_COOKIE",
    "SESSION_COOKIE",
    "CsrfRefused",
    "NotLoggedIn",
    "Posted",
    "check_origin",
    "cookie",
    "form_int",
    "page",
    "perform",
    "posted",
    "require_user",
    "security_headers",
]

BASE = "/dashboard"
SESSION_COOKIE = "exisone_session"
LOGIN_CSRF_COOKIE = "exisone_login_csrf"

T = TypeVar("T")

#: Sent with every dashboard page (no inline script: JavaScript comes from /dashboard/static).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class NotLoggedIn(Exception):
    """No live session: the router answers with a redirect to the login page."""


class CsrfRefused(Exception):
    """A POST without the right CSRF token (or from another origin): answered 403."""


def security_headers(response: Response[Any]) -> Response[Any]:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def is_secure(request: Request[Any, Any, Any]) -> bool:
    """True when the browser talks HTTPS to us (or a trusted proxy says so: X-Forwarded-Proto)."""
    return request.url.scheme == "https"


def cookie(
    request: Request[Any, Any, Any], name: str, value: str, *, max_age: int | None = None
) -> Cookie:
    """A dashboard cookie: HttpOnly, SameSite=Lax, Secure over HTTPS, path /dashboard."""
    return Cookie(
        key=name,
        value=value,
        path=BASE,
        httponly=True,
        secure=is_secure(request),
        samesite="lax",
        max_age=max_age,
    )


async def require_user(request: Request[Any, Any, Any], database: Database) -> SessionView:
    """The logged-in user of the request, or :class:`NotLoggedIn`."""
    token = request.cookies.get(SESSION_COOKIE, "")
    async with database.read_session() as session:
        view = await load_session(session, token)
    if view is None:
        raise NotLoggedIn
    identify_user(view.email)  # hook (security): the audit log names this user
    return view


def check_origin(request: Request[Any, Any, Any]) -> None:
    """Refuse a POST whose Origin (when the browser sends one) names another host.

    The host is compared, not the scheme: behind a TLS proxy the app may see ``http`` while the
    browser says ``https``. A proxy must pass the ``Host`` header on (or ``X-Forwarded-Host``).
    """
    origin = request.headers.get("origin")
    if origin is None:
        return
    hosts = {request.headers.get("host", ""), request.headers.get("x-forwarded-host", "")}
    if urlsplit(origin).netloc.lower() not in {host.lower() for host in hosts if host}:
        raise CsrfRefused


@dataclass(frozen=True)
class Posted:
    """A checked form POST of a logged-in user."""

    user: SessionView
    form: Mapping[str, str]
    checked: Mapping[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        return self.form.get(name, default)

    def flag(self, name: str) -> bool:
        return name in self.form

    def all(self, name: str) -> list[str]:
        return self.checked.get(name, [])


async def posted(request: Request[Any, Any, Any], database: Database) -> Posted:
    """The logged-in user and the form of a POST whose CSRF token is right."""
    user = await require_user(request, database)
    check_origin(request)
    form = await request.form()
    sent = form.get("csrf_token")
    if not isinstance(sent, str) or not hmac.compare_digest(
        sent.encode("utf-8"), user.csrf_token.encode("utf-8")
    ):
        raise CsrfRefused
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    lists = {key: [v for v in form.getall(key) if isinstance(v, str)] for key in form}
    return Posted(user, values, lists)


def form_int(value: str, label: str, *, optional: bool = False) -> int | None:
    """An integer form field; a plain-words error when it is not a whole number."""
    text = value.strip()
    if not text:
        if optional:
            return None
        raise ApiError("invalid_request", f"{label} is required.")
    try:
        return int(text)
    except ValueError:
        raise ApiError("invalid_request", f"{label} must be a whole number.") from None


async def perform(
    database: Database,
    user: SessionView,
    work: Callable[[AsyncSession], Awaitable[T]],
    *,
    done: str | Callable[[T], str],
    back: str | Callable[[T], str],
    failed_back: str | None = None,
) -> Redirect:
    """Run ``work`` in one write transaction, keep the outcome as a message, redirect.

    A domain error (:class:`ApiError`) rolls the work back and becomes the message, in plain
    words; the redirect then goes to ``failed_back`` (default: ``back`` when it is a path).
    """
    try:
        async with database.write() as session:
            result = await work(session)
            message = done(result) if callable(done) else done
            await set_flash(session, user.session_id, "ok:" + message)
        return Redirect(back(result) if callable(back) else back)
    except ApiError as exc:
        async with database.write() as session:
            await set_flash(session, user.session_id, "error:" + exc.message)
        target = failed_back or (back if isinstance(back, str) else BASE)
        return Redirect(target)


async def page(
    request: Request[Any, Any, Any],
    database: Database,
    user: SessionView,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    message: tuple[str, str] | None = None,
) -> Template:
    """Render a page of the logged-in user, with the pending message (if any)."""
    if message is None and user.has_flash:
        async with database.write() as session:
            kept = await pop_flash(session, user.session_id)
        if kept:
            kind, _, text = kept.partition(":")
            message = (kind, text)
    return Template(
        template_name=template,
        context={
            "user": user,
            "csrf": user.csrf_token,
            "message": message,
            "path": request.url.path,
            **context,
        },
        status_code=status_code,
        media_type=MediaType.HTML,
    )


def new_login_csrf() -> str:
    return secrets.token_urlsafe(32)
