"""A real ``exisone-server`` for the examples' and the docs' tests (SQLite, plain HTTP, loopback).

``demo_server(folder)`` migrates a fresh database in ``folder``, seeds the demo tenant
(``exisone-server demo --json``) and runs ``exisone-server serve`` on a free 127.0.0.1 port until
the ``with`` block ends (terminate, then kill).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

STARTUP_TIMEOUT_S = 90.0  # a loaded 2-core CI machine
STOP_TIMEOUT_S = 10.0


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

    def log_tail(self, size: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except OSError:
            return "(no log)"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def demo_server(folder: Path, extra_env: Mapping[str, str] = {}) -> Iterator[DemoServer]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("EXISONE_") and name != "PYTHONPATH"
    }
    env.update(EXISONE_DATA_DIR=str(folder / "server-data"), **extra_env)
    port = free_port()
    server = DemoServer(f"http://127.0.0.1:{port}", env, {}, folder / "server.log")
    server.server_cli("migrate")
    server.demo = server.new_demo_keys()
    with server.log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "exisone_server", "serve", "--host=127.0.0.1"),
                *(f"--port={port}", "--no-migrate", "--log-level=warning"),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(server, process)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(server: DemoServer, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    with httpx.Client(base_url=server.base_url, trust_env=False, timeout=5) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"exisone-server serve exited:\n{server.log_tail()}")
            try:
                if http.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise AssertionError(f"exisone-server did not start in time:\n{server.log_tail()}")
