"""Last known good with grace, and clock-rollback detection (online grace and offline codes)."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from exisone import AsyncExisOneClient, ExisOneClient, ValidationStatus
from exisone.testing import FakeClock, FakeExisOneServer, KeyPair, issue_offline_code

START = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
HWID = "B" * 64


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    return KeyPair.generate(1024)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def fake(keys: KeyPair, clock: FakeClock) -> FakeExisOneServer:
    return FakeExisOneServer(key_pair=keys, clock=clock)


@pytest.fixture
def client(fake: FakeExisOneServer, tmp_path: Path) -> Any:
    with fake.client(state_dir=tmp_path) as client:
        yield client


def licensed(fake: FakeExisOneServer, **options: Any) -> str:
    key = fake.add_license("App", features=["Pro"], **options).key
    fake.licenses[key].devices.add(HWID)
    return key


def records(state: Path) -> list[Path]:
    return sorted((state / "last-known-good").glob("*.json"))


def test_unreachable_server_answers_from_the_last_known_good_within_grace(
    fake: FakeExisOneServer, client: ExisOneClient, clock: FakeClock
) -> None:
    key = licensed(fake)
    online = client.validate_smart(key, HWID, "App")
    assert online.is_valid and not online.was_offline
    fake.reachable = False
    clock.advance(days=3)
    offline = client.validate_smart(key, HWID, "App")
    assert offline.is_valid and offline.was_offline
    assert offline.status == ValidationStatus.LICENSED
    assert offline.features == ["Pro"]
    assert offline.last_online_check == START
    assert offline.grace_remaining == timedelta(days=4)
    assert "last online check" in (offline.error_message or "")


def test_grace_ends_after_the_grace_period(
    fake: FakeExisOneServer, client: ExisOneClient, clock: FakeClock
) -> None:
    key = licensed(fake)
    assert client.validate_smart(key, HWID).is_valid
    fake.reachable = False
    clock.advance(days=7)
    result = client.validate_smart(key, HWID)
    assert not result.is_valid and result.status == ValidationStatus.OFFLINE
    assert result.grace_remaining == timedelta(0) and "grace period ended" in str(
        result.error_message
    )


def test_grace_period_is_configurable(
    fake: FakeExisOneServer, clock: FakeClock, tmp_path: Path
) -> None:
    key = licensed(fake)
    with fake.client(state_dir=tmp_path, grace_period=timedelta(days=30)) as client:
        assert client.validate_smart(key, HWID).is_valid
        fake.reachable = False
        clock.advance(days=20)
        assert client.validate_smart(key, HWID).is_valid


def test_no_grace_past_the_license_expiry(
    fake: FakeExisOneServer, client: ExisOneClient, clock: FakeClock
) -> None:
    key = licensed(fake, expires=START + timedelta(days=2))
    assert client.validate_smart(key, HWID).is_valid
    fake.reachable = False
    clock.advance(days=3)
    result = client.validate_smart(key, HWID)
    assert not result.is_valid and result.status == ValidationStatus.EXPIRED


def test_no_record_no_grace(fake: FakeExisOneServer, client: ExisOneClient) -> None:
    key = licensed(fake)
    fake.reachable = False
    result = client.validate_smart(key, HWID)
    assert not result.is_valid and result.status == ValidationStatus.OFFLINE
    assert result.grace_remaining is None and result.last_online_check is None


def test_an_invalid_answer_removes_the_record(
    fake: FakeExisOneServer, client: ExisOneClient, tmp_path: Path
) -> None:
    key = licensed(fake)
    assert client.validate_smart(key, HWID).is_valid
    assert len(records(tmp_path)) == 1
    fake.revoke(key)
    assert not client.validate_smart(key, HWID).is_valid
    assert records(tmp_path) == []
    fake.reachable = False
    assert not client.validate_smart(key, HWID).is_valid


def test_the_record_is_per_key_and_machine(fake: FakeExisOneServer, client: ExisOneClient) -> None:
    key, other = licensed(fake), licensed(fake)
    assert client.validate_smart(key, HWID).is_valid
    fake.reachable = False
    assert not client.validate_smart(other, HWID).is_valid
    assert not client.validate_smart(key, "C" * 64).is_valid
    assert not client.validate_smart(key, HWID, "OtherProduct").is_valid


@pytest.mark.parametrize("field", ["responseBody", "signature", "requestBody"])
def test_a_tampered_record_is_worthless(
    fake: FakeExisOneServer, client: ExisOneClient, tmp_path: Path, field: str
) -> None:
    key = licensed(fake, expires=START + timedelta(days=1))
    assert client.validate_smart(key, HWID).is_valid
    (path,) = records(tmp_path)
    data = json.loads(path.read_text())
    if field == "signature":
        data[field] = data[field].replace("ts=", "ts=1")
    else:
        body = json.loads(base64.b64decode(data[field]))
        body.update({"expirationDate": "2049-12-31T23:59:59Z"} if field == "responseBody" else {})
        body.update({"hardwareId": HWID} if field == "requestBody" else {})
        body["x"] = 1
        data[field] = base64.b64encode(json.dumps(body).encode()).decode()
    path.write_text(json.dumps(data))
    fake.reachable = False
    result = client.validate_smart(key, HWID)
    assert not result.is_valid and result.status == ValidationStatus.OFFLINE


def test_a_garbled_record_file_is_ignored(
    fake: FakeExisOneServer, client: ExisOneClient, tmp_path: Path
) -> None:
    key = licensed(fake)
    assert client.validate_smart(key, HWID).is_valid
    (path,) = records(tmp_path)
    path.write_text("{not json")
    fake.reachable = False
    assert client.validate_smart(key, HWID).status == ValidationStatus.OFFLINE


def test_a_rejected_signature_counts_as_unreachable(
    fake: FakeExisOneServer, client: ExisOneClient, keys: KeyPair, clock: FakeClock
) -> None:
    key = licensed(fake)
    assert client.validate_smart(key, HWID).is_valid
    fake.key_pair = KeyPair.generate(1024)  # a man in the middle with his own key
    clock.advance(hours=1)
    result = client.validate_smart(key, HWID)
    assert result.is_valid and result.was_offline  # the grace answer, not the forged one


def test_state_dir_false_keeps_nothing(fake: FakeExisOneServer, tmp_path: Path) -> None:
    key = licensed(fake)
    with fake.client(state_dir=False) as client:
        assert client.validate_smart(key, HWID).is_valid
        fake.reachable = False
        assert client.validate_smart(key, HWID).status == ValidationStatus.OFFLINE
        assert client.deactivate_smart(key, HWID, "App").server_notified is False


def test_clock_rolled_back_behind_the_last_signed_time(
    fake: FakeExisOneServer, client: ExisOneClient, clock: FakeClock
) -> None:
    key = licensed(fake)
    assert client.validate_smart(key, HWID).is_valid
    fake.reachable = False
    clock.advance(minutes=-30)  # within the tolerance (1 hour)
    assert client.validate_smart(key, HWID).is_valid
    clock.advance(days=-2)
    result = client.validate_smart(key, HWID)
    assert not result.is_valid and result.status == ValidationStatus.CLOCK_TAMPERED
    assert result.was_offline and result.last_online_check == START


def test_the_mark_survives_the_record(
    fake: FakeExisOneServer, client: ExisOneClient, clock: FakeClock, tmp_path: Path
) -> None:
    key = licensed(fake)
    assert client.validate_smart(key, HWID).is_valid
    for path in records(tmp_path):
        path.unlink()
    fake.reachable = False
    clock.advance(days=-1)
    assert client.validate_smart(key, HWID).status == ValidationStatus.CLOCK_TAMPERED


def test_offline_code_with_clock_behind_its_issue_time(
    keys: KeyPair, clock: FakeClock, tmp_path: Path
) -> None:
    code = issue_offline_code(
        keys, product_name="App", hardware_id=HWID, issued_at=START, features=["Pro"]
    )
    fake = FakeExisOneServer(key_pair=keys, clock=clock)
    fake.reachable = False
    with fake.client(state_dir=tmp_path) as client:
        assert client.validate_smart(code, HWID, "App").is_valid
        clock.advance(days=-3)
        result = client.validate_smart(code, HWID, "App")
        assert not result.is_valid and result.status == ValidationStatus.CLOCK_TAMPERED
        offline = client.validate_offline(code, HWID)
        assert offline.clock_tampered and not offline.is_valid
        assert offline.issued_at == START
        # An explicit ``now`` asks about another moment, not about this computer's clock.
        assert client.validate_offline(code, HWID, now=START - timedelta(days=3)).is_valid


def test_offline_code_checked_against_the_stored_mark(
    fake: FakeExisOneServer, keys: KeyPair, clock: FakeClock, tmp_path: Path
) -> None:
    key = licensed(fake)
    code = issue_offline_code(
        keys, product_name="App", hardware_id=HWID, issued_at=START - timedelta(days=30)
    )
    with fake.client(state_dir=tmp_path) as client:
        assert client.validate(key, HWID).is_valid  # signed time START becomes the mark
        clock.advance(days=-10)
        assert client.validate_offline(code, HWID).clock_tampered


async def test_async_client_grace_and_rollback(
    fake: FakeExisOneServer, clock: FakeClock, tmp_path: Path
) -> None:
    key = licensed(fake)
    client: AsyncExisOneClient = fake.async_client(state_dir=tmp_path)
    async with client:
        assert (await client.validate_smart(key, HWID)).is_valid
        fake.reachable = False
        clock.advance(days=1)
        graced = await client.validate_smart(key, HWID)
        assert graced.is_valid and graced.grace_remaining == timedelta(days=6)
        clock.advance(days=-5)
        assert (await client.validate_smart(key, HWID)).status == "clock_tampered"


def test_record_and_mark_are_rewritten_at_most_once_a_minute(
    fake: FakeExisOneServer, client: ExisOneClient, clock: FakeClock, tmp_path: Path
) -> None:
    key = licensed(fake)
    mark = tmp_path / "clock" / "trusted-time.json"

    def saved() -> tuple[str, str]:
        (path,) = records(tmp_path)
        return json.loads(path.read_text())["nonce"], json.loads(mark.read_text())["trustedTime"]

    assert client.validate_smart(key, HWID).is_valid
    first = saved()
    clock.advance(seconds=30)
    assert client.validate_smart(key, HWID).is_valid
    assert saved() == first
    clock.advance(seconds=31)
    assert client.validate_smart(key, HWID).is_valid
    assert saved()[0] != first[0] and saved()[1] == "2026-03-01T12:01:01Z"
    client.deactivate_smart(key, HWID, "App")  # forgets the record at once
    assert records(tmp_path) == []
