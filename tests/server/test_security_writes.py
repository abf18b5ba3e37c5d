"""Writes a shipped token can cause are limited: new trials and tickets per token and IP (429),
ticket size, webhook endpoints per tenant (409), validation-failed events per minute (both
databases, in-process)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import delete, func, select

from exisone_server.auth import Permission
from exisone_server.db import Database
from exisone_server.models import (
    Product,
    RateLimitCounter,
    SupportTicket,
    Trial,
    WebhookEndpoint,
    WebhookEvent,
)
from exisone_server.security.write_limits import WriteLimitSettings, take_slots

from .helpers import assert_error
from .seeding import Api, Seed


@asynccontextmanager
async def api_at(seed: Seed, token: str, ip: str) -> AsyncIterator[Api]:
    """The seed's app, called from client IP ``ip`` with ``token``."""
    app = seed.client._transport.app  # type: ignore[attr-defined]
    transport = httpx.ASGITransport(app=app, client=(ip, 41000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Api(client, token)


async def _trial(api: Api, hardware_id: str) -> httpx.Response:
    return await api.post(
        "/api/license/validate", {"hardwareId": hardware_id, "productName": "TrialApp"}
    )


async def _trial_rows(seed: Seed, product: Product) -> int:
    async with seed.database.read() as connection:
        count = await connection.scalar(
            select(func.count(Trial.id)).where(Trial.product_id == product.id)
        )
    return int(count or 0)


async def test_new_trials_are_limited_per_ip_and_per_token(
    seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXISONE_RATE_LIMIT_TRIALS_PER_IP", "3")
    monkeypatch.setenv("EXISONE_RATE_LIMIT_TRIALS_PER_TOKEN", "5")
    product = await seed.product("TrialApp", trial_days=14)
    token = await seed.token(Permission.VERIFY)
    async with (
        api_at(seed, token, "198.51.100.1") as first,
        api_at(seed, token, "198.51.100.2") as second,
    ):
        for n in range(3):
            assert (await _trial(first, f"DEV-A{n}")).json()["status"] == "trial"
        refused = assert_error(await _trial(first, "DEV-A9"), 429, "rate_limited")
        assert "new trials" in refused["message"]
        over = await _trial(first, "DEV-A9")
        assert 1 <= int(over.headers["retry-after"]) <= 3600
        # a device that has its trial already is answered as before (it writes nothing)
        assert (await _trial(first, "DEV-A0")).json()["status"] == "trial"
        # another IP has its own 3, until the token's 5 are used up
        assert (await _trial(second, "DEV-B0")).json()["status"] == "trial"
        assert (await _trial(second, "DEV-B1")).json()["status"] == "trial"
        assert_error(await _trial(second, "DEV-B2"), 429, "rate_limited")
    assert await _trial_rows(seed, product) == 5
    # another token (another copy of the settings: a new app version) is not concerned
    async with api_at(seed, await seed.token(Permission.VERIFY), "198.51.100.1") as other:
        assert (await _trial(other, "DEV-C0")).json()["status"] == "trial"


async def test_racing_first_visits_of_a_device_take_one_trial_slot(
    seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trial and its slot are one transaction: requests that find the trial started by a
    concurrent one take no slot, so a burst of one device's first visits uses one."""
    monkeypatch.setenv("EXISONE_RATE_LIMIT_TRIALS_PER_IP", "2")
    product = await seed.product("TrialApp", trial_days=14)
    token = await seed.token(Permission.VERIFY)
    async with api_at(seed, token, "198.51.100.7") as api:
        burst = await asyncio.gather(*(_trial(api, "DEV-SAME") for _ in range(20)))
        second = await _trial(api, "DEV-OTHER")

    assert {answer.json().get("status") for answer in burst} == {"trial"}, [a.text for a in burst]
    assert second.json()["status"] == "trial"  # the burst took one of the two slots
    assert await _trial_rows(seed, product) == 2


async def test_slots_are_exact_under_concurrency(database: Database) -> None:
    """40 racing writers, 7 slots: exactly 7 get one; a refused pair takes neither slot."""
    key = f"race:{uuid.uuid4().hex}"
    answers = await asyncio.gather(
        *(take_slots(database, "writes", [(key, 7)], 3600, 7_200_000.0) for _ in range(40))
    )
    assert answers.count(True) == 7
    # the per-IP slot is free but the per-token one is not: nothing is taken
    assert not await take_slots(database, "writes", [(f"{key}:ip", 2), (key, 7)], 3600, 7_200_000.0)
    assert await take_slots(database, "writes", [(f"{key}:ip", 1)], 3600, 7_200_000.0)
    # the next window starts over, and the ended one is deleted
    assert await take_slots(database, "writes", [(key, 7)], 3600, 7_203_600.0)
    async with database.read() as connection:
        left = await connection.scalar(
            select(func.count(RateLimitCounter.id)).where(
                RateLimitCounter.scope == "writes", RateLimitCounter.window_start == 7_200_000
            )
        )
    assert left == 0


async def test_tickets_are_limited_and_capped(seed: Seed, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXISONE_RATE_LIMIT_TICKETS_PER_IP", "2")
    token = await seed.token(Permission.EMAIL)
    body = {"productName": "App", "email": "u@example.com", "subject": "Help"}
    async with api_at(seed, token, "203.0.113.40") as api:
        too_long = await api.post("/api/support/ticket", {**body, "message": "x" * 10_001})
        assert "10000" in assert_error(too_long, 400, "invalid_request")["message"]
        for _ in range(2):
            sent = await api.post("/api/support/ticket", {**body, "message": "x" * 10_000})
            assert sent.status_code == 200, sent.text
        assert_error(
            await api.post("/api/support/ticket", {**body, "message": "again"}), 429, "rate_limited"
        )
    async with seed.database.read() as connection:
        stored = await connection.scalar(
            select(func.count(SupportTicket.id)).where(SupportTicket.tenant_id == seed.tenant.id)
        )
    assert stored == 2


async def test_webhook_endpoints_per_tenant_are_capped(
    seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXISONE_WEBHOOKS_ALLOW_HTTP_LOOPBACK", "1")
    monkeypatch.setenv("EXISONE_WEBHOOKS_MAX_ENDPOINTS", "2")
    try:
        for n in range(2):
            created = await seed.api.post("/api/webhook", {"url": f"http://127.0.0.1:9/{n}"})
            assert created.status_code == 201, created.text
        refused = await seed.api.post("/api/webhook", {"url": "http://127.0.0.1:9/x"})
        assert "at most 2" in assert_error(refused, 409, "webhook_limit_reached")["message"]
        first = (await seed.api.get("/api/webhook")).json()[0]["id"]
        assert (
            await seed.api.client.delete(f"/api/webhook/{first}", headers=seed.api.headers)
        ).status_code in (200, 204)
        again = await seed.api.post("/api/webhook", {"url": "http://127.0.0.1:9/y"})
        assert again.status_code == 201
    finally:
        async with seed.database.write() as session:
            await session.execute(
                delete(WebhookEndpoint).where(WebhookEndpoint.tenant_id == seed.tenant.id)
            )


async def test_validation_failed_events_per_minute_are_capped(
    seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXISONE_WEBHOOKS_ALLOW_HTTP_LOOPBACK", "1")
    monkeypatch.setenv("EXISONE_WEBHOOKS_VALIDATION_FAILED_PER_MINUTE", "3")
    created = await seed.api.post(
        "/api/webhook",
        {"url": "http://127.0.0.1:9/hook", "events": ["license.validation.failed"]},
    )
    assert created.status_code == 201
    try:
        for n in range(12):
            answer = await seed.api.post(
                "/api/license/validate",
                {"hardwareId": f"HW-{n}", "activationKey": "AAAA-BBBB-CCCC-DDDD"},
            )
            assert answer.json()["isValid"] is False
        async with seed.database.read() as connection:
            events = await connection.scalar(
                select(func.count(WebhookEvent.id)).where(
                    WebhookEvent.tenant_id == seed.tenant.id,
                    WebhookEvent.event_type == "license.validation.failed",
                )
            )
        assert events in (3, 6)  # 3 a minute (6 when the test ran across a minute boundary)
    finally:
        async with seed.database.write() as session:
            await session.execute(
                delete(WebhookEndpoint).where(WebhookEndpoint.tenant_id == seed.tenant.id)
            )


def test_write_limits_come_from_the_environment() -> None:
    settings = WriteLimitSettings.from_env(
        {
            "EXISONE_RATE_LIMIT_WRITE_WINDOW_SECONDS": "60",
            "EXISONE_RATE_LIMIT_TRIALS_PER_TOKEN": "0",
            "EXISONE_RATE_LIMIT_TRIALS_PER_IP": "4",
            "EXISONE_RATE_LIMIT_TICKETS_PER_TOKEN": "9",
            "EXISONE_RATE_LIMIT_TICKETS_PER_IP": "1",
        }
    )
    assert settings == WriteLimitSettings(60, 0, 4, 9, 1)
    assert WriteLimitSettings.from_env({}) == WriteLimitSettings(3600, 2000, 50, 200, 10)
    with pytest.raises(ValueError, match="EXISONE_RATE_LIMIT_TICKETS_PER_IP"):
        WriteLimitSettings.from_env({"EXISONE_RATE_LIMIT_TICKETS_PER_IP": "-1"})
