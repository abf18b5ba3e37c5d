"""Login, sessions and CSRF of the dashboard, in-process, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import httpx
from sqlalchemy import select

from exisone_server.app import create_app
from exisone_server.config import Settings
from exisone_server.dashboard.accounts import SESSION_LIFETIME
from exisone_server.db import Database
from exisone_server.kit.time import utc_now
from exisone_server.models import DashboardSession, DashboardUser, Product

from ..server.seeding import Seed
from .helpers import PASSWORD, csrf_of, login, make_user, submit_login


async def test_login_sets_a_hardened_session_cookie(seed: Seed, client: httpx.AsyncClient) -> None:
    email = await make_user(seed.database, seed.tenant.id)
    answer = await submit_login(client, email)

    assert answer.status_code == 302
    assert answer.headers["location"] == "/dashboard/"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if "exisone_session=" in c)
    parts = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in parts
    assert "samesite=lax" in parts
    assert "path=/dashboard" in parts
    assert "secure" not in parts  # plain http: a Secure cookie would never come back
    home = await client.get("/dashboard/")
    assert home.status_code == 200
    assert email in home.text


async def test_cookie_is_secure_over_https(seed: Seed, app) -> None:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as https:
        email = await make_user(seed.database, seed.tenant.id)
        answer = await submit_login(https, email)
    cookie = next(c for c in answer.headers.get_list("set-cookie") if "exisone_session=" in c)
    assert "secure" in [part.strip().lower() for part in cookie.split(";")]


async def test_only_a_hash_of_the_session_is_stored(seed: Seed, client: httpx.AsyncClient) -> None:
    email = await make_user(seed.database, seed.tenant.id)
    await submit_login(client, email)
    value = client.cookies.get("exisone_session", path="/dashboard")
    assert value
    async with seed.database.read_session() as session:
        rows = list(
            await session.scalars(
                select(DashboardSession)
                .join(DashboardUser, DashboardUser.id == DashboardSession.user_id)
                .where(DashboardUser.email == email)
            )
        )
        user = await session.scalar(select(DashboardUser).where(DashboardUser.email == email))
    assert [row.token_hash for row in rows] == [hashlib.sha256(value.encode()).hexdigest()]
    assert value not in rows[0].token_hash
    assert user is not None and user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert user.last_login_at is not None


async def test_wrong_password_and_unknown_email_get_the_same_answer(
    seed: Seed, client: httpx.AsyncClient
) -> None:
    email = await make_user(seed.database, seed.tenant.id)
    wrong = await submit_login(client, email, "not the password")
    unknown = await submit_login(client, "nobody@example.com", PASSWORD)

    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong email or password." in wrong.text
    assert "Wrong email or password." in unknown.text
    assert "exisone_session" not in client.cookies
    assert (await client.get("/dashboard/")).status_code == 302


async def test_login_without_csrf_is_refused(seed: Seed, client: httpx.AsyncClient) -> None:
    email = await make_user(seed.database, seed.tenant.id)
    no_field = await client.post("/dashboard/login", data={"email": email, "password": PASSWORD})
    await client.get("/dashboard/login")  # sets the double-submit cookie
    wrong_field = await client.post(
        "/dashboard/login", data={"csrf_token": "forged", "email": email, "password": PASSWORD}
    )
    assert no_field.status_code == wrong_field.status_code == 403
    assert "refused" in no_field.text
    assert "exisone_session" not in client.cookies


async def test_posts_without_the_session_csrf_token_change_nothing(
    seed: Seed, client: httpx.AsyncClient
) -> None:
    await login(client, seed.database, seed.tenant.id)
    fields = {"name": "Forged", "trial_days": "0", "default_license_days": "0"}
    missing = await client.post("/dashboard/products", data=fields)
    wrong = await client.post("/dashboard/products", data={**fields, "csrf_token": "x" * 43})
    token = csrf_of((await client.get("/dashboard/products")).text)
    other_site = await client.post(
        "/dashboard/products",
        data={**fields, "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert missing.status_code == wrong.status_code == other_site.status_code == 403
    async with seed.database.read_session() as session:
        names = list(
            await session.scalars(select(Product.name).where(Product.tenant_id == seed.tenant.id))
        )
    assert names == []
    same_site = await client.post(
        "/dashboard/products",
        data={**fields, "csrf_token": token},
        headers={"Origin": "http://testserver"},
    )
    assert same_site.status_code == 302
    behind_tls_proxy = await client.post(
        "/dashboard/products",
        data={**fields, "name": "Proxied", "csrf_token": token},
        headers={"Origin": "https://licensing.example", "X-Forwarded-Host": "licensing.example"},
    )
    assert behind_tls_proxy.status_code == 302


async def test_expired_session_goes_back_to_login(seed: Seed, client: httpx.AsyncClient) -> None:
    email = await make_user(seed.database, seed.tenant.id)
    await submit_login(client, email)
    async with seed.database.write() as session:
        row = await session.scalar(
            select(DashboardSession)
            .join(DashboardUser, DashboardUser.id == DashboardSession.user_id)
            .where(DashboardUser.email == email)
        )
        assert row is not None
        assert row.expires_at <= utc_now() + SESSION_LIFETIME
        row.expires_at = utc_now() - timedelta(seconds=1)

    answer = await client.get("/dashboard/products")
    assert answer.status_code == 302
    assert answer.headers["location"] == "/dashboard/login"


async def test_logout_ends_the_session_in_the_database(
    seed: Seed, client: httpx.AsyncClient
) -> None:
    await login(client, seed.database, seed.tenant.id)
    cookie = client.cookies.get("exisone_session", path="/dashboard")
    out = await client.post(
        "/dashboard/logout", data={"csrf_token": csrf_of((await client.get("/dashboard/")).text)}
    )
    assert out.status_code == 302
    replay = await client.get("/dashboard/", headers={"Cookie": f"exisone_session={cookie}"})
    assert replay.status_code == 302  # the old cookie value is worthless


async def test_pages_need_a_login(client: httpx.AsyncClient, database: Database) -> None:
    for path in ["/dashboard/", "/dashboard/keys", "/dashboard/tokens", "/dashboard/crypto"]:
        answer = await client.get(path)
        assert answer.status_code == 302, path
        assert answer.headers["location"] == "/dashboard/login"
    root = await client.get("/")
    assert root.status_code == 302 and root.headers["location"] == "/dashboard/"


async def test_pages_carry_a_csp_without_inline_scripts(
    seed: Seed, client: httpx.AsyncClient
) -> None:
    await login(client, seed.database, seed.tenant.id)
    page = await client.get("/dashboard/")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "<script>" not in page.text
    assert page.headers["cache-control"] == "no-store"


async def test_the_api_needs_no_csrf_token(seed: Seed) -> None:
    await seed.product("ApiApp")
    answer = await seed.api.post(
        "/api/activationkey/generate", {"productName": "ApiApp", "email": "a@example.com"}
    )
    assert answer.status_code == 200, answer.text


async def test_a_user_sees_only_its_tenant(seed: Seed, client: httpx.AsyncClient) -> None:
    other = await Seed.create(seed.database, seed.master_key, seed.client)
    foreign = await other.product("TheirApp")
    await login(client, seed.database, seed.tenant.id)
    answer = await client.get(f"/dashboard/products/{foreign.id}")
    assert answer.status_code == 404
    assert "No product with id" in answer.text
    listing = await client.get("/dashboard/products")
    assert "TheirApp" not in listing.text


async def test_sessions_are_shared_through_the_database(
    seed: Seed, client: httpx.AsyncClient, settings: Settings
) -> None:
    """Another app with its own engine (another process, in production) accepts the cookie."""
    await login(client, seed.database, seed.tenant.id)
    cookie = client.cookies.get("exisone_session", path="/dashboard") or ""
    database = Database.from_settings(settings)
    try:
        second = create_app(settings, database=database, master_key=seed.master_key)
        transport = httpx.ASGITransport(app=second)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
            answer = await other.get("/dashboard/", headers={"Cookie": f"exisone_session={cookie}"})
            anonymous = await other.get("/dashboard/")
    finally:
        await database.dispose()
    assert answer.status_code == 200
    assert anonymous.status_code == 302
