"""The Analytics and API Usage pages in-process: figures, the country table or the hint, the
CSV export, an API product through the product form, a key's usage and its top-up (CSRF)."""

from __future__ import annotations

import csv
import html
import io
import re
from pathlib import Path

import httpx
from sqlalchemy import select

from exisone_server.analytics.counting import validation_analytics
from exisone_server.analytics.settings import AnalyticsSettings
from exisone_server.models import ApiQuota, Product

from ..server.country_db import write_country_database
from ..server.seeding import Seed
from .helpers import csrf_of, login


def _text(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', page)
    assert found, f"#{element_id} not on the page"
    return html.unescape(found.group(1)).strip()


async def _validate(seed: Seed, product: str, version: str) -> None:
    body = {"hardwareId": "HW", "activationKey": "NOPE-NOPE", "productName": product}
    answer = await seed.api.post("/api/license/validate", {**body, "version": version})
    assert answer.status_code == 200, answer.text


async def test_without_a_country_database_the_page_says_how_to_add_one(
    seed: Seed, client: httpx.AsyncClient
) -> None:
    validation_analytics(seed.database).configure(AnalyticsSettings(True, None))
    await login(client, seed.database, seed.tenant.id)
    await _validate(seed, "Editor", "2.0")

    page = (await client.get("/dashboard/analytics?days=7")).text

    assert _text(page, "total-validations") == "1"
    assert 'id="geo-hint"' in page and "EXISONE_GEOIP_DATABASE" in page
    assert 'id="by-country"' not in page
    assert page.count('class="validations"') == 7  # a bar per day of the period


async def test_countries_filters_and_the_csv(
    seed: Seed, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    countries = write_country_database(tmp_path / "c.mmdb")
    validation_analytics(seed.database).configure(AnalyticsSettings(True, countries))
    await login(client, seed.database, seed.tenant.id)
    for product, version in (("Editor", "2.0"), ("Editor", "2.1"), ("=cmd|' /C calc'!A0", "")):
        await _validate(seed, product, version)

    page = (await client.get("/dashboard/analytics")).text
    assert 'id="by-country"' in page and "<code>SE</code>" in page  # 127.0.0.1 in the test db
    filtered = (await client.get("/dashboard/analytics?product=Editor&version=2.1")).text
    assert _text(filtered, "total-validations") == "1"
    none_sent = (await client.get("/dashboard/analytics?version=-")).text
    assert _text(none_sent, "total-validations") == "1"

    exported = await client.get("/dashboard/analytics.csv?days=7")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(exported.text)))
    assert lines[0][:4] == ["day", "product", "version", "country"]
    assert {(line[1], line[2], line[3], line[4]) for line in lines[1:]} == {
        ("Editor", "2.0", "SE", "1"),
        ("Editor", "2.1", "SE", "1"),
        ("'=cmd|' /C calc'!A0", "", "SE", "1"),
    }


async def test_an_unreadable_country_database_is_shown(
    seed: Seed, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(b"nope")
    validation_analytics(seed.database).configure(AnalyticsSettings(True, broken))
    await login(client, seed.database, seed.tenant.id)
    page = (await client.get("/dashboard/analytics")).text
    assert "cannot be read" in page and str(broken) in page


async def test_api_product_form_usage_and_top_up(seed: Seed, client: httpx.AsyncClient) -> None:
    await login(client, seed.database, seed.tenant.id)
    token = csrf_of((await client.get("/dashboard/products")).text)
    created = await client.post(
        "/dashboard/products",
        data={
            "csrf_token": token,
            "name": "Geo API",
            "trial_days": "0",
            "default_license_days": "0",
            "is_active": "1",
            "is_api_product": "1",
            "default_api_calls": "1000",
            "api_rate_limit_per_minute": "60",
        },
    )
    assert created.status_code == 302, created.text
    async with seed.database.read_session() as session:
        product = await session.scalar(
            select(Product).where(Product.tenant_id == seed.tenant.id, Product.name == "Geo API")
        )
    assert product is not None and product.is_api_product
    assert (product.default_api_calls, product.api_rate_limit_per_minute) == (1000, 60)
    license = await seed.license(product)
    key = license.activation_key
    for amount in (5, 7):
        body = {"activationKey": key, "amount": amount}
        consumed = await seed.api.post("/api/license/consume", body)
        assert consumed.json()["allowed"] is True

    listing = (await client.get("/dashboard/api-usage")).text
    assert key in listing and "Geo API" in listing
    page = (await client.get(f"/dashboard/api-usage?key={key}&days=7")).text
    assert (_text(page, "key-used"), _text(page, "key-limit"), _text(page, "period-calls")) == (
        "12",
        "1000",
        "12",
    )
    assert page.count('class="calls"') == 7

    refused = await client.post(
        f"/dashboard/api-usage/{key}/topup", data={"calls": "500", "csrf_token": "forged"}
    )
    assert refused.status_code == 403
    topped = await client.post(
        f"/dashboard/api-usage/{key}/topup",
        data={"calls": "500", "rate_limit_per_minute": "", "csrf_token": csrf_of(page)},
    )
    assert topped.status_code == 302
    after = (await client.get(topped.headers["location"])).text
    assert "500 calls added: the key has 1500 in all." in html.unescape(after)
    async with seed.database.read_session() as session:
        row = await session.scalar(select(ApiQuota).where(ApiQuota.license_id == license.id))
    assert row is not None and (row.calls_limit, row.rate_limit_per_minute) == (1500, 60)
    bad = await client.post(
        f"/dashboard/api-usage/{key}/topup", data={"calls": "-3", "csrf_token": csrf_of(after)}
    )
    shown = (await client.get(bad.headers["location"])).text
    assert "calls must be between 0 and" in html.unescape(shown)
