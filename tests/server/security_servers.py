"""Real ``exisone-server serve`` processes for the security tests (loopback, free ports)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest

from exisone_server.config import Settings

SERVER_COMMAND = Path(sys.executable).with_name("exisone-server")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (the durability test's crash)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=15)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def cli(settings: Settings, *args: str) -> list[str]:
    return [
        str(SERVER_COMMAND),
        "--data-dir",
        str(settings.data_dir),
        "--database-url",
        settings.database_url,
        *args,
    ]


def environment(settings: Settings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, "EXISONE_MASTER_KEY": settings.master_key or "", **(extra or {})}


def start(settings: Settings, *args: str, env: Mapping[str, str] | None = None) -> Server:
    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by running()
    process = subprocess.Popen(
        cli(settings, "serve", "--host", "127.0.0.1", "--port", str(port), *args),
        env=environment(settings, env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return Server(f"http://127.0.0.1:{port}", process, log)


def wait_ready(servers: Sequence[Server], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    for server in servers:
        while True:
            if server.process.poll() is not None:
                pytest.fail(f"server exited with {server.process.returncode}:\n{server.output()}")
            try:
                if httpx.get(f"{server.url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server did not answer /health:\n{server.output()}")
            time.sleep(0.1)


@contextmanager
def running(
    settings: Settings, count: int = 1, *args: str, env: Mapping[str, str] | None = None
) -> Iterator[list[Server]]:
    """``count`` separate server processes on one database (migrations already applied)."""
    servers = [start(settings, "--no-migrate", *args, env=env) for _ in range(count)]
    try:
        wait_ready(servers)
        yield servers
    finally:
        for server in servers:
            server.stop()
            server.log.close()


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
