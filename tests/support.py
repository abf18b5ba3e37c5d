"""Real processes for the tests: a free loopback port, and ``exisone-server serve`` started for
real, waited for until it answers, and stopped (terminate, then kill).

One home for what the server, CLI, dashboard, docs, examples and end-to-end tests each need.
tests/client does not use it (it runs on every Python from 3.9 with the client alone).
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from exisone_server.config import Settings

__all__ = [
    "SERVER_COMMAND",
    "ServerProcess",
    "cli",
    "environment",
    "free_port",
    "running_server",
    "server_env",
    "start_server",
]

#: The ``exisone-server`` command of the Python running the tests.
SERVER_COMMAND = str(Path(sys.executable).with_name("exisone-server"))
#: A loaded 2-core CI machine can take this long to start a server.
STARTUP_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on (closed again: a later bind may race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_env(**values: str) -> dict[str, str]:
    """This process's environment without the user's ``EXISONE_*`` settings, ``PYTHONPATH`` and
    proxies, plus ``values``: a server (or CLI) configured by the test alone."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("EXISONE_")
        and name != "PYTHONPATH"
        and name.lower() not in {"http_proxy", "https_proxy", "all_proxy"}
    }
    env.update(values)
    return env


def cli(settings: Settings, *args: str) -> list[str]:
    """``exisone-server --data-dir D --database-url U ARGS`` for ``settings``."""
    return [
        SERVER_COMMAND,
        "--data-dir",
        str(settings.data_dir),
        "--database-url",
        settings.database_url,
        *args,
    ]


def environment(settings: Settings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment with the master key of ``settings`` (and ``extra``)."""
    return {**os.environ, "EXISONE_MASTER_KEY": settings.master_key or "", **(extra or {})}


@dataclass
class ServerProcess:
    """A started ``exisone-server serve``; its output goes to ``log_path``."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def output(self) -> str:
        """Everything the server wrote so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"

    def log_tail(self, size: int = 4000) -> str:
        return self.output()[-size:]

    def output_when(self, done: Callable[[str], bool], timeout: float = 15) -> str:
        """The output once ``done(output)`` holds, or when ``timeout`` seconds have passed (an
        access line is written just after its answer was sent, so it may trail the answer)."""
        deadline = time.monotonic() + timeout
        while not done(output := self.output()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return output

    def answers(
        self, path: str = "/health", *, verify: bool | ssl.SSLContext = True, timeout: float = 1
    ) -> bool:
        """True when ``path`` answers 200 now."""
        try:
            with httpx.Client(verify=verify, trust_env=False, timeout=timeout) as http:
                return http.get(f"{self.url}{path}").status_code == 200
        except httpx.TransportError:
            return False

    def wait_until_up(
        self,
        path: str = "/health",
        *,
        verify: bool | ssl.SSLContext = True,
        timeout: float = STARTUP_TIMEOUT_S,
        exit_fails: bool = True,
    ) -> bool:
        """True once ``path`` answers 200. When the process exits first, the test fails (with
        the log), or with ``exit_fails=False`` this is False; after ``timeout`` seconds the test
        fails."""
        deadline = time.monotonic() + timeout
        while not self.answers(path, verify=verify):
            if self.process.poll() is not None:
                if exit_fails:
                    pytest.fail(
                        f"exisone-server serve exited with {self.process.returncode}:\n"
                        f"{self.log_tail()}"
                    )
                return False
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"exisone-server did not answer {path} in time:\n{self.log_tail()}")
            time.sleep(0.1)
        return True

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (a crash)."""
        self.process.kill()
        self.process.wait(STOP_TIMEOUT_S)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Terminate (SIGTERM: a graceful shutdown), then kill if that takes too long."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    *serve_args: str,
    env: Mapping[str, str],
    log_path: Path,
    command: Sequence[str] = (SERVER_COMMAND,),
    port: int | None = None,
    scheme: str = "http",
    cwd: Path | None = None,
) -> ServerProcess:
    """Start ``COMMAND serve --host 127.0.0.1 --port PORT SERVE_ARGS`` (a free port unless
    given) in ``cwd``, its output appended to ``log_path``; it is not waited for."""
    port = free_port() if port is None else port
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [*command, "serve", "--host", "127.0.0.1", "--port", str(port), *serve_args],
            env=dict(env),
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return ServerProcess(f"{scheme}://127.0.0.1:{port}", process, log_path)


@contextmanager
def running_server(
    *serve_args: str, verify: bool | ssl.SSLContext = True, **options: Any
) -> Iterator[ServerProcess]:
    """:func:`start_server` (``options`` are its keywords), answering ``/health`` inside the
    block, stopped after it."""
    server = start_server(*serve_args, **options)
    try:
        server.wait_until_up(verify=verify)
        yield server
    finally:
        server.stop()
