"""Limits under concurrency across 4 real server processes on one database (SQLite file in WAL,
or PostgreSQL): seats, single-device keys, trials, deactivate/activate races, and the shared
failed-lookup limit. Every run is repeated, and checked against the rows in the database."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from exisone_server.auth import Permission
from exisone_server.config import Settings
from exisone_server.crypto.master_key import MasterKey
from exisone_server.db import Database
from exisone_server.models import Activation, HistoryAction, LicenseHistory, Trial

from .security_servers import Server, http_clients, running
from .seeding import Seed

pytestmark = pytest.mark.slow

PROCESSES = 4
REQUESTS = 60
#: Connections per process: 4 x 13 = 52 requests in flight at once (the rest queue). Each
#: process may open 15 SQLAlchemy + 10 fast-path PostgreSQL connections; 4 x 25 stays within
#: PostgreSQL's default max_connections of 100.
PER_PROCESS = 13
LOOKUP_LIMIT = 10


@pytest.fixture(scope="module")
def servers(settings: Settings) -> Iterator[list[Server]]:
    env = {
        "EXISONE_RATE_LIMIT_LOOKUP_PER_IP": str(LOOKUP_LIMIT),
        "EXISONE_RATE_LIMIT_WINDOW_SECONDS": str(10**9),
        "EXISONE_RATE_LIMIT_REFRESH_SECONDS": "0",
    }
    with running(settings, PROCESSES, "--log-level", "warning", env=env) as started:
        yield started


@pytest.fixture
async def clients(servers: list[Server]) -> AsyncIterator[list[httpx.AsyncClient]]:
    async with http_clients(servers, PER_PROCESS) as opened:
        yield opened


@pytest.fixture
async def tenant(database: Database, master_key: MasterKey) -> Seed:
    async with httpx.AsyncClient() as unused:
        return await Seed.create(database, master_key, unused)


async def _fan_out(
    clients: list[httpx.AsyncClient], token: str, calls: list[tuple[str, dict[str, Any]]]
) -> list[httpx.Response]:
    """Send every call at once, round-robin over the processes."""
    headers = {"Authorization": f"ExisOneApi {token}"}
    spread = itertools.cycle(clients)
    return list(
        await asyncio.gather(
            *(next(spread).post(path, json=body, headers=headers) for path, body in calls)
        )
    )


def _activate(key: str, product: str, device: str) -> tuple[str, dict[str, Any]]:
    return (
        "/api/license/activate",
        {"activationKey": key, "hardwareId": device, "productName": product, "email": "a@b.c"},
    )


async def _active_rows(database: Database, license_id: int) -> int:
    async with database.read() as connection:
        count = await connection.scalar(
            select(func.count())
            .select_from(Activation)
            .where(Activation.license_id == license_id, Activation.deactivated_at.is_(None))
        )
    return int(count or 0)


async def _events(database: Database, license_id: int, action: HistoryAction) -> int:
    async with database.read() as connection:
        count = await connection.scalar(
            select(func.count())
            .select_from(LicenseHistory)
            .where(LicenseHistory.license_id == license_id, LicenseHistory.action == action)
        )
    return int(count or 0)


@pytest.mark.parametrize("seats", [2, 5])
async def test_corporate_seats_hold_across_processes(
    tenant: Seed, clients: list[httpx.AsyncClient], seats: int
) -> None:
    product = await tenant.product(f"Seats{seats}")
    for _ in range(2):  # repeated runs, fresh license each
        license = await tenant.license(product, is_corporate=True, max_seats=seats)
        calls = [
            _activate(license.activation_key, product.name, f"dev-{n}") for n in range(REQUESTS)
        ]

        responses = await _fan_out(clients, tenant.api.token, calls)

        won = [r for r in responses if r.status_code == 200]
        assert len(won) == seats, [r.text for r in responses if r.status_code != 409]
        assert all(not r.json()["alreadyActivated"] for r in won)
        refused = [r for r in responses if r.status_code != 200]
        assert {(r.status_code, r.json()["error"]) for r in refused} == {
            (409, "seat_limit_reached")
        }
        assert await _active_rows(tenant.database, license.id) == seats
        assert await _events(tenant.database, license.id, HistoryAction.ACTIVATED) == seats


async def test_a_single_device_key_has_exactly_one_winner(
    tenant: Seed, clients: list[httpx.AsyncClient]
) -> None:
    product = await tenant.product("Single")
    for _ in range(2):
        license = await tenant.license(product)
        calls = [
            _activate(license.activation_key, product.name, f"pc-{n}") for n in range(REQUESTS)
        ]

        responses = await _fan_out(clients, tenant.api.token, calls)

        assert sum(r.status_code == 200 for r in responses) == 1
        assert {r.json()["error"] for r in responses if r.status_code != 200} == {"license_in_use"}
        assert await _active_rows(tenant.database, license.id) == 1


async def test_one_device_many_requests_make_one_activation(
    tenant: Seed, clients: list[httpx.AsyncClient]
) -> None:
    product = await tenant.product("Same")
    license = await tenant.license(product, is_corporate=True, max_seats=2)
    calls = [_activate(license.activation_key, product.name, "the-one") for _ in range(REQUESTS)]

    responses = await _fan_out(clients, tenant.api.token, calls)

    assert all(r.status_code == 200 for r in responses)
    assert sum(not r.json()["alreadyActivated"] for r in responses) == 1
    assert await _active_rows(tenant.database, license.id) == 1


async def test_one_trial_per_product_and_device(
    tenant: Seed, clients: list[httpx.AsyncClient]
) -> None:
    product = await tenant.product("Trialware", trial_days=14)
    devices = [f"trial-{n % 6}" for n in range(REQUESTS)]  # 6 devices, 10 racing requests each
    calls = [
        ("/api/license/validate", {"hardwareId": device, "productName": product.name})
        for device in devices
    ]

    responses = await _fan_out(clients, tenant.api.token, calls)

    odd = [r.text for r in responses if r.json().get("status") != "trial"]
    assert not odd, odd
    by_device: dict[str, set[str]] = {}
    for device, response in zip(devices, responses, strict=True):
        by_device.setdefault(device, set()).add(response.json()["expirationDate"])
    assert all(len(dates) == 1 for dates in by_device.values())  # never two trials
    async with tenant.database.read() as connection:
        count = await connection.scalar(
            select(func.count()).select_from(Trial).where(Trial.product_id == product.id)
        )
    assert count == 6


async def test_deactivate_activate_races_keep_the_seat_limit(
    tenant: Seed, clients: list[httpx.AsyncClient]
) -> None:
    seats = 3
    product = await tenant.product("Churn")
    for _ in range(2):
        license = await tenant.license(product, is_corporate=True, max_seats=seats)
        key = license.activation_key
        first = [_activate(key, product.name, f"old-{n}") for n in range(seats)]
        assert all(r.status_code == 200 for r in await _fan_out(clients, tenant.api.token, first))
        deactivations = [
            ("/api/license/deactivate", {"licenseKey": key, "hardwareId": f"old-{n % seats}"})
            for n in range(3 * seats)  # every old device three times
        ]
        activations = [
            _activate(key, product.name, f"new-{n}") for n in range(REQUESTS - 3 * seats)
        ]
        calls = [
            call
            for pair in itertools.zip_longest(deactivations, activations)
            for call in pair
            if call
        ]

        responses = await _fan_out(clients, tenant.api.token, calls)

        assert all(r.status_code in (200, 409) for r in responses), [r.text for r in responses]
        freed = [r for r in responses if r.status_code == 200 and "wasActive" in r.json()]
        assert sum(r.json()["wasActive"] for r in freed) == seats  # each seat freed exactly once
        new_seats = sum(
            1 for r in responses if r.status_code == 200 and "alreadyActivated" in r.json()
        )
        active = await _active_rows(tenant.database, license.id)
        assert active <= seats
        assert active == new_seats  # every old device is gone, every winner holds a seat
        database = tenant.database
        assert await _events(database, license.id, HistoryAction.DEACTIVATED) == seats
        assert await _events(database, license.id, HistoryAction.ACTIVATED) == seats + new_seats


async def test_failed_lookups_are_limited_across_processes(
    tenant: Seed, clients: list[httpx.AsyncClient]
) -> None:
    product = await tenant.product("Guarded")
    license = await tenant.license(product)
    headers = {"Authorization": f"ExisOneApi {tenant.api.token}"}
    for n in range(LOOKUP_LIMIT):  # spread over the four processes
        response = await clients[n % PROCESSES].post(
            "/api/license/validate",
            json={"activationKey": f"GUES-SING-0000-{n:04d}", "hardwareId": "h"},
            headers=headers,
        )
        assert response.json()["reason"] == "license_not_found"
    for client in clients:  # every process now refuses, also a right key
        response = await client.post(
            "/api/license/activate",
            json={
                "activationKey": license.activation_key,
                "hardwareId": "h",
                "productName": product.name,
                "email": "a@b.c",
            },
            headers=headers,
        )
        assert response.status_code == 429, response.text
        assert response.json()["error"] == "rate_limited"
        assert int(response.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("bulk", [False, True], ids=["validate", "bulk-info"])
async def test_the_failed_lookup_limit_is_exact_across_processes(
    tenant: Seed, clients: list[httpx.AsyncClient], bulk: bool
) -> None:
    """52 guesses in flight at once over 4 processes: exactly the limit's worth of them are
    answered 'not found', every other one 429 (counted before the answer leaves)."""
    for _ in range(2):  # repeated runs, a fresh token (fresh counters) each
        token = await tenant.token(Permission.ADMIN)
        if bulk:  # three guesses per request: whole requests are answered or refused
            calls = [
                ("/api/license/bulk-info", {"activationKeys": [f"GUES-{n:04d}-{i}" for i in "ABC"]})
                for n in range(PER_PROCESS * PROCESSES)
            ]
        else:
            calls = [
                ("/api/license/validate", {"activationKey": f"GUES-{n:04d}", "hardwareId": "h"})
                for n in range(PER_PROCESS * PROCESSES)
            ]

        responses = await _fan_out(clients, token, calls)

        statuses = sorted({r.status_code for r in responses})
        assert set(statuses) <= {200, 429}, [r.text for r in responses if r.status_code >= 500]
        if bulk:
            revealed = sum(len(r.json()["licenses"]) for r in responses if r.status_code == 200)
            assert revealed == 3 * (LOOKUP_LIMIT // 3)
        else:
            revealed = sum(1 for r in responses if r.status_code == 200)
            assert all(
                r.json()["reason"] == "license_not_found" for r in responses if r.status_code == 200
            )
            assert revealed == LOOKUP_LIMIT
        print(
            f"{len(calls)} requests in flight, limit {LOOKUP_LIMIT}: {revealed} not-found answers"
        )
