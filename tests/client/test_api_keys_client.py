"""consume() and get_usage(): the exact requests, the answers read, never a retried consume
(both clients)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, Callable

import pytest

from exisone import (
    ApiUsage,
    ApiUsageDay,
    ConsumeResult,
    InvalidArgumentError,
    InvalidResponseError,
    NotFoundError,
    ServerError,
)

from .conftest import BASE_URL, FakeServer, reply, run

ALLOWED = {
    "allowed": True,
    "remaining": 93,
    "limit": 100,
    "used": 7,
    "resetAt": "2030-01-01T12:01:00Z",
    "retryAfter": None,
    "rateLimitPerMinute": 10,
    "rateRemaining": 3,
}


async def test_consume_posts_the_key_and_amount(make_client: Callable[..., Any]) -> None:
    server = FakeServer(reply(200, ALLOWED))
    client = make_client(server)

    result = await run(client.consume("ABCD-EFGH-JKMN-PQRS", 7))

    assert result == ConsumeResult(
        allowed=True,
        remaining=93,
        limit=100,
        used=7,
        reset_at=datetime(2030, 1, 1, 12, 1, tzinfo=timezone.utc),
        retry_after=None,
        reason=None,
        rate_limit_per_minute=10,
        rate_remaining=3,
    )
    assert server.last.method == "POST"
    assert str(server.last.url) == BASE_URL + "/api/license/consume"
    assert server.json() == {"activationKey": "ABCD-EFGH-JKMN-PQRS", "amount": 7}


async def test_a_refusal_is_a_result(make_client: Callable[..., Any]) -> None:
    refused = {**ALLOWED, "allowed": False, "reason": "rate_limit_exceeded", "retryAfter": 42}
    client = make_client(FakeServer(reply(200, refused)))
    result = await run(client.consume("K"))
    assert (result.allowed, result.reason, result.retry_after) == (
        False,
        "rate_limit_exceeded",
        42,
    )


async def test_a_consume_is_never_repeated(make_client: Callable[..., Any]) -> None:
    """A repeat after an answer that was lost could spend the calls twice."""
    server = FakeServer(reply(503, {"error": "unavailable", "message": "x"}), reply(200, ALLOWED))
    client = make_client(server)
    with pytest.raises(ServerError):
        await run(client.consume("K"))
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("key", "amount"), [("", 1), ("  ", 1), ("K", 0), ("K", -3), ("K", True), ("K", 1.0)]
)
async def test_bad_arguments_send_nothing(
    make_client: Callable[..., Any], key: str, amount: Any
) -> None:
    server = FakeServer(reply(200, ALLOWED))
    client = make_client(server)
    with pytest.raises(InvalidArgumentError):
        await run(client.consume(key, amount))
    assert server.requests == []


async def test_unknown_keys_and_unreadable_answers_raise(make_client: Callable[..., Any]) -> None:
    server = FakeServer(
        reply(404, {"error": "license_not_found", "message": "No license."}),
        reply(200, {"remaining": 3}),
    )
    client = make_client(server)
    with pytest.raises(NotFoundError) as raised:
        await run(client.consume("K"))
    assert raised.value.error_code == "license_not_found"
    with pytest.raises(InvalidResponseError):
        await run(client.consume("K"))


async def test_get_usage_reads_the_quota_and_the_days(make_client: Callable[..., Any]) -> None:
    server = FakeServer(
        reply(
            200,
            {
                "activationKey": "K/1",
                "isApiLicense": True,
                "limit": 100,
                "used": 7,
                "remaining": 93,
                "callsThisMinute": 2,
                "resetAt": None,
                "usage": [
                    {"date": "2030-01-01", "calls": 4},
                    {"date": "2030-01-02", "calls": 3},
                    {"date": "not a date", "calls": 1},
                ],
            },
        )
    )
    client = make_client(server)

    usage = await run(client.get_usage("K/1", days=2))

    assert usage == ApiUsage(
        is_api_license=True,
        limit=100,
        used=7,
        remaining=93,
        calls_this_minute=2,
        rate_limit_per_minute=None,
        reset_at=None,
        usage=[ApiUsageDay(date(2030, 1, 1), 4), ApiUsageDay(date(2030, 1, 2), 3)],
    )
    assert server.last.method == "GET"
    assert str(server.last.url) == BASE_URL + "/api/license/K%2F1/quota?days=2"
    with pytest.raises(InvalidArgumentError):
        await run(client.get_usage("K", days=0))
    assert len(server.requests) == 1
    assert server.last.content == b""  # a GET without a body
