"""Consume in the seam (ahead of the framework) answers exactly as the framework's route.

Each case goes to the seam, then to the framework's route (the seam switched off): the same
status, headers and bytes. A consume that spends is compared by what it must differ in (one
more call used) and by what the database holds afterwards.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select

from exisone_server.api_keys import endpoints
from exisone_server.app import ExisOneApp
from exisone_server.auth import Permission
from exisone_server.models import ApiQuota

from .helpers import comparable, seam_and_route
from .seeding import Seed

PATH = "/api/license/consume"


@pytest.fixture
def route_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How often the framework's consume handler ran."""
    calls: list[int] = []
    real = endpoints.spend_calls

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return await real(*args, **kwargs)

    monkeypatch.setattr(endpoints, "spend_calls", counted)
    return calls


async def test_refusals_and_unspent_answers_are_byte_for_byte_the_route_s(
    seed: Seed, app: ExisOneApp
) -> None:
    product = await seed.product("Api", is_api_product=True, default_api_calls=5)
    license = await seed.license(product)
    ordinary = await seed.license(await seed.product("Desktop"))
    token = {"Authorization": f"ExisOneApi {seed.api.token}"}
    email_only = {"Authorization": f"ExisOneApi {await seed.token(Permission.EMAIL)}"}
    key = license.activation_key

    def body(**fields: Any) -> bytes:
        return json.dumps({"activationKey": key, **fields}).encode()

    cases = [
        (body(amount=6), token),  # more than the quota: refused, nothing spent
        (body(activationKey="AAAA-BBBB-CCCC-DDDD"), token),  # 404
        (body(activationKey=ordinary.activation_key), token),  # not an API key
        (body(amount=0), token),  # 400 amount
        (body(activationKey="   "), token),  # 400 blank key
        (body(), {}),  # 401 missing token
        (body(), {"Authorization": "ExisOneApi exo_at_nope_nope"}),  # 401
        (body(), email_only),  # 403 permission
        (body(), {**token, "X-Tenant": "999999"}),  # 403 tenant
        (b'{"activationKey": ', token),  # not JSON: the framework in both lanes
        (b"[]", token),
        (json.dumps({"amount": 1}).encode(), token),  # no key
        (json.dumps({"activationKey": "a\u0000b"}).encode(), token),  # NUL
    ]
    for content, headers in cases:
        seam, route = await seam_and_route(seed.client, app, PATH, content, headers)
        assert comparable(seam) == comparable(route), (content, headers, seam.text)


async def test_a_spending_consume_in_the_seam_spends_once(
    seed: Seed, app: ExisOneApp, route_calls: list[int]
) -> None:
    product = await seed.product("Api", is_api_product=True, default_api_calls=10)
    license = await seed.license(product)
    headers = {"Authorization": f"ExisOneApi {seed.api.token}"}
    content = json.dumps({"activationKey": license.activation_key, "amount": 3}).encode()

    seam, route = await seam_and_route(seed.client, app, PATH, content, headers)

    assert seam.status_code == route.status_code == 200
    assert (seam.json()["used"], route.json()["used"]) == (3, 6)
    assert {k: v for k, v in seam.json().items() if k not in ("used", "remaining")} == {
        k: v for k, v in route.json().items() if k not in ("used", "remaining")
    }
    assert seam.headers["content-type"] == route.headers["content-type"]
    assert route_calls == [1, 1]  # the seam and the route share the handler's core
    async with seed.database.read_session() as session:
        row = await session.scalar(select(ApiQuota).where(ApiQuota.license_id == license.id))
    assert row is not None and row.calls_used == 6


async def test_a_blocked_caller_is_refused_by_the_seam_without_spending(
    seed: Seed, app: ExisOneApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    product = await seed.product("Api", is_api_product=True, default_api_calls=10)
    license = await seed.license(product)
    assert app.seam is not None
    limiter = app.seam.limiter
    monkeypatch.setattr(
        limiter, "settings", replace(limiter.settings, lookup_per_ip=3, refresh_seconds=0)
    )
    headers = {"Content-Type": "application/json", "Authorization": f"ExisOneApi {seed.api.token}"}
    for index in range(3):
        guess = json.dumps({"activationKey": f"GUES-SXXX-XXXX-{index:04d}"})
        response = await seed.client.post(PATH, content=guess, headers=headers)
        assert response.status_code == 404, response.text

    real = json.dumps({"activationKey": license.activation_key})
    blocked = await seed.client.post(PATH, content=real, headers=headers)

    assert blocked.status_code == 429 and blocked.json()["error"] == "rate_limited"
    assert int(blocked.headers["retry-after"]) > 0
    async with seed.database.read_session() as session:
        row = await session.scalar(select(ApiQuota).where(ApiQuota.license_id == license.id))
    assert row is None or row.calls_used == 0
