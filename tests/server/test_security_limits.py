"""Failed key lookups are rate limited (429 + Retry-After), with counters in the
database that every app (process) shares; successful requests write nothing."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from exisone.protocol import seal_request
from exisone_server.app import create_app
from exisone_server.config import Settings
from exisone_server.crypto.master_key import MasterKey
from exisone_server.db import Database
from exisone_server.models import CryptoKey, KeyAlgorithm, RateLimitCounter
from exisone_server.security import FailureLimiter, SecuritySettings
from exisone_server.security.limits import record_failures
from exisone_server.security.lookups import LookupLedger, lookup_route

from .helpers import activate_body, assert_error, validate_body
from .seeding import Api, Seed

PER_IP, PER_TOKEN = 5, 8
#: One window for the whole test run (no window boundary can fall inside a test); the window
#: boundaries themselves are tested with a fake clock.
WINDOW = 10**9


@pytest.fixture
def limited(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, database: Database, master_key: MasterKey
) -> Callable[[str], Any]:
    """``open_client(ip)``: a client of a NEW app (own limiter, like another process)."""
    monkeypatch.setenv("EXISONE_RATE_LIMIT_LOOKUP_PER_IP", str(PER_IP))
    monkeypatch.setenv("EXISONE_RATE_LIMIT_LOOKUP_PER_TOKEN", str(PER_TOKEN))
    monkeypatch.setenv("EXISONE_RATE_LIMIT_REFRESH_SECONDS", "0")
    monkeypatch.setenv("EXISONE_RATE_LIMIT_WINDOW_SECONDS", str(WINDOW))

    @asynccontextmanager
    async def open_client(ip: str) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(settings, database=database, master_key=master_key)
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client

    return open_client


async def _unknown(api: Api, n: int) -> None:
    body = validate_body(None, activationKey=f"ZZZZ-ZZZZ-ZZZZ-{n:04d}")
    response = await api.post("/api/license/validate", body)
    assert response.status_code == 200, response.text
    assert response.json()["reason"] == "license_not_found"


def _assert_limited(response: httpx.Response) -> int:
    body = assert_error(response, 429, "rate_limited")
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= WINDOW, wait
    assert str(wait) in body["message"]
    return wait


async def test_failed_lookups_from_one_ip_are_limited_and_a_good_key_is_refused_too(
    seed: Seed, limited: Callable[[str], Any]
) -> None:
    product = await seed.product()
    license = await seed.license(product)
    async with limited("203.0.113.1") as client, limited("203.0.113.2") as other:
        api = seed.api_with(seed.api.token)
        api.client = client
        for n in range(PER_IP):
            await _unknown(api, n)

        _assert_limited(
            await api.post(
                "/api/license/validate", validate_body(None, activationKey="ZZZZ-0000-0000-0000")
            )
        )
        # blocked before the lookup: a right key is refused as well (no oracle)
        _assert_limited(await api.post("/api/license/validate", validate_body(license)))
        _assert_limited(await api.post("/api/license/activate", activate_body(license, product)))

        api.client = other  # another IP with the same token is not blocked by the IP limit
        response = await api.post("/api/license/activate", activate_body(license, product))
        assert response.status_code == 200, response.text


async def test_the_token_limit_holds_across_ips(seed: Seed, limited: Callable[[str], Any]) -> None:
    api = seed.api_with(seed.api.token)
    for n in range(PER_TOKEN):
        async with limited(f"198.51.100.{n}") as client:
            api.client = client
            await _unknown(api, n)
    async with limited("198.51.100.200") as client:
        api.client = client
        _assert_limited(
            await api.post(
                "/api/license/validate", validate_body(None, activationKey="ZZZZ-1111-1111-1111")
            )
        )
        # other endpoints than the lookups are not limited
        assert (await api.get("/api/product")).status_code == 200


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(
            lambda api, n: api.post(
                "/api/license/activate",
                {
                    "activationKey": f"NOPE-{n}",
                    "hardwareId": "h",
                    "productName": "P",
                    "email": "a@b.c",
                },
            ),
            id="activate",
        ),
        pytest.param(
            lambda api, n: api.post(
                "/api/license/deactivate", {"licenseKey": f"NOPE-{n}", "hardwareId": "h"}
            ),
            id="deactivate",
        ),
        pytest.param(
            lambda api, n: api.post("/api/license/features/csv", {"activationKey": f"NOPE-{n}"}),
            id="features",
        ),
        pytest.param(lambda api, n: api.get(f"/api/license/NOPE-{n}/usage"), id="usage"),
    ],
)
async def test_every_failing_lookup_endpoint_counts(
    seed: Seed, limited: Callable[[str], Any], call: Callable[[Api, int], Any]
) -> None:
    async with limited("192.0.2.10") as client:
        api = seed.api_with(seed.api.token)
        api.client = client
        for n in range(PER_IP):
            assert_error(await call(api, n), 404, "license_not_found")
        _assert_limited(await call(api, 99))


async def test_successful_lookups_write_no_counters(
    seed: Seed, limited: Callable[[str], Any]
) -> None:
    product = await seed.product()
    license = await seed.license(product, is_corporate=True, max_seats=3)
    async with limited("192.0.2.20") as client:
        api = seed.api_with(seed.api.token)
        api.client = client
        assert (
            await api.post("/api/license/activate", activate_body(license, product))
        ).status_code == 200
        for _ in range(3 * PER_TOKEN):
            assert (await api.post("/api/license/validate", validate_body(license))).json()[
                "isValid"
            ]
    public_id = seed.api.token.split("_")[2]
    async with seed.database.read() as connection:
        count = await connection.scalar(
            select(func.count())
            .select_from(RateLimitCounter)
            .where(RateLimitCounter.key.contains(public_id))
        )
    assert count == 0


async def test_blocks_are_shared_by_every_app_on_the_database(
    seed: Seed, limited: Callable[[str], Any]
) -> None:
    api = seed.api_with(seed.api.token)
    async with limited("192.0.2.30") as first:
        api.client = first
        for n in range(PER_IP):
            await _unknown(api, n)
    async with limited("192.0.2.30") as second:  # a fresh limiter: knows only the database
        api.client = second
        _assert_limited(
            await api.post(
                "/api/license/validate", validate_body(None, activationKey="ZZZZ-2222-2222-2222")
            )
        )


async def test_the_lookup_clean_up_keeps_other_scopes(database: Database) -> None:
    """Old lookup windows are dropped; the login and write counters (longer windows, other
    scopes) sharing the table stay."""
    now = [2_000_050.0]
    limiter = FailureLimiter(
        lambda: database,
        SecuritySettings(window_seconds=60, refresh_seconds=0, lookup_per_ip=2),
        clock=lambda: now[0],
    )
    old_window = 1_999_980
    await record_failures(database, "lookup", ["ip:cleanup:10.0.0.1"], old_window)
    await record_failures(database, "login", ["ip:10.0.0.1"], old_window)
    await record_failures(database, "writes", ["trials:token:cleanup"], old_window)

    await limiter.retry_after(limiter.limits("cleanup", "10.0.0.1"))  # refreshes, cleans up

    async with database.read() as connection:
        scopes = set(
            await connection.scalars(
                select(RateLimitCounter.scope).where(RateLimitCounter.window_start == old_window)
            )
        )
    assert scopes == {"login", "writes"}


async def test_a_block_ends_with_its_window(database: Database) -> None:
    now = [1_000_040.0]  # windows of 60 s start at 1_000_020 and 1_000_080
    limiter = FailureLimiter(
        lambda: database,
        SecuritySettings(window_seconds=60, refresh_seconds=0, lookup_per_ip=2),
        clock=lambda: now[0],
    )
    limits = limiter.limits("windowtest", "10.1.1.1")
    assert await limiter.settle(limits, LookupLedger(missed=1), writes=False) is None
    assert await limiter.retry_after(limits) is None
    assert await limiter.settle(limits, LookupLedger(missed=1), writes=False) is None
    assert await limiter.retry_after(limits) == 40
    now[0] = 1_000_080.0
    assert await limiter.retry_after(limits) is None


async def test_concurrent_requests_share_one_refresh_of_the_blocks(database: Database) -> None:
    """64 requests arriving while a refresh waits for the database start no refresh of their
    own (a burst of refresh queries once per interval hurt the p99 under load)."""
    now = [3_000_010.0]
    limiter = FailureLimiter(
        lambda: database,
        SecuritySettings(window_seconds=60, refresh_seconds=1, lookup_per_ip=2),
        clock=lambda: now[0],
    )
    refreshes = 0
    real_refresh = limiter._refresh

    async def counted_refresh(moment: float) -> None:
        nonlocal refreshes
        refreshes += 1
        await asyncio.sleep(0.01)  # the query's round trip: every other request arrives now
        await real_refresh(moment)

    limiter._refresh = counted_refresh  # type: ignore[method-assign]
    limits = limiter.limits("refreshtest", "10.2.2.2")
    answers = await asyncio.gather(*(limiter.retry_after(limits) for _ in range(64)))
    assert answers == [None] * 64 and refreshes == 1
    now[0] += 1
    await limiter.retry_after(limits)
    assert refreshes == 2


def test_limits_come_from_the_environment() -> None:
    settings = SecuritySettings.from_env(
        {
            "EXISONE_RATE_LIMIT_WINDOW_SECONDS": "120",
            "EXISONE_RATE_LIMIT_LOOKUP_PER_IP": "7",
            "EXISONE_RATE_LIMIT_LOOKUP_PER_TOKEN": "0",
            "EXISONE_MAX_BODY_BYTES": "4096",
        }
    )
    assert (settings.window_seconds, settings.lookup_per_ip, settings.lookup_per_token) == (
        120,
        7,
        0,
    )
    assert settings.max_body_bytes == 4096
    with pytest.raises(ValueError, match="EXISONE_RATE_LIMIT_LOOKUP_PER_IP"):
        SecuritySettings.from_env({"EXISONE_RATE_LIMIT_LOOKUP_PER_IP": "many"})


#: Request fields and path parameters whose values a caller could guess to find licenses.
GUESSABLE = {
    "activation_key",
    "license_key",
    "activation_keys",
    "emails",
    "hardware_ids",
    "lease_id",
}
UNKNOWN_KEY = "ZZZZ-9999-9999-9999"

#: A request to each route that looks licenses up, for a key (device, e-mail) that does not exist.
FAILING_LOOKUPS: dict[tuple[str, str], tuple[str, dict[str, Any] | None]] = {
    ("POST", "/api/license/activate"): (
        "/api/license/activate",
        {"activationKey": UNKNOWN_KEY, "hardwareId": "h", "productName": "P", "email": "a@b.c"},
    ),
    ("POST", "/api/license/validate"): (
        "/api/license/validate",
        {"activationKey": UNKNOWN_KEY, "hardwareId": "h"},
    ),
    ("POST", "/api/license/deactivate"): (
        "/api/license/deactivate",
        {"licenseKey": UNKNOWN_KEY, "hardwareId": "h"},
    ),
    ("POST", "/api/license/features/csv"): (
        "/api/license/features/csv",
        {"activationKey": UNKNOWN_KEY},
    ),
    ("GET", "/api/license/{activation_key:str}/usage"): (
        f"/api/license/{UNKNOWN_KEY}/usage",
        None,
    ),
    ("GET", "/api/license/device-history/{hardware_id:str}"): (
        "/api/license/device-history/NO-SUCH-DEVICE",
        None,
    ),
    ("GET", "/api/license/{activation_key:str}"): (f"/api/license/{UNKNOWN_KEY}", None),
    ("GET", "/api/license/{activation_key:str}/history"): (
        f"/api/license/{UNKNOWN_KEY}/history",
        None,
    ),
    ("PATCH", "/api/license/{activation_key:str}"): (
        f"/api/license/{UNKNOWN_KEY}",
        {"note": "x"},
    ),
    **{
        ("POST", f"/api/license/{{activation_key:str}}/{action}"): (
            f"/api/license/{UNKNOWN_KEY}/{action}",
            body,
        )
        for action, body in [
            ("revoke", {}),
            ("suspend", {}),
            ("resume", {}),
            ("extend", {"days": 1}),
            ("free-device", {"hardwareId": "h"}),
        ]
    },
    ("POST", "/api/license/offline-code"): (
        "/api/license/offline-code",
        {"activationKey": UNKNOWN_KEY, "hardwareId": "h"},
    ),
    ("POST", "/api/license/validate-bulk"): (
        "/api/license/validate-bulk",
        {"licenses": [{"activationKey": UNKNOWN_KEY, "hardwareId": "h"}]},
    ),
    ("POST", "/api/license/bulk-info"): (
        "/api/license/bulk-info",
        {"activationKeys": [UNKNOWN_KEY]},
    ),
    ("POST", "/api/license/bulk-by-email"): ("/api/license/bulk-by-email", {"emails": ["n@o.pe"]}),
    ("POST", "/api/license/bulk-by-hardware"): (
        "/api/license/bulk-by-hardware",
        {"hardwareIds": ["NO-SUCH-DEVICE"]},
    ),
    ("POST", "/api/license/consume"): ("/api/license/consume", {"activationKey": UNKNOWN_KEY}),
    ("GET", "/api/license/{activation_key:str}/leases"): (
        f"/api/license/{UNKNOWN_KEY}/leases",
        None,
    ),
    ("POST", "/api/license/{activation_key:str}/leases/{lease_id:str}/end"): (
        f"/api/license/{UNKNOWN_KEY}/leases/l_NoSuchLeaseNoSuchLease/end",
        None,
    ),
    ("POST", "/api/license/lease"): (
        "/api/license/lease",
        {"activationKey": UNKNOWN_KEY, "hardwareId": "h", "productName": "P"},
    ),
    ("POST", "/api/license/lease/heartbeat"): (
        "/api/license/lease/heartbeat",
        {"leaseId": "l_NoSuchLeaseNoSuchLease"},
    ),
    ("POST", "/api/license/lease/release"): (
        "/api/license/lease/release",
        {"leaseId": "l_NoSuchLeaseNoSuchLease"},
    ),
    ("POST", "/api/license/validate-encrypted"): (
        "/api/license/validate-encrypted",
        {"sealed for the tenant": {"activationKey": UNKNOWN_KEY, "hardwareId": "h"}},
    ),
    ("GET", "/api/license/{activation_key:str}/quota"): (f"/api/license/{UNKNOWN_KEY}/quota", None),
    ("POST", "/api/license/{activation_key:str}/topup"): (
        f"/api/license/{UNKNOWN_KEY}/topup",
        {"calls": 1},
    ),
}


async def sealed_for(seed: Seed, body: dict[str, Any]) -> dict[str, Any]:
    """validate-encrypted's body: ``body`` sealed for the tenant's current public key."""
    async with seed.database.read_session() as session:
        pem = await session.scalar(
            select(CryptoKey.public_key_pem).where(
                CryptoKey.tenant_id == seed.tenant.id,
                CryptoKey.is_current,
                CryptoKey.algorithm == KeyAlgorithm.RSA,
            )
        )
    assert pem is not None
    public_key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(public_key, rsa.RSAPublicKey)
    payload, _ = seal_request(public_key, json.dumps(body).encode())
    return {"payload": base64.b64encode(payload).decode()}


def _takes_guessable_values(path_parameters: Any, body_type: Any) -> bool:
    names = {p if isinstance(p, str) else p.name for p in path_parameters}
    names |= set(getattr(body_type, "__struct_fields__", ()))
    if "licenses" in names:  # validate-bulk: a list of key/device pairs
        return True
    return bool(names & GUESSABLE)


def _api_routes(app: Any) -> dict[tuple[str, str], tuple[bool, str | None]]:
    """(method, path) → (takes a guessable value, its lookups mark) for every API route."""
    found = {}
    for route in app.routes:
        if not route.path.startswith("/api"):
            continue
        for handler in getattr(route, "route_handlers", []):
            data = handler.parsed_fn_signature.parameters.get("data")
            takes = _takes_guessable_values(
                route.path_parameters, data.annotation if data is not None else None
            )
            for method in handler.http_methods - {"OPTIONS", "HEAD"}:
                found[method, route.path] = (takes, lookup_route(handler.opt))
    return found


def test_every_route_that_takes_a_key_counts_its_failed_lookups(
    settings: Settings, database: Database, master_key: MasterKey
) -> None:
    """Each route whose path or body carries a key, offline code, e-mail or hardware ID is
    marked looks_up, and this test knows a failing request for it (tested below)."""
    routes = _api_routes(create_app(settings, database=database, master_key=master_key))
    taking = {route for route, (takes, _) in routes.items() if takes}
    marked = {route for route, (_, mark) in routes.items() if mark is not None}

    assert taking - marked == set(), "routes that take a key but do not count failed lookups"
    assert marked == set(FAILING_LOOKUPS)


@pytest.mark.parametrize("route", sorted(FAILING_LOOKUPS), ids=lambda r: f"{r[0]} {r[1]}")
async def test_each_lookup_route_counts_and_refuses(
    seed: Seed, limited: Callable[[str], Any], route: tuple[str, str]
) -> None:
    url, body = FAILING_LOOKUPS[route]
    if body is not None and "sealed for the tenant" in body:  # encrypted: the body, sealed
        body = await sealed_for(seed, body["sealed for the tenant"])
    async with limited("192.0.2.77") as client:
        headers = {"Authorization": f"ExisOneApi {seed.api.token}"}

        async def call() -> httpx.Response:
            return await client.request(route[0], url, json=body, headers=headers)

        for _ in range(PER_IP):
            answered = await call()
            assert answered.status_code in (200, 404), answered.text
        _assert_limited(await call())


@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        ("/api/license/bulk-info", "activationKeys", UNKNOWN_KEY),
        ("/api/license/bulk-by-email", "emails", "n@o.pe"),
        ("/api/license/bulk-by-hardware", "hardwareIds", "NO-SUCH-DEVICE"),
    ],
)
async def test_bulk_lookups_count_every_entry(
    seed: Seed, limited: Callable[[str], Any], path: str, field: str, value: str
) -> None:
    """A bulk request of more unknown entries than the limit allows reveals none of them."""
    async with limited("192.0.2.78") as client:
        headers = {"Authorization": f"ExisOneApi {seed.api.token}"}
        within = await client.post(path, json={field: [value] * PER_IP}, headers=headers)
        past = await client.post(path, json={field: [value]}, headers=headers)
    async with limited("192.0.2.79") as client:
        too_many = await client.post(path, json={field: [value] * (PER_IP + 1)}, headers=headers)

    assert within.status_code == 200, within.text
    _assert_limited(past)
    _assert_limited(too_many)


async def test_validate_bulk_counts_every_entry(seed: Seed, limited: Callable[[str], Any]) -> None:
    product = await seed.product()
    license = await seed.license(product)
    good = {"activationKey": license.activation_key, "hardwareId": "h"}
    bad = {"activationKey": UNKNOWN_KEY, "hardwareId": "h"}
    async with limited("192.0.2.80") as client:
        headers = {"Authorization": f"ExisOneApi {seed.api.token}"}
        found = await client.post(
            "/api/license/validate-bulk", json={"licenses": [good] * 20}, headers=headers
        )
        guessed = await client.post(
            "/api/license/validate-bulk",
            json={"licenses": [good, *[bad] * (PER_IP + 1)]},
            headers=headers,
        )

    assert found.status_code == 200 and found.json()["totalProcessed"] == 20
    _assert_limited(guessed)  # the real key in it is not revealed either


async def test_a_found_read_is_withheld_once_the_limit_is_reached(
    seed: Seed, limited: Callable[[str], Any]
) -> None:
    """A process that learned of a count near the limit checks it again before answering a
    read that found its key: a caller at the limit learns nothing from a lucky guess."""
    product = await seed.product()
    license = await seed.license(product)
    async with limited("192.0.2.81") as first, limited("192.0.2.81") as second:
        headers = {"Authorization": f"ExisOneApi {seed.api.token}"}
        for n in range(PER_IP - 1):  # near the limit, seen by the first process
            body = {"activationKey": f"ZZZZ-8888-8888-{n:04d}", "hardwareId": "h"}
            await first.post("/api/license/validate", json=body, headers=headers)
        body = {"activationKey": "ZZZZ-8888-8888-9999", "hardwareId": "h"}
        await second.post("/api/license/validate", json=body, headers=headers)  # reaches it
        # the first process has not refreshed its view (its refresh is due only later)
        first_limiter = first._transport.app.seam.limiter  # type: ignore[attr-defined]
        first_limiter._refreshed_at = float("inf")
        guess = {"activationKey": license.activation_key, "hardwareId": "h"}
        lucky = await first.post("/api/license/validate", json=guess, headers=headers)

    _assert_limited(lucky)


def test_a_callers_limits_follow_the_settings(database: Database) -> None:
    """A caller's limits are made once, and made again when the settings are replaced."""
    limiter = FailureLimiter(
        lambda: database, SecuritySettings(lookup_per_token=50, lookup_per_ip=5)
    )
    first = limiter.limits("cached", "10.2.2.2")
    assert [(limit.key, limit.allowed) for limit in first] == [
        ("token:cached", 50),
        ("ip:cached:10.2.2.2", 5),
    ]
    assert limiter.limits("cached", "10.2.2.2") is first
    assert [limit.key for limit in limiter.limits("cached", None)] == ["token:cached"]

    limiter.settings = SecuritySettings(lookup_per_token=0, lookup_per_ip=7)
    assert [(limit.key, limit.allowed) for limit in limiter.limits("cached", "10.2.2.2")] == [
        ("ip:cached:10.2.2.2", 7)
    ]
