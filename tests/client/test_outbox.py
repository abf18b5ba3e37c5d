"""The deactivation outbox: kept while unreachable, delivered once on the next contact."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from exisone.testing import FakeClock, FakeExisOneServer

START = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
HWID = "D" * 64


@pytest.fixture
def fake() -> FakeExisOneServer:
    return FakeExisOneServer(clock=FakeClock(START))  # no keys: the outbox needs none


def bound(fake: FakeExisOneServer, **options: Any) -> str:
    key = fake.add_license("App", **options).key
    fake.licenses[key].devices.add(HWID)
    return key


def outbox(state: Path) -> list[Path]:
    return sorted((state / "outbox").glob("*.json"))


def deactivations(fake: FakeExisOneServer) -> int:
    return sum(r.url.path.endswith("/deactivate") for r in fake.requests)


def test_unreachable_deactivation_is_delivered_on_the_next_contact(
    fake: FakeExisOneServer, tmp_path: Path
) -> None:
    key = bound(fake)
    with fake.client(state_dir=tmp_path) as client:
        fake.reachable = False
        result = client.deactivate_smart(key, HWID, "App")
        assert result.success and not result.server_notified
        assert len(outbox(tmp_path)) == 1
        client.deactivate_smart(key, HWID, "App")  # the same again: still one entry
        assert len(outbox(tmp_path)) == 1
        assert HWID in fake.licenses[key].devices
        fake.reachable = True
        other = bound(fake)
        assert client.validate_smart(other, HWID).is_valid  # any successful contact
    assert HWID not in fake.licenses[key].devices
    assert outbox(tmp_path) == []


def test_delivered_exactly_once_by_two_clients_sharing_the_state(
    fake: FakeExisOneServer, tmp_path: Path
) -> None:
    key = bound(fake)
    with fake.client(state_dir=tmp_path) as first, fake.client(state_dir=tmp_path) as second:
        fake.reachable = False
        first.deactivate_smart(key, HWID, "App")
        fake.reachable = True
        sent = deactivations(fake)
        assert first.flush_outbox() == 1
        assert second.flush_outbox() == 0
        assert deactivations(fake) == sent + 1


def test_a_queued_deactivation_survives_a_restart(fake: FakeExisOneServer, tmp_path: Path) -> None:
    key = bound(fake)
    with fake.client(state_dir=tmp_path) as client:
        fake.reachable = False
        client.deactivate_smart(key, HWID, "App")
    fake.reachable = True
    with fake.client(state_dir=tmp_path) as restarted:
        assert restarted.flush_outbox() == 1
    assert HWID not in fake.licenses[key].devices


def test_kept_while_the_server_fails_dropped_when_refused_for_good(
    fake: FakeExisOneServer, tmp_path: Path
) -> None:
    key = bound(fake)
    with fake.client(state_dir=tmp_path) as client:
        fake.reachable = False
        client.deactivate_smart(key, HWID, "App")
        fake.reachable = True
        failing = httpx.MockTransport(lambda request: httpx.Response(503, json={}))
        with fake.client(state_dir=tmp_path, transport=failing) as broken:
            assert broken.flush_outbox() == 0
        assert len(outbox(tmp_path)) == 1
        del fake.licenses[key]  # the license is gone: 404, nothing left to deactivate
        assert client.flush_outbox() == 1
        assert outbox(tmp_path) == []


def test_activating_again_cancels_the_queued_deactivation(
    fake: FakeExisOneServer, tmp_path: Path
) -> None:
    key = bound(fake)
    with fake.client(state_dir=tmp_path) as client:
        fake.reachable = False
        client.deactivate_smart(key, HWID, "App")
        fake.reachable = True
        assert client.activate(key, "a@b.c", HWID, "App").success
        assert outbox(tmp_path) == []
    assert HWID in fake.licenses[key].devices


async def test_async_client_outbox(fake: FakeExisOneServer, tmp_path: Path) -> None:
    key = bound(fake)
    async with fake.async_client(state_dir=tmp_path) as client:
        fake.reachable = False
        assert not (await client.deactivate_smart(key, HWID, "App")).server_notified
        fake.reachable = True
        assert await client.flush_outbox() == 1
    assert HWID not in fake.licenses[key].devices
