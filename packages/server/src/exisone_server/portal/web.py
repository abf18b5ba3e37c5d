"""The portal's request plumbing: which portal, who is signed in, CSRF, cookies, pages.

* Session cookie ``exisone_portal``: random, HttpOnly, SameSite=Lax, Secure when the request
  came over HTTPS (directly or through a trusted proxy), path ``/portal/<slug>`` (so one
  tenant's portal never receives another's cookie); the database keeps its SHA-256.
* CSRF: every POST of a signed-in customer carries the session's synchronizer token
  (``csrf_token``); the public forms (sign-in, keys, the link's confirmation) use a
  double-submit cookie. A POST whose ``Origin`` names another host is refused as well.
* Pages are rendered by the portal's own Jinja environment (autoescaping on): nothing a customer
  or a publisher typed is rendered unescaped.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.enums import MediaType

from ..audit import identify_customer
from ..dashboard.web import CsrfRefused, check_origin, is_secure
from ..db import Database
from .access import Customer, load_customer, pop_flash
from .config import Portal, find_portal
from .settings import PortalServerSettings

__all__ = [
    "FORM_CSRF_COOKIE",
    "SESSION_COOKIE",
    "NotSignedIn",
    "PortalNotFound",
    "Posted",
    "cookie",
    "customer_of",
    "new_form_token",
    "page",
    "portal_of",
    "posted",
    "public_form",
    "render",
    "require_customer",
]

SESSION_COOKIE = "exisone_portal"
FORM_CSRF_COOKIE = "exisone_portal_csrf"

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
#: ``{{ moment | when }}``: a UTC moment as customers read it.
_TEMPLATES.filters["when"] = lambda moment: moment.strftime("%Y-%m-%d %H:%M UTC")


class PortalNotFound(Exception):
    """No enabled portal at this address: answered 404."""


class NotSignedIn(Exception):
    """No live session for this portal: answered with a redirect to its sign-in page."""

    def __init__(self, portal: Portal) -> None:
        super().__init__(portal.slug)
        self.portal = portal


def render(
    template: str,
    context: Mapping[str, Any],
    *,
    status_code: int = 200,
    cookies: list[Cookie] | None = None,
) -> Response[str]:
    """A portal page."""
    html = _TEMPLATES.get_template(template).render(**context)
    return Response(html, status_code=status_code, media_type=MediaType.HTML, cookies=cookies)


def cookie(
    request: Request[Any, Any, Any], portal: Portal, name: str, value: str, max_age: int | None
) -> Cookie:
    """A portal cookie: HttpOnly, SameSite=Lax, Secure over HTTPS, path of this portal."""
    return Cookie(
        key=name,
        value=value,
        path=portal.base,
        httponly=True,
        secure=is_secure(request),
        samesite="lax",
        max_age=max_age,
    )


async def portal_of(database: Database, slug: str) -> Portal:
    """The enabled portal at ``slug``, or :class:`PortalNotFound`."""
    async with database.read_session() as session:
        portal = await find_portal(session, slug, PortalServerSettings.from_env())
    if portal is None:
        raise PortalNotFound
    return portal


async def customer_of(
    request: Request[Any, Any, Any], database: Database, portal: Portal
) -> Customer | None:
    """The signed-in customer of this portal (named in the audit log), or None."""
    async with database.read_session() as session:
        customer = await load_customer(
            session, portal.tenant_id, request.cookies.get(SESSION_COOKIE, "")
        )
    if customer is not None:
        identify_customer(customer.email)
    return customer


async def require_customer(
    request: Request[Any, Any, Any], database: Database, portal: Portal
) -> Customer:
    customer = await customer_of(request, database, portal)
    if customer is None:
        raise NotSignedIn(portal)
    return customer


def _same(sent: object, expected: str) -> bool:
    return (
        bool(expected)
        and isinstance(sent, str)
        and hmac.compare_digest(sent.encode("utf-8"), expected.encode("utf-8"))
    )


def _fields(form: Any) -> dict[str, str]:
    return {key: value for key, value in form.items() if isinstance(value, str)}


@dataclass(frozen=True)
class Posted:
    """A checked POST of a signed-in customer."""

    portal: Portal
    customer: Customer
    form: Mapping[str, str]

    def get(self, name: str) -> str:
        return self.form.get(name, "")


async def posted(request: Request[Any, Any, Any], database: Database, slug: str) -> Posted:
    """The portal, the signed-in customer and the form of a POST whose CSRF token is right."""
    portal = await portal_of(database, slug)
    customer = await require_customer(request, database, portal)
    check_origin(request)
    form = await request.form()
    if not _same(form.get("csrf_token"), customer.csrf_token):
        raise CsrfRefused
    return Posted(portal, customer, _fields(form))


async def public_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The form of a public POST (no session) whose double-submit token is right."""
    check_origin(request)
    form = await request.form()
    if not _same(form.get("csrf_token"), request.cookies.get(FORM_CSRF_COOKIE, "")):
        raise CsrfRefused
    return _fields(form)


def new_form_token() -> str:
    return secrets.token_urlsafe(32)


async def page(
    database: Database,
    portal: Portal,
    customer: Customer,
    template: str,
    context: Mapping[str, Any],
    *,
    status_code: int = 200,
    message: tuple[str, str] | None = None,
) -> Response[str]:
    """A page of a signed-in customer, with the pending message (if any)."""
    if message is None and customer.has_flash:
        async with database.write() as session:
            kept = await pop_flash(session, customer.session_id)
        if kept:
            kind, _, text = kept.partition(":")
            message = (kind, text)
    return render(
        template,
        {"portal": portal, "customer": customer, "csrf": customer.csrf_token, "message": message}
        | dict(context),
        status_code=status_code,
    )
