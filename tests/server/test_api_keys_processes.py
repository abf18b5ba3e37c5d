"""API-key quotas under concurrency across 4 real server processes on one database (SQLite file
in WAL, or PostgreSQL): never more calls than granted, every quota webhook exactly once, and
batches of several keys never deadlock. Each run is checked against the rows in the database."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from exisone_server.config import Settings
from exisone_server.crypto.master_key import MasterKey
from exisone_server.db import Database
from exisone_server.models import ApiQuota, ApiUsageDay, Product, WebhookEvent

from .helpers import subscribe
from .security_servers import Server, http_clients, running
from .seeding import Seed
from .test_api_keys import QUOTA_EVENTS

pytestmark = pytest.mark.slow

PROCESSES = 4
PER_PROCESS = 13


@pytest.fixture(scope="module")
def servers(settings: Settings) -> Iterator[list[Server]]:
    with running(settings, PROCESSES, "--log-level", "warning") as started:
        yield started


@pytest.fixture
async def clients(servers: list[Server]) -> AsyncIterator[list[httpx.AsyncClient]]:
    async with http_clients(servers, PER_PROCESS) as opened:
        yield opened


@pytest.fixture
async def tenant(database: Database, master_key: MasterKey) -> Seed:
    async with httpx.AsyncClient() as unused:
        seed = await Seed.create(database, master_key, unused)
    await subscribe(database, seed.tenant.id, *QUOTA_EVENTS)
    return seed


async def _consume_all(
    clients: list[httpx.AsyncClient], token: str, keys: list[str]
) -> list[httpx.Response]:
    """One consume of 1 call per entry of ``keys``, all at once, round-robin over processes."""
    headers = {"Authorization": f"ExisOneApi {token}"}
    spread = itertools.cycle(clients)
    return list(
        await asyncio.gather(
            *(
                next(spread).post(
                    "/api/license/consume", json={"activationKey": key}, headers=headers
                )
                for key in keys
            )
        )
    )


async def _stored(database: Database, license_id: int) -> tuple[int, int, int]:
    """(calls used, calls in the daily usage, quota events) of a key, as stored."""
    async with database.read() as connection:
        used = await connection.scalar(
            select(ApiQuota.calls_used).where(ApiQuota.license_id == license_id)
        )
        daily = await connection.scalar(
            select(func.sum(ApiUsageDay.calls)).where(ApiUsageDay.license_id == license_id)
        )
        bodies = list(await connection.scalars(select(WebhookEvent.body)))
    events = [json.loads(body) for body in bodies]
    mine = [e for e in events if e["data"].get("licenseId") == license_id]
    return int(used or 0), int(daily or 0), len(mine)


async def _api_product(seed: Seed, name: str, calls: int) -> Product:
    return await seed.product(name, is_api_product=True, default_api_calls=calls)


async def test_200_consumes_of_a_key_with_150_calls_left_allow_exactly_150(
    tenant: Seed, clients: list[httpx.AsyncClient]
) -> None:
    product = await _api_product(tenant, "Metered", 200)
    for _ in range(2):  # repeated runs, fresh key each
        license = await tenant.license(product)
        head = await _consume_all(clients, tenant.api.token, [license.activation_key] * 50)
        assert all(r.json()["allowed"] for r in head)  # 150 left now

        responses = await _consume_all(clients, tenant.api.token, [license.activation_key] * 200)

        assert {r.status_code for r in responses} == {200}, [r.text for r in responses][:3]
        allowed = [r.json() for r in responses if r.json()["allowed"]]
        refused = [r.json() for r in responses if not r.json()["allowed"]]
        assert len(allowed) == 150
        assert {r["reason"] for r in refused} == {"quota_exceeded"}
        assert sorted(r["used"] for r in allowed) == list(range(51, 201))  # each unit once
        assert await _stored(tenant.database, license.id) == (200, 200, 2)  # warning, exhausted


def _logged_problems(servers: list[Server]) -> list[str]:
    """The servers' warning and error lines (what a failed answer was, in their words)."""
    return [
        line
        for server in servers
        for line in server.log_path.read_text(errors="replace").splitlines()
        if "WARNING" in line or "ERROR" in line or "unavailable" in line
    ][:10]


async def test_batches_of_many_keys_never_deadlock(
    tenant: Seed, clients: list[httpx.AsyncClient], servers: list[Server]
) -> None:
    """Every process's batches hold several keys in every order; PostgreSQL locks them in
    key order, so no two batches wait for each other (a deadlock would fail a batch: 500)."""
    product = await _api_product(tenant, "Many", 40)
    licenses = [await tenant.license(product) for _ in range(6)]
    keys = [license.activation_key for license in licenses for _ in range(50)]
    random.Random(7).shuffle(keys)

    responses = await _consume_all(clients, tenant.api.token, keys)

    refused = [r.text for r in responses if r.status_code != 200][:3]
    assert not refused, (refused, _logged_problems(servers))
    answers: dict[str, list[dict[str, Any]]] = {}
    for key, response in zip(keys, responses, strict=True):
        answers.setdefault(key, []).append(response.json())
    for license in licenses:
        mine = answers[license.activation_key]
        assert sum(answer["allowed"] for answer in mine) == 40
        assert await _stored(tenant.database, license.id) == (40, 40, 2)
