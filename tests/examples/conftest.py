"""One real ``exisone-server`` for all the examples' tests (live_server.py); fresh client state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.examples.live_server import DemoServer, demo_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    with demo_server(
        tmp_path_factory.mktemp("server"), {"EXISONE_WEBHOOKS_ALLOW_HTTP_LOOPBACK": "1"}
    ) as running:
        yield running


@pytest.fixture(autouse=True)
def _isolated_client_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK keeps records and its outbox in a fresh folder for each test; no user settings."""
    for name in ("EXISONE_BASEURL", "EXISONE_TOKEN", "EXISONE_HARDWARE_ID", "EXISONE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EXISONE_STATE_DIR", str(tmp_path_factory.mktemp("client-state")))
