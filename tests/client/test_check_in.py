"""Grace and check-in set on the server: ``graceUntil`` keeps an expired license licensed, and
``checkInDays`` bounds how long validate_smart accepts a license without the server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from exisone import ExisOneClient, ValidationStatus
from exisone.testing import FakeClock, FakeExisOneServer, KeyPair, issue_offline_code

START = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
HWID = "C" * 64
KEYS = KeyPair.generate(1024)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def fake(clock: FakeClock) -> FakeExisOneServer:
    return FakeExisOneServer(key_pair=KEYS, clock=clock)


@pytest.fixture
def client(fake: FakeExisOneServer, tmp_path: Path) -> Iterator[ExisOneClient]:
    with fake.client(state_dir=tmp_path) as client:
        yield client


def activated(fake: FakeExisOneServer, key: str | None = None, **options: object) -> str:
    license = fake.add_license("App", key=key)
    for name, value in options.items():
        setattr(license, name, value)
    license.devices.add(HWID)
    return license.key


def test_grace_after_expiry_is_licensed_with_grace_until(
    fake: FakeExisOneServer, client: ExisOneClient, clock: FakeClock
) -> None:
    key = activated(fake, expires=START + timedelta(days=1), grace_days=5)
    clock.advance(days=2)
    online = client.validate(key, HWID, "App")
    assert online.is_valid and online.status == ValidationStatus.LICENSED
    assert online.expiration_date == START + timedelta(days=1)
    assert online.grace_until == START + timedelta(days=6)
    fake.reachable = False  # the last known good counts the server's grace, not the expiry
    clock.advance(days=3)
    assert client.validate_smart(key, HWID, "App").is_valid
    clock.advance(days=2)
    late = client.validate_smart(key, HWID, "App")
    assert late.status == ValidationStatus.EXPIRED and not late.is_valid


def test_check_in_days_shorten_the_offline_grace(
    fake: FakeExisOneServer, client: ExisOneClient, clock: FakeClock
) -> None:
    key = activated(fake, check_in_days=3)
    online = client.validate_smart(key, HWID, "App")
    assert online.is_valid
    assert client.validate(key, HWID, "App").check_in_days == 3
    fake.reachable = False
    clock.advance(days=2)
    graced = client.validate_smart(key, HWID, "App")
    assert graced.is_valid and graced.grace_remaining == timedelta(days=1)  # not the 7 days
    clock.advance(days=1)
    due = client.validate_smart(key, HWID, "App")
    assert not due.is_valid and due.status == ValidationStatus.CHECK_IN_REQUIRED
    assert due.was_offline and "every 3 days" in (due.error_message or "")
    fake.reachable = True
    assert client.validate_smart(key, HWID, "App").status == ValidationStatus.LICENSED


def test_without_check_in_days_the_clients_grace_applies(
    fake: FakeExisOneServer, client: ExisOneClient, clock: FakeClock
) -> None:
    key = activated(fake)
    client.validate_smart(key, HWID, "App")
    fake.reachable = False
    clock.advance(days=6)
    assert client.validate_smart(key, HWID, "App").is_valid


def test_an_offline_code_with_check_in_days_must_be_confirmed_online(
    fake: FakeExisOneServer, clock: FakeClock, tmp_path: Path
) -> None:
    code = issue_offline_code(
        KEYS, product_name="App", hardware_id=HWID, issued_at=START, check_in_days=10
    )
    activated(fake, key=code)
    with fake.client(state_dir=tmp_path) as client:
        assert client.validate_offline(code, HWID).check_in_days == 10
        fake.reachable = False
        clock.advance(days=9)
        assert client.validate_smart(code, HWID, "App").is_valid
        clock.advance(days=1)
        due = client.validate_smart(code, HWID, "App")
        assert due.status == ValidationStatus.CHECK_IN_REQUIRED and not due.is_valid
        assert client.validate_offline(code, HWID).is_valid  # the plain check knows no check-in
        fake.reachable = True  # validate_smart asks the server at once, then accepts the code
        assert client.validate_smart(code, HWID, "App").is_valid
    fake.reachable = False
    clock.advance(days=9)
    with fake.client(state_dir=tmp_path) as later:  # the confirmation was kept on disk
        assert later.validate_smart(code, HWID, "App").is_valid
        clock.advance(days=2)
        assert later.validate_smart(code, HWID, "App").status == "check_in_required"


async def test_async_offline_code_check_in(
    fake: FakeExisOneServer, clock: FakeClock, tmp_path: Path
) -> None:
    code = issue_offline_code(
        KEYS, product_name="App", hardware_id=HWID, issued_at=START, check_in_days=1
    )
    activated(fake, key=code)
    async with fake.async_client(state_dir=tmp_path) as client:
        fake.reachable = False
        clock.advance(days=2)
        assert (await client.validate_smart(code, HWID)).status == "check_in_required"
        fake.reachable = True
        assert (await client.validate_smart(code, HWID)).is_valid
