"""``use_keyring=True``: the last-known-good record lives in the OS keyring, not in a file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

keyring = pytest.importorskip("keyring")

from keyring.backend import KeyringBackend  # noqa: E402
from keyring.backends import fail  # noqa: E402
from keyring.errors import PasswordDeleteError  # noqa: E402

from exisone import ConfigurationError, ExisOneClient, ValidationStatus  # noqa: E402
from exisone.testing import FakeClock, FakeExisOneServer, KeyPair  # noqa: E402

START = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
HWID = "C" * 64


class MemoryKeyring(KeyringBackend):
    """A keyring held in a dict, like the OS one as far as the client can tell."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[service, username] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.items.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]  # not for later tests


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def fake(clock: FakeClock) -> FakeExisOneServer:
    return FakeExisOneServer(key_pair=KeyPair.generate(1024), clock=clock)


def _licensed(fake: FakeExisOneServer) -> str:
    key = fake.add_license("App", features=["Pro"]).key
    fake.licenses[key].devices.add(HWID)
    return key


def test_the_record_is_kept_in_the_keyring_and_gives_grace(
    fake: FakeExisOneServer, clock: FakeClock, memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    key = _licensed(fake)
    with fake.client(state_dir=tmp_path, use_keyring=True) as client:
        assert client.validate_smart(key, HWID, "App").is_valid
        ((service, name),) = memory_keyring.items
        assert service == "exisone" and name.startswith("last-known-good/")
        assert key not in name and HWID not in name  # the entry's name reveals neither
        assert not list(tmp_path.glob("last-known-good/*.json"))  # no record file

        fake.reachable = False
        clock.advance(days=2)
        offline = client.validate_smart(key, HWID, "App")

    assert offline.is_valid and offline.was_offline
    assert offline.grace_remaining == timedelta(days=5)


def test_a_tampered_keyring_record_is_worthless(
    fake: FakeExisOneServer, memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    key = _licensed(fake)
    with fake.client(state_dir=tmp_path, use_keyring=True) as client:
        assert client.validate_smart(key, HWID).is_valid
        ((entry, text),) = memory_keyring.items.items()
        record = json.loads(text)
        record["signature"] = record["signature"].replace("ts=", "ts=1")
        memory_keyring.items[entry] = json.dumps(record)

        fake.reachable = False
        result = client.validate_smart(key, HWID)

    assert not result.is_valid and result.status == ValidationStatus.OFFLINE


def test_deactivation_removes_the_keyring_record(
    fake: FakeExisOneServer, memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    key = _licensed(fake)
    with fake.client(state_dir=tmp_path, use_keyring=True) as client:
        assert client.validate_smart(key, HWID, "App").is_valid
        assert memory_keyring.items
        assert client.deactivate_smart(key, HWID, "App").success

    assert memory_keyring.items == {}


def test_without_the_keyring_package_the_option_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "keyring" else real_find_spec(name, *a),
    )
    with pytest.raises(ConfigurationError, match=r"exisone\[keyring\]"):
        ExisOneClient(base_url="https://licensing.example.com", use_keyring=True)
