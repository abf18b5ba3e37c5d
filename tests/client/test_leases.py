"""client.lease: checkout, background heartbeats, riding out failures inside the TTL, loss,
release; sync (a daemon thread) and async (a task), against the test kit's floating seats."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import httpx
import pytest

from exisone import (
    APIError,
    AsyncExisOneClient,
    AsyncLease,
    BadRequestError,
    ConflictError,
    ExisOneClient,
    Lease,
    LeaseLostReason,
    NoFreeSeatError,
    NotFoundError,
)
from exisone._lease_exit import _releasers
from exisone.protocol import verify_lease_token
from exisone.testing import FakeClock, FakeExisOneServer, KeyPair

HW1, HW2 = "A" * 64, "B" * 64
KEYS = KeyPair.generate()


class Flaky(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """The fake server behind a switch: ``down`` (connection refused) or a status to answer
    every request with (503, 429...) instead of the server."""

    def __init__(self, server: FakeExisOneServer) -> None:
        self.server = server
        self.failure: str | int | None = None

    def _answer(self, request: httpx.Request) -> httpx.Response:
        if self.failure == "down":
            raise httpx.ConnectError("refused", request=request)
        if isinstance(self.failure, int):
            return httpx.Response(self.failure, json={"error": "busy", "message": "busy"})
        return self.server.handle_request(request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._answer(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return self._answer(request)


@pytest.fixture
def server() -> FakeExisOneServer:
    server = FakeExisOneServer(key_pair=KEYS)
    server.add_product("App")
    return server


@pytest.fixture
def key(server: FakeExisOneServer) -> str:
    return server.add_license("App", floating=True, max_seats=2, features=["Pro"]).key


@pytest.fixture
def flaky(server: FakeExisOneServer) -> Flaky:
    return Flaky(server)


@pytest.fixture
def client(server: FakeExisOneServer, flaky: Flaky) -> Iterator[ExisOneClient]:
    with server.client(transport=flaky) as client:
        yield client


@pytest.fixture
async def aclient(server: FakeExisOneServer, flaky: Flaky) -> AsyncIterator[AsyncExisOneClient]:
    async with server.async_client(transport=flaky) as client:
        yield client


@pytest.fixture(autouse=True)
def _no_exit_releasers_left() -> Iterator[None]:
    yield
    assert not _releasers, "a lease stayed registered for release at exit"


def heartbeats(server: FakeExisOneServer) -> int:
    return sum(lease.heartbeats for lease in server.leases.values())


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


# -- sync -------------------------------------------------------------------------------------


def test_checkout_holds_a_seat_and_exit_gives_it_back(
    server: FakeExisOneServer, key: str, client: ExisOneClient
) -> None:
    with client.lease(key, HW1, "App", ttl_seconds=60) as lease:
        assert isinstance(lease, Lease)
        assert lease.active and not lease.lost and lease.lost_reason is None
        assert lease.features == ("Pro",)
        assert lease.expires_at is not None and lease.expires_at > datetime.now(timezone.utc)
        assert lease.grant is not None and lease.grant.max_seats == 2
        assert lease.grant.seats_in_use == 1 and lease.grant.ttl_seconds == 60
        assert lease.token is not None
        token = verify_lease_token(lease.token, [KEYS.private_key.public_key()])
        assert token.lease_id == lease.lease_id and token.hardware_id == HW1
        assert [held.hardware_id for held in server.live_leases(key)] == [HW1]
    assert (lease.lost, lease.active) == (False, False)
    assert server.leases == {}
    sent = [request.url.path for request in server.requests]
    assert sent == ["/api/license/lease", "/api/license/lease/release"]


def test_the_same_machine_renews_its_own_lease(
    server: FakeExisOneServer, key: str, client: ExisOneClient
) -> None:
    first, second = client.lease(key, HW1, "App"), client.lease(key, HW1, "App")
    assert second.acquire().lease_id == first.acquire().lease_id
    assert len(server.live_leases(key)) == 1
    assert second.release() is True
    assert first.release() is False  # the same lease: given back already


def test_no_free_seat_is_a_typed_conflict(server: FakeExisOneServer, client: ExisOneClient) -> None:
    key = server.add_license("App", floating=True, max_seats=1).key
    held = client.lease(key, HW1, "App", ttl_seconds=120)
    with held, pytest.raises(NoFreeSeatError) as refused:
        client.lease(key, HW2, "App").acquire()
    error = refused.value
    assert isinstance(error, ConflictError) and error.status_code == 409
    assert error.error_code == "no_free_seat"
    assert (error.seats_in_use, error.max_seats) == (1, 1)
    assert error.next_free_at == held.expires_at


@pytest.mark.parametrize(
    ("setup", "error", "code"),
    [
        (lambda s: s.add_license("App").key, ConflictError, "not_floating"),
        (lambda s: "NO-SUCH-KEY", NotFoundError, "license_not_found"),
        (lambda s: s.add_license("Other", floating=True).key, ConflictError, "product_mismatch"),
    ],
)
def test_refusals_at_checkout_raise(
    server: FakeExisOneServer,
    setup: Callable[[FakeExisOneServer], str],
    error: type[APIError],
    code: str,
    client: ExisOneClient,
) -> None:
    with pytest.raises(error) as refused:
        client.lease(setup(server), HW1, "App").acquire()
    assert refused.value.error_code == code


def test_a_ttl_out_of_the_plans_bounds_is_a_bad_request(
    server: FakeExisOneServer, key: str, client: ExisOneClient
) -> None:
    server.licenses[key].max_ttl_seconds = 600
    with pytest.raises(BadRequestError) as refused:
        client.lease(key, HW1, "App", ttl_seconds=601).acquire()
    assert refused.value.error_code == "invalid_request"
    with pytest.raises(ValueError):
        client.lease(key, HW1, "App", ttl_seconds=0)


def test_heartbeats_run_in_the_background_at_a_third_of_the_ttl(
    server: FakeExisOneServer, key: str, client: ExisOneClient
) -> None:
    with client.lease(key, HW1, "App", ttl_seconds=2) as lease:
        first = lease.expires_at
        assert first is not None
        time.sleep(2.5)  # past the first TTL: only heartbeats keep it (at 0.67 s, 1.33 s, 2 s)
        assert 2 <= heartbeats(server) <= 5
        assert lease.active and lease.expires_at is not None and lease.expires_at >= first
        assert server.live_leases(key)


@pytest.mark.parametrize("failure", ["down", 503, 429])
def test_transient_failures_inside_the_ttl_are_ridden_out(
    server: FakeExisOneServer, key: str, failure: str | int, client: ExisOneClient, flaky: Flaky
) -> None:
    lost: list[LeaseLostReason] = []
    with client.lease(key, HW1, "App", ttl_seconds=4, on_lost=lost.append) as lease:
        flaky.failure = failure
        time.sleep(2.0)  # the heartbeat at 1.33 s fails and is retried
        assert heartbeats(server) == 0 and lease.active
        flaky.failure = None
        wait_until(lambda: heartbeats(server) >= 1, timeout=3.0)
        assert lease.active and not lost
    assert server.leases == {}


def test_no_heartbeat_within_the_ttl_loses_the_lease(
    server: FakeExisOneServer, key: str, client: ExisOneClient, flaky: Flaky
) -> None:
    lost: list[LeaseLostReason] = []
    with client.lease(key, HW1, "App", ttl_seconds=1, on_lost=lost.append) as lease:
        flaky.failure = "down"
        wait_until(lambda: lease.lost)
        assert lease.lost_reason == LeaseLostReason.TTL_PASSED and not lease.active
        wait_until(lambda: bool(lost))
        assert lost == [LeaseLostReason.TTL_PASSED]
        flaky.failure = None  # the server is back: leaving still tries to give the seat back
    released = [r for r in server.requests if r.url.path.endswith("/release")]
    assert len(released) == 1 and server.leases == {}


def test_a_lease_the_server_ended_is_not_released(
    server: FakeExisOneServer, key: str, client: ExisOneClient
) -> None:
    with client.lease(key, HW1, "App", ttl_seconds=1) as lease:
        server.end_lease(lease.lease_id or "")
        wait_until(lambda: lease.lost)
    assert not [r for r in server.requests if r.url.path.endswith("/release")]


def test_releasing_after_the_client_closed_is_quiet(server: FakeExisOneServer, key: str) -> None:
    client = server.client()
    lease = client.lease(key, HW1, "App", ttl_seconds=60)
    lease.acquire()
    client.close()
    assert lease.release() is False  # the seat runs out by its TTL


def test_a_lease_run_out_on_the_server_is_lost_with_410() -> None:
    clock = FakeClock()
    server = FakeExisOneServer(key_pair=KEYS, clock=clock)
    server.add_product("App")
    key = server.add_license("App", floating=True).key
    lost: list[LeaseLostReason] = []
    client = server.client(clock=None)
    with client, client.lease(key, HW1, "App", ttl_seconds=1, on_lost=lost.append) as lease:
        clock.advance(seconds=5)  # the server's time: the lease ran out there
        wait_until(lambda: bool(lost))
        assert lost == [LeaseLostReason.EXPIRED] and lease.lost
        assert str(lease.lost_reason) == "lease_expired"


@pytest.mark.parametrize(
    ("end", "reason"),
    [
        (lambda s, lease_id, key: s.end_lease(lease_id), LeaseLostReason.NOT_FOUND),
        (lambda s, lease_id, key: s.revoke(key), LeaseLostReason.LICENSE_REVOKED),
        (
            lambda s, lease_id, key: setattr(s.licenses[key], "suspended", True),
            LeaseLostReason.LICENSE_SUSPENDED,
        ),
    ],
)
def test_the_publisher_ending_the_lease_is_a_loss(
    server: FakeExisOneServer,
    key: str,
    end: Callable[..., None],
    reason: LeaseLostReason,
    client: ExisOneClient,
) -> None:
    called = threading.Event()
    lost: list[LeaseLostReason] = []

    def on_lost(why: LeaseLostReason) -> None:
        lost.append(why)
        called.set()

    with client.lease(key, HW1, "App", ttl_seconds=1, on_lost=on_lost) as lease:
        end(server, lease.lease_id, key)
        assert called.wait(5)
        assert lost == [reason] and lease.lost_reason == reason


def test_a_failing_callback_does_not_kill_anything(
    server: FakeExisOneServer, key: str, client: ExisOneClient
) -> None:
    def on_lost(_reason: LeaseLostReason) -> None:
        raise RuntimeError("application bug")

    with client.lease(key, HW1, "App", ttl_seconds=1, on_lost=on_lost) as lease:
        server.end_lease(lease.lease_id or "")
        wait_until(lambda: lease.lost)


def test_release_with_the_server_unreachable_is_quiet(
    server: FakeExisOneServer, key: str, client: ExisOneClient, flaky: Flaky
) -> None:
    lease = client.lease(key, HW1, "App", ttl_seconds=60)
    lease.acquire()
    flaky.failure = "down"
    assert lease.release() is False
    assert not lease.active and not lease.lost
    assert lease.release() is False  # twice is harmless
    assert len(server.live_leases(key)) == 1  # it runs out by its TTL


def test_an_exception_in_the_block_still_releases(
    server: FakeExisOneServer, key: str, client: ExisOneClient
) -> None:
    with pytest.raises(KeyError), client.lease(key, HW1, "App"):
        raise KeyError("boom")
    assert server.leases == {}


def test_a_lease_can_be_checked_out_once(
    server: FakeExisOneServer, key: str, client: ExisOneClient
) -> None:
    lease = client.lease(key, HW1, "App")
    with lease, pytest.raises(RuntimeError):
        lease.acquire()


# -- async ------------------------------------------------------------------------------------


async def test_async_lease_checkout_heartbeats_and_release(
    server: FakeExisOneServer, key: str, aclient: AsyncExisOneClient
) -> None:
    async with aclient.lease(key, HW1, "App", ttl_seconds=2) as lease:
        assert isinstance(lease, AsyncLease) and lease.active
        assert lease.features == ("Pro",)
        await asyncio.sleep(2.5)  # past the first TTL: only heartbeats keep it
        assert 2 <= heartbeats(server) <= 5 and lease.active
    assert server.leases == {} and not lease.active


async def test_async_no_free_seat(server: FakeExisOneServer, aclient: AsyncExisOneClient) -> None:
    key = server.add_license("App", floating=True, max_seats=1).key
    async with aclient.lease(key, HW1, "App"):
        second = aclient.lease(key, HW2, "App")
        with pytest.raises(NoFreeSeatError) as refused:
            await second.acquire()
    assert refused.value.next_free_at is not None


async def test_async_rides_out_failures_then_loses_after_the_ttl(
    server: FakeExisOneServer, key: str, aclient: AsyncExisOneClient, flaky: Flaky
) -> None:
    lost: list[Any] = []

    async def on_lost(reason: LeaseLostReason) -> None:  # a coroutine callback is awaited
        lost.append(reason)

    async with aclient.lease(key, HW1, "App", ttl_seconds=2, on_lost=on_lost) as lease:
        flaky.failure = 503
        await asyncio.sleep(1.0)
        assert lease.active
        flaky.failure = None
        for _ in range(100):
            if heartbeats(server):
                break
            await asyncio.sleep(0.02)
        assert heartbeats(server) >= 1 and lease.active
        flaky.failure = "down"
        for _ in range(200):
            if lost:
                break
            await asyncio.sleep(0.02)
        assert lost == [LeaseLostReason.TTL_PASSED] and lease.lost


async def test_async_loss_by_410(
    server: FakeExisOneServer, key: str, aclient: AsyncExisOneClient
) -> None:
    lost: list[LeaseLostReason] = []
    async with aclient.lease(key, HW1, "App", ttl_seconds=1, on_lost=lost.append) as lease:
        server.leases[lease.lease_id or ""].expires_at -= timedelta(hours=1)
        for _ in range(200):
            if lost:
                break
            await asyncio.sleep(0.02)
        assert lost == [LeaseLostReason.EXPIRED]
