"""The portal's public pages: ask for a sign-in link or for one's keys, use a link, the theme.

Asking for a link or for the keys answers the same page whatever the address: the request is
counted against the limits (:mod:`.limits`) first, the same for every address, and the
address is looked up only after the answer has been sent (a background task), so neither the
answer nor its timing tells whether the address has licenses.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from .. import mail
from ..audit import identify_customer, record_audit
from ..db import Database
from ..deps import DatabaseDep
from ..mail.addresses import recipient
from .access import (
    LINK_LIFETIME,
    SESSION_LIFETIME,
    create_link,
    customer_has_licenses,
    forget_expired_links,
    link_mail_key,
    peek_link,
    start_session,
    use_link,
)
from .config import Portal
from .limits import take_mail_slot
from .settings import PortalServerSettings
from .theme import theme_css
from .web import (
    FORM_CSRF_COOKIE,
    SESSION_COOKIE,
    cookie,
    customer_of,
    new_form_token,
    portal_of,
    public_form,
    render,
)

__all__ = ["ask_keys", "ask_link", "link_confirm", "link_use", "sign_in_page", "theme"]

logger = logging.getLogger("exisone_server")

_LINK_MINUTES = int(LINK_LIFETIME.total_seconds() // 60)


def _public_page(
    request: Request[Any, Any, Any],
    portal: Portal,
    template: str,
    *,
    status_code: int = 200,
    message: tuple[str, str] | None = None,
    **context: Any,
) -> Response[str]:
    """A page with public forms: their double-submit token (kept when the browser has one)."""
    token = request.cookies.get(FORM_CSRF_COOKIE) or new_form_token()
    return render(
        template,
        {"portal": portal, "csrf": token, "message": message, **context},
        status_code=status_code,
        cookies=[cookie(request, portal, FORM_CSRF_COOKIE, token, max_age=3600)],
    )


@get("/{slug:str}")
async def sign_in_page(
    slug: FromPath[str], request: Request[Any, Any, Any], database: DatabaseDep
) -> Any:
    """The sign-in page (a signed-in customer goes to their licenses)."""
    portal = await portal_of(database, slug)
    if await customer_of(request, database, portal) is not None:
        return Redirect(f"{portal.base}/licenses")
    return _public_page(request, portal, "sign_in.html")


async def _send_link(database: Database, portal: Portal, email: str) -> None:
    """After the answer: e-mail a sign-in link when the address has licenses here."""
    try:
        async with database.write() as session:
            await forget_expired_links(session)
            if not await customer_has_licenses(session, portal.tenant_id, email):
                return
            link, token = await create_link(session, portal.tenant_id, email)
            await mail.enqueue(
                session,
                portal.tenant_id,
                mail.MailKind.PORTAL_SIGN_IN,
                to=email,
                dedupe_key=link_mail_key(link.token_hash),
                values={
                    "SignInLink": f"{portal.url}/link?token={token}",
                    "LinkMinutes": _LINK_MINUTES,
                    "PortalName": portal.name,
                },
            )
    except Exception:
        logger.exception("could not queue a portal sign-in link")


async def _send_keys(database: Database, portal: Portal, email: str) -> None:
    """After the answer: e-mail the address its keys, when it has any here."""
    try:
        async with database.write() as session:
            await mail.send_keys(session, portal.tenant_id, email)
    except Exception:
        logger.exception("could not queue a portal keys e-mail")


async def _ask(
    request: Request[Any, Any, Any], database: Database, slug: FromPath[str], what: str
) -> Response[str]:
    portal = await portal_of(database, slug)
    form = await public_form(request)
    address = recipient(form.get("email", ""))
    if address is None:
        return _public_page(
            request,
            portal,
            "sign_in.html",
            status_code=400,
            message=("error", "Enter your e-mail address, e.g. you@example.com."),
            email=form.get("email", "")[:320],
        )
    email = address.lower()
    client = request.client.host if request.client else None
    wait = await take_mail_slot(
        database, PortalServerSettings.from_env(), portal.tenant_id, email, client
    )
    if wait is not None:
        minutes = max(1, -(-wait // 60))
        answer = _public_page(
            request,
            portal,
            "sign_in.html",
            status_code=429,
            message=("error", f"Too many requests; try again in {minutes} minutes."),
            email=email,
        )
        answer.headers["Retry-After"] = str(wait)
        return answer
    job = _send_link if what == "link" else _send_keys
    answer = _public_page(
        request, portal, "check_mail.html", email=email, what=what, minutes=_LINK_MINUTES
    )
    answer.background = BackgroundTask(job, database, portal, email)
    return answer


@post("/{slug:str}/sign-in", status_code=200)
async def ask_link(
    slug: FromPath[str], request: Request[Any, Any, Any], database: DatabaseDep
) -> Any:
    """E-mail a sign-in link (when the address has licenses); the same answer for any address."""
    return await _ask(request, database, slug, "link")


@post("/{slug:str}/keys", status_code=200)
async def ask_keys(
    slug: FromPath[str], request: Request[Any, Any, Any], database: DatabaseDep
) -> Any:
    """E-mail the address its keys (when it has any); the same answer for any address."""
    return await _ask(request, database, slug, "keys")


def _link_gone(request: Request[Any, Any, Any], portal: Portal) -> Response[str]:
    return _public_page(request, portal, "link_gone.html", status_code=410)


@get("/{slug:str}/link")
async def link_confirm(
    slug: FromPath[str],
    request: Request[Any, Any, Any],
    database: DatabaseDep,
    token: FromQuery[str] = "",
) -> Any:
    """The e-mailed link: a button that signs in (a mail scanner's GET uses nothing up)."""
    portal = await portal_of(database, slug)
    async with database.read_session() as session:
        email = await peek_link(session, portal.tenant_id, token)
    if email is None:
        return _link_gone(request, portal)
    return _public_page(request, portal, "link.html", token=token, email=email)


@post("/{slug:str}/link", status_code=200)
async def link_use(
    slug: FromPath[str], request: Request[Any, Any, Any], database: DatabaseDep
) -> Any:
    """Use the link (once) and open a session."""
    portal = await portal_of(database, slug)
    form = await public_form(request)
    async with database.write() as session:
        email = await use_link(session, portal.tenant_id, form.get("token", ""))
        if email is not None:
            identify_customer(email)
            token = await start_session(session, portal.tenant_id, email)
            await record_audit(
                session, portal.tenant_id, "portal.sign_in", target_type="customer", target=email
            )
    if email is None:
        return _link_gone(request, portal)
    answer = Redirect(f"{portal.base}/licenses")
    answer.cookies.append(
        cookie(
            request,
            portal,
            SESSION_COOKIE,
            token,
            max_age=int(SESSION_LIFETIME.total_seconds()),
        )
    )
    answer.cookies.append(cookie(request, portal, FORM_CSRF_COOKIE, "", max_age=0))
    return answer


@get("/{slug:str}/theme.css")
async def theme(slug: FromPath[str], database: DatabaseDep) -> Response[str]:
    """The portal's colours (a stylesheet: the security policy allows no inline style)."""
    portal = await portal_of(database, slug)
    return Response(theme_css(portal.accent_color), media_type="text/css")
