"""The Payments page's "How products are sold" form in-process (both databases): a product's
renewal address is saved and shown, and anything but an https:// address is refused."""

from __future__ import annotations

import html

import httpx
import pytest

from exisone_server.db import Database

from ..dashboard.helpers import csrf_of, login
from .seeding import Seed


@pytest.fixture(autouse=True)
def _one_ip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXISONE_RATE_LIMIT_LOGIN_PER_IP", "0")


async def _save(client: httpx.AsyncClient, product_id: int, renewal_url: str) -> str:
    token = csrf_of((await client.get("/dashboard/payments")).text)
    saved = await client.post(
        "/dashboard/payments/selling",
        data={
            "csrf_token": token,
            "product_id": str(product_id),
            "quantity_means": "seats",
            "plan_id": "",
            "renewal_url": renewal_url,
        },
    )
    assert saved.status_code == 302, saved.text
    return (await client.get(saved.headers["location"])).text


async def test_the_renewal_address_is_saved_or_refused(
    seed: Seed, client: httpx.AsyncClient, database: Database
) -> None:
    product = await seed.product(name="Sold at Lemon Squeezy")
    await login(client, database, seed.tenant.id)
    address = "https://shop.example.com/buy/abc?checkout[custom][renewLicenseId]={licenseId}"

    page = await _save(client, product.id, address)
    assert "Selling settings saved." in page
    assert f'value="{html.escape(address)}"' in page

    for wrong in ("http://shop.example.com/buy", "javascript:alert(1)", "https://"):
        page = await _save(client, product.id, wrong)
        assert "the renewal address must be an https:// URL" in page, wrong
        assert f'value="{html.escape(address)}"' in page  # unchanged

    page = await _save(client, product.id, "")
    assert "Selling settings saved." in page and html.escape(address) not in page
