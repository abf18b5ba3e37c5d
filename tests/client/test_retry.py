"""Retry arithmetic (pure) and which calls each client repeats (with a fake sleep)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any, Callable

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from exisone import (
    APIError,
    ConnectError,
    NetworkError,
    RateLimitError,
    ReadTimeout,
    ServerError,
    TransportError,
)
from exisone._constants import INITIAL_RETRY_DELAY, MAX_RETRY_AFTER_DELAY, MAX_RETRY_DELAY
from exisone._retry import (
    backoff_delay,
    is_retryable_error,
    is_retryable_status,
    parse_retry_after,
    retry_delay_for_status,
)

from .conftest import FakeServer, reply, run

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=timezone.utc)


def test_retry_after_seconds_and_http_dates() -> None:
    assert parse_retry_after("7", NOW) == 7.0
    assert parse_retry_after(" 1.5 ", NOW) == 1.5
    assert parse_retry_after("-3", NOW) == 0.0
    in_ten = format_datetime(NOW + timedelta(seconds=10), usegmt=True)
    assert parse_retry_after(in_ten, NOW) == 10.0
    past = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    assert parse_retry_after(past, NOW) == 0.0
    for unreadable in (None, "", "soon", "nan", "inf", "Thu, 99 Foo 2026 00:00:00 GMT"):
        assert parse_retry_after(unreadable, NOW) is None


def test_backoff_doubles_up_to_the_cap_with_bounded_jitter() -> None:
    assert [backoff_delay(n, 0.0) for n in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff_delay(50, 0.0) == MAX_RETRY_DELAY
    assert backoff_delay(0, 1.0) == INITIAL_RETRY_DELAY * 0.75


@given(st.integers(min_value=0, max_value=10_000), st.floats(min_value=0.0, max_value=1.0))
def test_backoff_is_always_within_bounds(retries_done: int, rand: float) -> None:
    delay = backoff_delay(retries_done, rand)
    assert 0.75 * INITIAL_RETRY_DELAY <= delay <= MAX_RETRY_DELAY


def test_status_delay_honours_hint_and_gives_up_above_the_cap() -> None:
    assert retry_delay_for_status(0, {"retry-after": "2"}, 0.0, NOW) == 2.0
    assert retry_delay_for_status(1, {}, 0.0, NOW) == 1.0
    too_long = str(MAX_RETRY_AFTER_DELAY + 1)
    assert retry_delay_for_status(0, {"retry-after": too_long}, 0.0, NOW) is None


def test_which_failures_are_retryable() -> None:
    assert is_retryable_error(ConnectError("refused"), idempotent=False)
    assert not is_retryable_error(ReadTimeout("slow"), idempotent=False)
    assert is_retryable_error(ReadTimeout("slow"), idempotent=True)
    assert not is_retryable_error(NetworkError("reset"), idempotent=False)
    for status in (429, 502, 503, 504):
        assert is_retryable_status(status, idempotent=True)
        assert not is_retryable_status(status, idempotent=False)
    for status in (400, 401, 403, 404, 409, 500):
        assert not is_retryable_status(status, idempotent=True)


IDEMPOTENT_CALLS = [
    ("activate", ("K", "e@x.org", "HW", "P")),
    ("validate", ("K", "HW")),
    ("deactivate", ("K", "HW", "P")),
    ("get_licensed_features", ("K",)),
    ("get_seat_usage", ("K",)),
]
ONE_SHOT_CALLS = [
    ("generate_activation_key", ("P", "e@x.org")),
    ("send_support_ticket", ("P", "e@x.org", "S", "M")),
]
OK_BODY = {
    "isValid": True,
    "features": "A",
    "currentSeats": 1,
    "activationKey": "NEW-KEY",
}


@pytest.mark.parametrize(("method", "args"), IDEMPOTENT_CALLS)
async def test_idempotent_calls_retry_statuses_and_read_timeouts(
    make_client: Callable[..., Any], sleeps: list[float], method: str, args: tuple[str, ...]
) -> None:
    server = FakeServer(
        reply(503),
        httpx.ReadTimeout("slow"),
        reply(200, OK_BODY),
    )
    client = make_client(server)
    await run(getattr(client, method)(*args))
    assert len(server.requests) == 3
    assert sleeps == [0.5, 1.0]


@pytest.mark.parametrize(("method", "args"), ONE_SHOT_CALLS)
@pytest.mark.parametrize(
    "failure", [reply(503), reply(429), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("x")]
)
async def test_non_idempotent_calls_are_not_repeated_after_sending(
    make_client: Callable[..., Any],
    sleeps: list[float],
    method: str,
    args: tuple[str, ...],
    failure: Any,
) -> None:
    server = FakeServer(failure, reply(200, OK_BODY))
    client = make_client(server)
    with pytest.raises((APIError, TransportError)):
        await run(getattr(client, method)(*args))
    assert len(server.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize(("method", "args"), IDEMPOTENT_CALLS[1:] + ONE_SHOT_CALLS)
async def test_every_call_retries_when_the_connection_was_never_opened(
    make_client: Callable[..., Any], sleeps: list[float], method: str, args: tuple[str, ...]
) -> None:
    server = FakeServer(
        httpx.ConnectError("refused"), httpx.ConnectTimeout("t"), reply(200, OK_BODY)
    )
    client = make_client(server)
    await run(getattr(client, method)(*args))
    assert len(server.requests) == 3
    assert sleeps == [0.5, 1.0]


async def test_retries_stop_after_max_retries_and_raise_the_last_error(
    make_client: Callable[..., Any], sleeps: list[float]
) -> None:
    server = FakeServer(reply(502, {"error": "bad_gateway"}))
    client = make_client(server, max_retries=3)
    with pytest.raises(ServerError) as info:
        await run(client.validate("K", "HW"))
    assert info.value.status_code == 502
    assert len(server.requests) == 4
    assert sleeps == [0.5, 1.0, 2.0]


async def test_retry_after_hint_is_used(
    make_client: Callable[..., Any], sleeps: list[float]
) -> None:
    server = FakeServer(reply(429, None, [("Retry-After", "3")]), reply(200, {"isValid": True}))
    client = make_client(server)
    assert (await run(client.validate("K", "HW"))).is_valid
    assert sleeps == [3.0]


async def test_long_retry_after_hint_ends_retrying(
    make_client: Callable[..., Any], sleeps: list[float]
) -> None:
    server = FakeServer(reply(429, None, [("Retry-After", "600")]), reply(200, {"isValid": True}))
    client = make_client(server)
    with pytest.raises(RateLimitError, match="HTTP 429"):
        await run(client.validate("K", "HW"))
    assert len(server.requests) == 1 and sleeps == []


async def test_max_retries_zero_sends_once(
    make_client: Callable[..., Any], sleeps: list[float]
) -> None:
    server = FakeServer(httpx.ConnectError("refused"), reply(200, {"isValid": True}))
    client = make_client(server, max_retries=0)
    with pytest.raises(ConnectError):
        await run(client.validate("K", "HW"))
    assert len(server.requests) == 1 and sleeps == []
