"""API keys end to end: our clients (sync and async) spend and read a key's calls on the real
server over HTTPS."""

from __future__ import annotations

import ssl
import uuid

import httpx
import pytest

from exisone import AsyncExisOneClient, ExisOneClient, NotFoundError

from .conftest import Server


def _api_key(server: Server, calls: int, rate: int | None = None) -> str:
    """A key of a new API product of the demo tenant (its token holds every permission)."""
    name = f"Api-{uuid.uuid4().hex[:8]}"
    with httpx.Client(
        base_url=server.base_url,
        verify=ssl.create_default_context(cafile=str(server.tls.ca_path)),
        headers={"Authorization": f"ExisOneApi {server.demo.token}"},
    ) as http:
        product = {"name": name, "isApiProduct": True, "defaultApiCalls": calls}
        if rate is not None:
            product["apiRateLimitPerMinute"] = rate
        assert http.post("/api/product", json=product).status_code in (200, 201)
        generated = http.post(
            "/api/activationkey/generate", json={"productName": name, "email": "a@b.c"}
        )
        assert generated.status_code == 200, generated.text
        return str(generated.json()["activationKey"])


def test_consume_until_the_quota_is_spent(ours: ExisOneClient, server: Server) -> None:
    key = _api_key(server, calls=5)

    first = ours.consume(key, 3)
    assert (first.allowed, first.used, first.remaining, first.limit) == (True, 3, 2, 5)
    refused = ours.consume(key, 3)
    assert (refused.allowed, refused.reason, refused.remaining) == (False, "quota_exceeded", 2)
    assert ours.consume(key, 2).remaining == 0

    usage = ours.get_usage(key, days=1)
    assert (usage.is_api_license, usage.used, usage.remaining) == (True, 5, 0)
    assert [day.calls for day in usage.usage] == [5]
    with pytest.raises(NotFoundError):
        ours.consume("ZZZZ-ZZZZ-ZZZZ-ZZZZ")


async def test_the_async_client_sees_the_rate_limit(
    ours_async: AsyncExisOneClient, server: Server
) -> None:
    key = _api_key(server, calls=1000, rate=2)
    answers = [await ours_async.consume(key) for _ in range(3)]
    # Two fit in a minute; the third is refused unless a new minute began in between.
    refused = [answer for answer in answers if not answer.allowed]
    assert len(refused) <= 1
    for answer in refused:
        assert answer.reason == "rate_limit_exceeded" and 1 <= (answer.retry_after or 0) <= 60
    usage = await ours_async.get_usage(key)
    assert usage.rate_limit_per_minute == 2 and usage.used == 3 - len(refused)
    assert usage.reset_at is not None
