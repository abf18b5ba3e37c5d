"""client.borrow, return_borrowed and validate_lease_offline: a seat checked out for offline
use, its signed token kept in the state directory and checked without a network."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from exisone import (
    BadRequestError,
    BorrowedLease,
    ConflictError,
    LeaseStatus,
    NoFreeSeatError,
    TransportError,
)
from exisone.protocol import issue_lease_token
from exisone.testing import FakeClock, FakeExisOneServer, KeyPair

START = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
HW1, HW2 = "A" * 64, "B" * 64
KEYS = KeyPair.generate()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def server(clock: FakeClock) -> FakeExisOneServer:
    server = FakeExisOneServer(key_pair=KEYS, clock=clock)
    server.add_product("App")
    return server


@pytest.fixture
def key(server: FakeExisOneServer) -> str:
    return server.add_license("App", floating=True, max_seats=1, features=["Pro"]).key


def test_borrow_checks_a_seat_out_for_hours_and_keeps_the_token(
    server: FakeExisOneServer, key: str, clock: FakeClock, tmp_path: Path
) -> None:
    with server.client(state_dir=tmp_path) as client:
        borrowed = client.borrow(key, HW1, "App", 48)
    assert isinstance(borrowed, BorrowedLease)
    assert borrowed.expires_at == START + timedelta(hours=48)
    assert (borrowed.hardware_id, borrowed.product_name) == (HW1, "App")
    assert borrowed.features == ("Pro",) and borrowed.max_seats == 1
    (lease,) = server.live_leases(key)
    assert lease.borrowed and lease.lease_id == borrowed.lease_id
    assert list((tmp_path / "borrowed-leases").glob("*.json"))

    server.reachable = False  # offline from here: a new process, the same state directory
    clock.advance(hours=47)
    with server.client(state_dir=tmp_path) as offline:
        check = offline.validate_lease_offline(hardware_id=HW1, product_name="app")
        assert check.is_valid and check.status == LeaseStatus.VALID
        assert check.borrowed and check.features == ("Pro",)
        assert check.lease_id == borrowed.lease_id and check.expires_at == borrowed.expires_at
        clock.advance(hours=2)
        late = offline.validate_lease_offline(hardware_id=HW1, product_name="App")
        assert not late.is_valid and late.status == "expired" and late.error_message
    assert not any(request.url.path.endswith("lease") for request in server.requests[1:])


def test_the_borrowed_seat_is_taken_until_returned(server: FakeExisOneServer, key: str) -> None:
    with server.client() as client:
        client.borrow(key, HW1, "App", 8)
        with pytest.raises(NoFreeSeatError):
            client.lease(key, HW2, "App").acquire()
        assert client.return_borrowed(HW1, "App") is True
        assert server.leases == {}
        assert client.return_borrowed(HW1, "App") is False  # nothing borrowed any more
        check = client.validate_lease_offline(hardware_id=HW1, product_name="App")
        assert check.status == LeaseStatus.NOT_FOUND and not check.is_valid
        with client.lease(key, HW2, "App") as lease:
            assert lease.active


def test_returning_a_lease_the_server_forgot_drops_it_here(
    server: FakeExisOneServer, key: str
) -> None:
    with server.client() as client:
        borrowed = client.borrow(key, HW1, "App", 8)
        server.end_lease(borrowed.lease_id)
        assert client.return_borrowed(HW1, "App") is True
        assert client.validate_lease_offline(hardware_id=HW1, product_name="App").status == (
            "not_found"
        )


def test_returning_while_offline_raises_and_keeps_the_token(
    server: FakeExisOneServer, key: str
) -> None:
    with server.client() as client:
        client.borrow(key, HW1, "App", 8)
        server.reachable = False
        with pytest.raises(TransportError):
            client.return_borrowed(HW1, "App")
        assert client.validate_lease_offline(hardware_id=HW1, product_name="App").is_valid


def test_borrowing_beyond_the_plans_maximum_is_refused(server: FakeExisOneServer, key: str) -> None:
    server.licenses[key].max_borrow_hours = 72
    with server.client() as client:
        with pytest.raises(BadRequestError) as refused:
            client.borrow(key, HW1, "App", 73)
        assert refused.value.error_code == "invalid_request"
        with pytest.raises(ValueError):
            client.borrow(key, HW1, "App", 0)
        plain = server.add_license("App").key
        with pytest.raises(ConflictError) as not_floating:
            client.borrow(plain, HW1, "App", 1)
        assert not_floating.value.error_code == "not_floating"


def test_explicit_tokens_are_checked_for_machine_product_and_signature(
    server: FakeExisOneServer, key: str
) -> None:
    with server.client() as client:
        token = client.borrow(key, HW1, "App", 8).lease_token
        assert client.validate_lease_offline(token, hardware_id=HW1, product_name="App").is_valid
        other = client.validate_lease_offline(token, hardware_id=HW2, product_name="App")
        assert other.status == LeaseStatus.HARDWARE_MISMATCH and not other.is_valid
        product = client.validate_lease_offline(token, hardware_id=HW1, product_name="Other")
        assert product.status == LeaseStatus.PRODUCT_MISMATCH
        forged = client.validate_lease_offline(
            token[:-6] + "AAAAAA", hardware_id=HW1, product_name="App"
        )
        assert forged.status == LeaseStatus.INVALID and forged.error_message
        junk = client.validate_lease_offline("not a token", hardware_id=HW1, product_name="App")
        assert junk.status == "invalid"
        stranger = issue_lease_token(
            lease_id="l",
            tenant_id=1,
            activation_key=key,
            hardware_id=HW1,
            product_name="App",
            features=[],
            issued_at=START,
            expires_at=START + timedelta(days=1),
            borrowed=True,
            private_key=KeyPair.generate().private_key,
        )
        check = client.validate_lease_offline(stranger, hardware_id=HW1, product_name="App")
        assert check.status == LeaseStatus.INVALID
        at = client.validate_lease_offline(
            token, hardware_id=HW1, product_name="App", now=START + timedelta(hours=9)
        )
        assert at.status == LeaseStatus.EXPIRED


def test_without_a_public_key_nothing_can_be_checked(server: FakeExisOneServer, key: str) -> None:
    with server.client() as client:
        token = client.borrow(key, HW1, "App", 8).lease_token
    with server.client(offline_public_key=None) as bare:
        check = bare.validate_lease_offline(token, hardware_id=HW1, product_name="App")
    assert check.status == LeaseStatus.NOT_CONFIGURED and not check.is_valid


def test_a_clock_turned_back_behind_the_tokens_issue_time(
    server: FakeExisOneServer, key: str, clock: FakeClock
) -> None:
    with server.client() as client:
        client.borrow(key, HW1, "App", 48)
        assert client.validate_lease_offline(hardware_id=HW1, product_name="App").is_valid
        clock.advance(hours=-5)  # the server signed the token at START
        check = client.validate_lease_offline(hardware_id=HW1, product_name="App")
        assert check.status == LeaseStatus.CLOCK_TAMPERED and not check.is_valid


async def test_async_borrow_return_and_check(server: FakeExisOneServer, key: str) -> None:
    async with server.async_client() as client:
        borrowed = await client.borrow(key, HW1, "App", 4)
        check = client.validate_lease_offline(hardware_id=HW1, product_name="App")
        assert check.is_valid and check.lease_id == borrowed.lease_id
        assert await client.return_borrowed(HW1, "App") is True
        assert server.leases == {}
