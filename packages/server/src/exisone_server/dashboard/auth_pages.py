"""Log in and log out.

Every refused login gets the same page whatever the cause (unknown e-mail or wrong password);
the limits of :mod:`..security.login_limits` answer 429 the same way for every account.
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request, get, post
from litestar.enums import MediaType
from litestar.response import Redirect, Template

from ..deps import DatabaseDep, MasterKeyDep
from ..security.login_limits import login_retry_after, record_login_failure
from .accounts import (
    SESSION_LIFETIME,
    LoginRefused,
    end_session,
    find_user,
    load_session,
    log_in,
)
from .known_device import KNOWN_DEVICE_COOKIE, KNOWN_DEVICE_LIFETIME, device_of, new_device_cookie
from .web import (
    BASE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    CsrfRefused,
    check_origin,
    cookie,
    new_login_csrf,
    posted,
)

__all__ = ["login_form", "login_submit", "logout"]


def _login_page(
    request: Request[Any, Any, Any], *, error: str | None = None, status_code: int = 200
) -> Template:
    token = new_login_csrf()
    return Template(
        template_name="login.html",
        context={"csrf": token, "message": ("error", error) if error else None},
        status_code=status_code,
        media_type=MediaType.HTML,
        cookies=[cookie(request, LOGIN_CSRF_COOKIE, token, max_age=3600)],
    )


@get("/login", name="dashboard:login")
async def login_form(request: Request[Any, Any, Any], database: DatabaseDep) -> Any:
    """The login form (straight to the home page when already logged in)."""
    async with database.read_session() as session:
        if await load_session(session, request.cookies.get(SESSION_COOKIE, "")):
            return Redirect(f"{BASE}/")
    return _login_page(request)


@post("/login", status_code=200)
async def login_submit(
    request: Request[Any, Any, Any], database: DatabaseDep, master_key: MasterKeyDep
) -> Any:
    """Check the password; on success a new session cookie, a known-device cookie and the home
    page."""
    check_origin(request)
    form = await request.form()
    sent = form.get("csrf_token")
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if (
        not expected
        or not isinstance(sent, str)
        or not hmac.compare_digest(sent.encode(), expected.encode())
    ):
        raise CsrfRefused
    email = form.get("email")
    password = form.get("password")
    if not isinstance(email, str) or not isinstance(password, str) or not email or not password:
        return _login_page(request, error="Enter your email and password.", status_code=400)
    ip = request.client.host if request.client else None
    async with database.read_session() as session:
        user = await find_user(session, email)
    device = device_of(master_key, user, request.cookies.get(KNOWN_DEVICE_COOKIE, ""))
    wait = await login_retry_after(database, ip, email, device=device)
    if wait is not None:
        page = _login_page(
            request, error=f"Too many failed logins; try again in {wait} s.", status_code=429
        )
        page.headers["Retry-After"] = str(wait)
        return page
    async with database.write() as session:
        error: str | None = None
        try:
            result = await log_in(session, email, password)
        except LoginRefused as refused:
            error = refused.message  # leaving the block commits the failure count
    if error is not None:
        await record_login_failure(database, ip, email, device=device)
        return _login_page(request, error=error, status_code=401)
    response = Redirect(f"{BASE}/")
    response.cookies.append(
        cookie(
            request,
            SESSION_COOKIE,
            result.token,
            max_age=int(SESSION_LIFETIME.total_seconds()),
        )
    )
    response.cookies.append(
        cookie(
            request,
            KNOWN_DEVICE_COOKIE,
            new_device_cookie(master_key, result.user),
            max_age=int(KNOWN_DEVICE_LIFETIME.total_seconds()),
        )
    )
    response.cookies.append(cookie(request, LOGIN_CSRF_COOKIE, "", max_age=0))
    return response


@post("/logout", status_code=200)
async def logout(request: Request[Any, Any, Any], database: DatabaseDep) -> Redirect:
    """End the session (in the database, so the cookie is worthless even if kept)."""
    form = await posted(request, database)
    async with database.write() as session:
        await end_session(session, form.user.session_id)
    response = Redirect(f"{BASE}/login")
    response.cookies.append(cookie(request, SESSION_COOKIE, "", max_age=0))
    return response
