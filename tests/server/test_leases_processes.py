"""Floating seats under concurrency, on a real ``exisone-server serve --workers 4`` over sockets
(SQLite file in WAL, or PostgreSQL): simultaneous checkouts never grant more seats than the
license has, heartbeats racing the expiry never leave one seat too many, and the seat of a
client killed with SIGKILL is free again within its TTL. Each run is checked against the rows
in the database."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from exisone.protocol import parse_datetime
from exisone_server.config import Settings
from exisone_server.crypto.master_key import MasterKey
from exisone_server.db import Database
from exisone_server.kit.time import utc_now
from exisone_server.models import Lease, License, Product

from .security_servers import Server, running
from .seeding import Seed

pytestmark = pytest.mark.slow

WORKERS = 4
SEATS = 10
#: The plan's shortest TTL: short, so a run-out lease is seen within the test.
TTL = 2
LEASE, HEARTBEAT = "/api/license/lease", "/api/license/lease/heartbeat"


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[Server]:
    with running(settings, 1, "--workers", str(WORKERS), "--log-level", "warning") as started:
        yield started[0]


@pytest.fixture
async def tenant(database: Database, settings: Settings) -> Seed:
    """A tenant whose signing key the server can open (under the server's master key)."""
    assert settings.master_key
    async with httpx.AsyncClient() as unused:
        return await Seed.create(database, MasterKey.from_base64(settings.master_key), unused)


@pytest.fixture
async def client(server: Server, tenant: Seed) -> AsyncIterator[httpx.AsyncClient]:
    """A client with a connection per request in flight (up to 100), so requests spread over
    the workers."""
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=0)
    headers = {"Authorization": f"ExisOneApi {tenant.api.token}"}
    async with httpx.AsyncClient(
        base_url=server.url, limits=limits, timeout=60, headers=headers
    ) as opened:
        yield opened


async def _floating(tenant: Seed, seats: int) -> tuple[Product, License]:
    product = await tenant.product()
    plan = await tenant.plan(
        is_floating=True,
        lease_ttl_min_seconds=TTL,
        lease_ttl_max_seconds=600,
        lease_ttl_default_seconds=60,
    )
    license = await tenant.license(product, plan=plan, is_corporate=True, max_seats=seats)
    return product, license


def _body(license: License, product: Product, hardware_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "activationKey": license.activation_key,
        "hardwareId": hardware_id,
        "productName": product.name,
        **extra,
    }


async def _live_leases(database: Database, license_id: int) -> int:
    async with database.read() as connection:
        count = await connection.scalar(
            select(func.count())
            .select_from(Lease)
            .where(
                Lease.license_id == license_id,
                Lease.ended_at.is_(None),
                Lease.expires_at > utc_now(),
            )
        )
    return int(count or 0)


async def test_100_simultaneous_checkouts_of_10_seats_grant_exactly_10(
    client: httpx.AsyncClient, tenant: Seed
) -> None:
    product, license = await _floating(tenant, SEATS)

    responses = await asyncio.gather(
        *(client.post(LEASE, json=_body(license, product, f"dev-{n}")) for n in range(100))
    )

    statuses = sorted(response.status_code for response in responses)
    odd = [r.text for r in responses if r.status_code not in (200, 409)]
    assert statuses == [200] * SEATS + [409] * (100 - SEATS), odd[:3]
    refused = [r.json() for r in responses if r.status_code == 409]
    assert {body["error"] for body in refused} == {"no_free_seat"}
    assert {body["maxSeats"] for body in refused} == {SEATS}
    granted = [r.json() for r in responses if r.status_code == 200]
    assert len({body["leaseId"] for body in granted}) == SEATS
    assert max(body["seatsInUse"] for body in granted) == SEATS
    assert await _live_leases(tenant.database, license.id) == SEATS


async def test_heartbeats_racing_the_expiry_renew_or_answer_410_never_11_seats(
    client: httpx.AsyncClient, tenant: Seed
) -> None:
    product, license = await _floating(tenant, SEATS)
    held = [
        (await client.post(LEASE, json=_body(license, product, f"held-{n}", ttlSeconds=TTL))).json()
        for n in range(SEATS)
    ]
    runs_out = max(parse_datetime(lease["expiresAt"]) for lease in held)

    async def at(offset: float, request: Any) -> httpx.Response:
        """``request`` sent ``offset`` seconds from when the last held lease runs out."""
        delay = (runs_out - utc_now()).total_seconds() + offset
        await asyncio.sleep(max(delay, 0))
        return await request()

    offsets = [(-0.15 + 0.3 * n / 40) for n in range(40)]  # spread over the expiry
    heartbeats = [
        at(
            offsets[n * 4 % 40],
            lambda lease=lease: client.post(HEARTBEAT, json={"leaseId": lease["leaseId"]}),
        )
        for n, lease in enumerate(held)
    ]
    checkouts = [
        at(
            offset,
            lambda n=n: client.post(
                LEASE, json=_body(license, product, f"new-{n}", ttlSeconds=TTL)
            ),
        )
        for n, offset in enumerate(offsets)
    ]
    results = await asyncio.gather(*heartbeats, *checkouts)
    checked = utc_now()

    beats, taken = results[:SEATS], results[SEATS:]
    assert {r.status_code for r in beats} <= {200, 410}, [r.text for r in beats]
    assert {r.status_code for r in taken} <= {200, 409}, [r.text for r in taken]
    assert {r.json()["error"] for r in beats if r.status_code == 410} <= {"lease_expired"}
    granted = [r.json() for r in (*beats, *taken) if r.status_code == 200]
    live = {body["leaseId"] for body in granted if parse_datetime(body["expiresAt"]) > checked}
    assert len(live) <= SEATS  # renewed + newly granted leases that are still live
    assert await _live_leases(tenant.database, license.id) <= SEATS
    assert any(r.status_code == 410 for r in beats) or len(live) == SEATS  # it did race


# A licensed application reduced to its lease: check a seat out, say so, heartbeat forever.
_CLIENT = """
import sys, time, httpx
url, token, key, product = sys.argv[1:5]
headers = {"Authorization": f"ExisOneApi {token}"}
body = {"activationKey": key, "hardwareId": "killed-client", "productName": product,
        "ttlSeconds": int(sys.argv[5])}
lease = httpx.post(url + "/api/license/lease", json=body, headers=headers, timeout=10).json()
print(lease["leaseId"], flush=True)
while True:
    time.sleep(0.4)
    httpx.post(url + "/api/license/lease/heartbeat", json={"leaseId": lease["leaseId"]},
               headers=headers, timeout=10).raise_for_status()
"""


async def test_a_killed_client_s_seat_is_free_within_its_ttl(
    server: Server, client: httpx.AsyncClient, tenant: Seed
) -> None:
    if os.name != "posix":
        pytest.skip("SIGKILL is POSIX")
    product, license = await _floating(tenant, 1)
    holder = subprocess.Popen(
        [
            *(sys.executable, "-c", _CLIENT, server.url, tenant.api.token),
            *(license.activation_key, product.name, str(TTL)),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(holder.stdout.readline), 30)
        assert line.startswith(b"l_"), line
        await asyncio.sleep(TTL * 1.5)  # longer than the TTL: only the heartbeats keep it
        refused = await client.post(LEASE, json=_body(license, product, "next"))
        assert refused.status_code == 409 and refused.json()["error"] == "no_free_seat"
        assert holder.poll() is None  # its heartbeats all succeeded
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()
    killed = time.monotonic()

    while True:
        sent = time.monotonic() - killed  # the server counts the seats after this moment
        response = await client.post(LEASE, json=_body(license, product, "next"))
        if response.status_code == 200:
            break
        assert response.json()["error"] == "no_free_seat"
        assert sent < TTL + 0.3, "the killed client's seat was not freed within its TTL"
        await asyncio.sleep(0.1)
    assert response.json()["seatsInUse"] == 1
