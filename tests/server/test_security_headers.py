"""Security headers on the API, the dashboard and errors; the dashboard's cookies, CSRF, session
expiry and login rate limit."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest

from exisone_server.dashboard.accounts import SESSION_LIFETIME, create_user
from exisone_server.security.headers import API_CSP, add_security_headers

from .seeding import Seed

COMMON = {
    "x-content-type-options": "nosniff",
    "referrer-policy": ("no-referrer", "same-origin"),
    "x-frame-options": "DENY",
}


def _assert_common(response: httpx.Response) -> None:
    for name, expected in COMMON.items():
        value = response.headers.get(name)
        assert value in (expected if isinstance(expected, tuple) else (expected,)), (name, value)
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/product"),
        ("POST", "/api/license/validate"),
        ("GET", "/api/nowhere"),
        ("GET", "/health"),
    ],
)
async def test_api_answers_carry_the_security_headers(seed: Seed, method: str, path: str) -> None:
    response = await seed.client.request(
        method,
        path,
        headers=seed.api.headers,
        json={"hardwareId": "h"} if method == "POST" else None,
    )
    _assert_common(response)
    assert response.headers["content-security-policy"] == API_CSP
    assert response.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in response.headers  # plain HTTP here


async def test_errors_and_refusals_carry_them_too(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/api/product"),  # 401
        await client.post(
            "/api/license/validate",
            content=b"x" * 2_000_000,
            headers={"Content-Type": "application/json"},
        ),
    ):
        assert response.status_code in (401, 413)
        _assert_common(response)


async def test_a_header_the_answer_already_has_is_kept_and_not_repeated() -> None:
    message: dict[str, object] = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"Cache-Control", b"max-age=60"), (b"content-type", b"text/plain")],
    }
    await add_security_headers(message, {"type": "http", "path": "/api/x", "scheme": "http"})  # type: ignore[arg-type]

    headers = message["headers"]
    assert isinstance(headers, list)
    names = [name.lower() for name, _ in headers]
    assert names.count(b"cache-control") == 1 and (b"Cache-Control", b"max-age=60") in headers
    assert (b"content-security-policy", API_CSP.encode()) in headers
    assert len(names) == len(set(names))


async def test_https_answers_add_hsts(app: object) -> None:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        response = await client.get("/health")
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_dashboard_pages_forbid_inline_scripts_and_framing(client: httpx.AsyncClient) -> None:
    response = await client.get("/dashboard/login")
    assert response.status_code == 200
    _assert_common(response)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["cache-control"] == "no-store"
    assert not re.search(r"<script(?![^>]*\bsrc=)", response.text), "inline script in the page"
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", response.text), "inline event handler"


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    form = await client.get("/dashboard/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    return await client.post(
        "/dashboard/login",
        data={"csrf_token": token.group(1), "email": email, "password": password},
        follow_redirects=False,
    )


async def test_dashboard_cookies_csrf_and_session_expiry(seed: Seed) -> None:
    async with seed.database.write() as session:
        await create_user(session, seed.tenant.id, "admin-h@example.com", "correct horse battery")
    response = await _login(seed.client, "admin-h@example.com", "correct horse battery")
    assert response.status_code in (302, 303), response.text
    cookies = [value for name, value in response.headers.multi_items() if name == "set-cookie"]
    session_cookie = next(c for c in cookies if "max-age=0" not in c.lower() and "=;" not in c)
    lowered = session_cookie.lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "path=/dashboard" in lowered
    assert f"max-age={int(SESSION_LIFETIME.total_seconds())}" in lowered
    assert timedelta(hours=24) >= SESSION_LIFETIME
    # a form POST without the CSRF token is refused
    refused = await seed.client.post(
        "/dashboard/products", data={"name": "x"}, follow_redirects=False
    )
    assert refused.status_code == 403


async def test_dashboard_cookies_are_secure_over_https(app: object, seed: Seed) -> None:
    async with seed.database.write() as session:
        await create_user(session, seed.tenant.id, "admin-s@example.com", "correct horse battery")
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        response = await _login(client, "admin-s@example.com", "correct horse battery")
    cookies = [value for name, value in response.headers.multi_items() if name == "set-cookie"]
    assert cookies and all("secure" in cookie.lower() for cookie in cookies)


async def test_failed_dashboard_logins_are_rate_limited_per_ip(
    seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXISONE_RATE_LIMIT_LOGIN_PER_IP", "3")
    monkeypatch.setenv("EXISONE_RATE_LIMIT_LOGIN_WINDOW_SECONDS", str(10**9))
    transport = httpx.ASGITransport(app=seed.client._transport.app, client=("203.0.113.77", 5000))  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for n in range(3):  # different accounts: no account is paced
            assert (
                await _login(client, f"nobody{n}@example.com", "wrong password!")
            ).status_code == 401
        blocked = await _login(client, "nobody9@example.com", "wrong password!")
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1
    assert "Too many failed logins" in blocked.text
