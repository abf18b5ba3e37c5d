"""Health endpoints: /health/live reads nothing, /health/ready checks the database and the
schema within a short timeout (a hung database gives 503 fast, not a hung check)."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from exisone_server import __version__
from exisone_server.app import create_app
from exisone_server.config import Settings
from exisone_server.crypto.master_key import MasterKey
from exisone_server.db import Database
from exisone_server.health import READY_TIMEOUT_S
from exisone_server.migrate import downgrade, head_revisions, upgrade


@asynccontextmanager
async def _client_of(settings: Settings, master_key: MasterKey) -> AsyncIterator[httpx.AsyncClient]:
    database = Database.from_settings(settings)
    app = create_app(settings, database=database, master_key=master_key)
    try:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        await database.dispose()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections (in the kernel's backlog) and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_ready_and_live_on_a_migrated_database(
    client: httpx.AsyncClient, backend: str
) -> None:
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "version": __version__,
        "checks": {"database": "ok", "migrations": "ok"},
    }
    live = await client.get("/health/live")
    assert (live.status_code, live.json()["status"]) == (200, "live")
    health = await client.get("/health")  # the older endpoint answers as before
    assert health.json() == {"status": "ok", "version": __version__, "database": backend}


async def test_not_ready_before_the_migrations(
    empty_settings: Settings, master_key: MasterKey
) -> None:
    async with _client_of(empty_settings, master_key) as client:
        answer = await client.get("/health/ready")
        assert answer.status_code == 503
        assert answer.json()["status"] == "not_ready"
        assert answer.json()["checks"] == {"database": "ok", "migrations": "not migrated"}

        upgrade(empty_settings, "0010")  # one migration short of the head
        assert "0010" not in head_revisions()
        behind = await client.get("/health/ready")
        assert behind.status_code == 503
        assert behind.json()["checks"]["migrations"].startswith("behind")

        upgrade(empty_settings)
        assert (await client.get("/health/ready")).status_code == 200
        downgrade(empty_settings, "base")
        assert (await client.get("/health/ready")).json()["checks"]["migrations"] == (
            "not migrated"
        )


async def test_a_hung_database_is_not_ready_within_a_second(
    silent_port: int, tmp_path: Path, master_key: MasterKey
) -> None:
    hung = Settings(tmp_path, f"postgresql+psycopg://exisone@127.0.0.1:{silent_port}/exisone")
    async with _client_of(hung, master_key) as client:
        started = time.monotonic()
        answer = await client.get("/health/ready")
        elapsed = time.monotonic() - started
        live = await client.get("/health/live")
    print(f"readiness against a silent database answered in {elapsed * 1000:.0f} ms")
    assert answer.status_code == 503
    assert answer.json()["checks"] == {"database": "timeout", "migrations": "unknown"}
    assert READY_TIMEOUT_S <= elapsed < 1.2
    assert live.status_code == 200  # liveness does not depend on the database


async def test_an_unreachable_database_is_not_ready(tmp_path: Path, master_key: MasterKey) -> None:
    gone = Settings(tmp_path, f"postgresql+psycopg://exisone@127.0.0.1:{_closed_port()}/exisone")
    async with _client_of(gone, master_key) as client:
        answer = await client.get("/health/ready")
    assert answer.status_code == 503
    assert answer.json()["checks"] == {"database": "unreachable", "migrations": "unknown"}
