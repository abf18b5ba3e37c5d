"""The portal's settings (dashboard page, checks), its security headers and cookie flags, the
theme's contrast, and the release rules on the dashboard (in-process, both databases)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from exisone_server.portal.addresses import check_logo_url, check_slug, public_origin
from exisone_server.portal.theme import text_on, theme_css

from ..dashboard.helpers import login
from ..server.helpers import activate_body
from ..server.seeding import Seed
from .helpers import csrf_of, open_portal, sign_in


def test_what_the_settings_accept() -> None:
    assert check_slug(" Acme-Tools ") == "acme-tools"
    for bad in ("", "-acme", "acme-", "a" * 64, "static", "acme/x", "äcme"):
        with pytest.raises(ValueError):
            check_slug(bad)
    assert public_origin("https://Licenses.Acme.example/") == "https://licenses.acme.example"
    assert public_origin("http://127.0.0.1:8000") == "http://127.0.0.1:8000"
    assert public_origin("http://localhost:8000") == "http://localhost:8000"
    for bad in (
        "http://licenses.acme.example",  # the links carry a secret: HTTPS
        "https://licenses.acme.example/portal/acme",
        "https://user:pw@licenses.acme.example",
        "ftp://licenses.acme.example",
        "licenses.acme.example",
    ):
        with pytest.raises(ValueError):
            public_origin(bad)
    assert check_logo_url("https://cdn.acme.example/logo.svg")
    for bad in ("http://cdn.acme.example/logo.png", 'https://x.example/a"onerror=1', "data:x"):
        with pytest.raises(ValueError):
            check_logo_url(bad)


def test_the_theme_keeps_text_readable_on_the_accent() -> None:
    assert text_on("#0b6e4f") == "#ffffff" and text_on("#ffe066") == "#000000"
    assert theme_css("#ffe066") == ":root { --accent: #ffe066; --accent-text: #000000; }\n"
    assert "--accent: #1f4fae" in theme_css(None)


async def test_the_dashboard_page_saves_the_portal(app: Any, seed: Seed) -> None:
    await login(seed.client, seed.database, seed.tenant.id)
    page = await seed.client.get("/dashboard/portal")
    assert page.status_code == 200 and "The portal is off." in page.text

    async def save(**fields: str) -> httpx.Response:
        shown = await seed.client.get("/dashboard/portal")
        data = {"csrf_token": csrf_of(shown.text), "slug": "", "public_url": "", **fields}
        answer = await seed.client.post("/dashboard/portal", data=data)
        assert answer.status_code == 302
        return await seed.client.get("/dashboard/portal")

    refused = await save(slug="Bad Slug!", enabled="1")
    assert "The portal address must be 1 to 63 lower-case letters" in refused.text
    refused = await save(slug=f"t{seed.tenant.id}", enabled="1")
    assert "Set the portal&#39;s public address" in refused.text
    other = await Seed.create(seed.database, seed.master_key, seed.client)
    taken = await open_portal(other)
    refused = await save(slug=taken.rsplit("/", 1)[1], public_url="https://shop.example")
    assert "is taken; choose another" in refused.text
    saved = await save(
        slug=f"t{seed.tenant.id}",
        public_url="https://shop.example",
        accent_color="#0B6E4F",
        display_name="Acme",
        enabled="1",
    )
    assert "Portal settings saved. The portal is on." in saved.text
    assert f"https://shop.example/portal/t{seed.tenant.id}" in saved.text
    theme = await seed.client.get(f"/portal/t{seed.tenant.id}/theme.css")
    assert theme.status_code == 200 and "--accent: #0b6e4f" in theme.text
    assert theme.headers["content-type"].startswith("text/css")


async def test_portal_pages_have_their_policy_and_secure_cookies_over_https(
    app: Any, seed: Seed
) -> None:
    email = "secure-buyer@example.com"
    await seed.license(await seed.product(), email=email)
    base = await open_portal(seed)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        page = await client.get(base)
        await client.post(
            f"{base}/sign-in",
            data={"csrf_token": csrf_of(page.text), "email": email},
            headers={"Origin": "https://testserver"},
        )
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "img-src 'self' data: https:" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "same-origin"
    assert page.headers["x-frame-options"] == "DENY"
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text), "inline script in the page"
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", page.text), "inline event handler"
    cookie = page.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert f"path={base}" in cookie


async def test_the_dashboard_shows_the_release_rules_and_who_released(app: Any, seed: Seed) -> None:
    email = "rules-buyer@example.com"
    product = await seed.product(
        name="Ruled", deactivation_cooldown_hours=12, max_releases_per_30_days=4
    )
    license = await seed.license(product, email=email)
    await seed.api.post("/api/license/activate", activate_body(license, product, "PC-1"))
    base = await open_portal(seed)
    customer = await sign_in(app, seed, base, email)
    shown = await customer.client.get(f"{base}/licenses/{license.id}")
    device = re.search(r'name="device" value="(\d+)"', shown.text)
    assert device
    await customer.client.post(
        f"{base}/licenses/{license.id}/release",
        data={"csrf_token": csrf_of(shown.text), "device": device.group(1)},
    )
    await login(seed.client, seed.database, seed.tenant.id)

    key_page = (await seed.client.get(f"/dashboard/keys/{license.activation_key}")).text
    edit = (await seed.client.get(f"/dashboard/products/{product.id}")).text

    assert "Hours between two releases: 12" in key_page
    assert "Most releases in 30 days: 4" in key_page
    assert "The next release by the customer or the application is possible from" in key_page
    assert "(release_cooldown)" in key_page
    assert "deactivated</strong> by customer" in key_page
    assert 'id="deactivation_cooldown_hours" name="deactivation_cooldown_hours"' in edit
    assert 'value="12"' in edit and 'value="4"' in edit
