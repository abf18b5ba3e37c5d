"""Real ``exisone-server serve`` processes for the security tests: several on one database."""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from exisone_server.config import Settings
from tests.support import ServerProcess, cli, environment, start_server

__all__ = ["Server", "demo", "running"]

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
