"""A real ``exisone-server`` for the examples' and the docs' tests (SQLite, plain HTTP, loopback).

``demo_server(folder)`` migrates a fresh database in ``folder``, seeds the demo tenant
(``exisone-server demo --json``) and runs ``exisone-server serve`` on a free 127.0.0.1 port until
the ``with`` block ends (terminate, then kill).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support import free_port, running_server, server_env


@dataclass
class DemoServer:
    """A running server and what ``exisone-server demo --json`` printed for it."""

    base_url: str
    env: dict[str, str]
    demo: dict[str, Any]
    log_path: Path

    @property
    def token(self) -> str:
        return str(self.demo["accessToken"])

    @property
    def product(self) -> str:
        return str(self.demo["productName"])

    def server_cli(self, *args: str) -> str:
        """Run ``exisone-server ARGS`` on this server's data; its stdout."""
        done = subprocess.run(
            [sys.executable, "-m", "exisone_server", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise AssertionError(f"exisone-server {' '.join(args)}: {done.stderr}")
        return done.stdout

    def new_demo_keys(self) -> dict[str, Any]:
        """Fresh unbound keys (single-device and 5-seat corporate) and a new token."""
        data: dict[str, Any] = json.loads(self.server_cli("demo", "--json", "--no-migrate"))
        return data

    def publisher(self) -> httpx.Client:
        """The REST API with the demo token (every permission)."""
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"ExisOneApi {self.token}"},
            trust_env=False,
            timeout=30,
        )


@contextmanager
def demo_server(folder: Path, extra_env: Mapping[str, str] = {}) -> Iterator[DemoServer]:
    env = server_env(EXISONE_DATA_DIR=str(folder / "server-data"), **extra_env)
    port = free_port()
    server = DemoServer(f"http://127.0.0.1:{port}", env, {}, folder / "server.log")
    server.server_cli("migrate")
    server.demo = server.new_demo_keys()
    with running_server(
        "--no-migrate", "--log-level=warning", env=env, log_path=server.log_path, port=port
    ):
        yield server
