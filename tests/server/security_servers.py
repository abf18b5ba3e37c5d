"""Real ``exisone-server serve`` processes for the security tests: several on one database."""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx

from exisone_server.config import Settings
from tests.support import ServerProcess, cli, environment, start_server

__all__ = ["Server", "demo", "http_clients", "running"]

Server = ServerProcess


@contextmanager
def running(
    settings: Settings, count: int = 1, *args: str, env: Mapping[str, str] | None = None
) -> Iterator[list[Server]]:
    """``count`` separate server processes on one database (migrations already applied), each
    with a log file of its own."""
    servers = []
    try:
        for _ in range(count):
            _, log = tempfile.mkstemp(prefix="server-", suffix=".log", dir=settings.data_dir)
            servers.append(
                start_server(
                    "--no-migrate",
                    *args,
                    command=cli(settings),
                    env=environment(settings, env),
                    log_path=Path(log),
                )
            )
        for server in servers:
            server.wait_until_up()
        yield servers
    finally:
        for server in servers:
            server.stop()


def demo(settings: Settings) -> dict[str, Any]:
    """``exisone-server demo --json`` on the (migrated) database: keys and a token."""
    done = subprocess.run(
        cli(settings, "demo", "--json", "--no-migrate"),
        env=environment(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dict(json.loads(done.stdout))


@asynccontextmanager
async def http_clients(
    servers: Sequence[Server], per_process: int
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One client per server, each with at most ``per_process`` connections."""
    limits = httpx.Limits(max_connections=per_process, max_keepalive_connections=per_process)
    opened = [
        httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) for server in servers
    ]
    try:
        yield opened
    finally:
        for client in opened:
            await client.aclose()
