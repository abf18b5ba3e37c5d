"""The ``exisone`` CLI against a real ``exisone-server`` (SQLite, plain HTTP on loopback).

* ``server`` (session): a temporary data folder, ``exisone-server migrate``,
  ``exisone-server demo --json`` and a verify-only token, then ``exisone-server serve`` on a free
  127.0.0.1 port in a subprocess; stopped (terminate, then kill) at the end. Its log is attached
  to the report of a failing test that used it.
* ``cli``: runs ``exisone`` through click's ``CliRunner`` with ``EXISONE_BASEURL`` and
  ``EXISONE_TOKEN`` of that server; the user's own ``EXISONE_*`` variables and config file are
  hidden from every test (``XDG_CONFIG_HOME`` is a temporary folder).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Generator, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from exisone._cli._app import cli as exisone_cli
from tests.support import ServerProcess, free_port, running_server, server_env

CORPORATE_SEATS = 5


def new_hardware_id() -> str:
    return (uuid.uuid4().hex + uuid.uuid4().hex).upper()


@dataclass
class Server:
    """A running ``exisone-server serve`` seeded by ``demo``."""

    base_url: str
    env: dict[str, str]
    log_path: Path
    demo: dict[str, Any]
    verify_token: str
    public_key_path: Path
    corporate_plan_id: int = 0

    @property
    def token(self) -> str:
        return str(self.demo["accessToken"])

    @property
    def product(self) -> str:
        return str(self.demo["productName"])

    def server_cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "exisone_server", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            pytest.fail(
                f"exisone-server {' '.join(args)} failed ({done.returncode}):\n{done.stderr}"
            )
        return done.stdout

    def new_keys(self) -> dict[str, Any]:
        """A fresh single-device and corporate key from ``exisone-server demo --json``."""
        data: dict[str, Any] = json.loads(self.server_cli("demo", "--json", "--no-migrate"))
        return data

    def publisher(self) -> httpx.Client:
        """The publisher API with the demo token (every permission)."""
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"ExisOneApi {self.token}"},
            trust_env=False,
            timeout=30,
        )

    def new_key(self, *, corporate: bool = False, email: str = "buyer@example.com") -> str:
        """A fresh license of the demo product (corporate: the 5-seat plan made at startup)."""
        body: dict[str, Any] = {"productName": self.product, "email": email}
        if corporate:
            body["planId"] = self.corporate_plan_id
        with self.publisher() as http:
            reply = http.post("/api/activationkey/generate", json=body)
        assert reply.status_code == 200, reply.text
        key: str = reply.json()["activationKey"]
        return key

    def create_corporate_plan(self) -> None:
        body = {
            "name": "CLI Corporate",
            "durationDays": 0,
            "isCorporate": True,
            "maxSeats": CORPORATE_SEATS,
            "productId": self.demo["productId"],
        }
        with self.publisher() as http:
            reply = http.post("/api/plan", json=body)
        assert reply.status_code in (200, 201), reply.text
        self.corporate_plan_id = int(reply.json()["id"])

    def log_tail(self, size: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except OSError:
            return "(no log)"

    def serving(
        self, *extra: str, port: int | None = None, scheme: str = "http", verify: Any = True
    ) -> AbstractContextManager[ServerProcess]:
        """``exisone-server serve`` over the session's database, until the block ends."""
        return running_server(
            "--no-migrate",
            "--log-level=warning",
            *extra,
            env=self.env,
            log_path=self.log_path,
            port=port,
            scheme=scheme,
            verify=verify,
        )


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("cli-server")
    env = server_env(EXISONE_DATA_DIR=str(data_dir))
    port = free_port()
    running = Server(
        base_url=f"http://127.0.0.1:{port}",
        env=env,
        log_path=data_dir / "server.log",
        demo={},
        verify_token="",
        public_key_path=data_dir / "public.pem",
    )
    running.server_cli("migrate")
    running.demo = running.new_keys()
    running.public_key_path.write_text(running.demo["publicKeyPem"], encoding="utf-8")
    token = json.loads(
        running.server_cli(
            "token", "create", "--tenant", "demo", "--permission", "verify", "--json"
        )
    )
    running.verify_token = token["token"]
    with running.serving(port=port):
        running.create_corporate_plan()
        yield running


@dataclass(frozen=True)
class TlsServer:
    """The same database served over HTTPS with a throwaway CA's certificate."""

    base_url: str
    ca_path: Path


@pytest.fixture(scope="session")
def tls_server(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    import ssl

    import trustme

    folder = tmp_path_factory.mktemp("cli-tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca.cert_pem.write_to_path(str(ca_path))
    cert_path.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(key_path))
    with server.serving(
        f"--ssl-certfile={cert_path}",
        f"--ssl-keyfile={key_path}",
        scheme="https",
        verify=ssl.create_default_context(cafile=str(ca_path)),
    ) as running:
        yield TlsServer(running.url, ca_path)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """Attach the server's log to the report of a failing test that used it."""
    outcome = yield
    report = outcome.get_result()
    running = getattr(item, "funcargs", {}).get("server")
    if report.failed and isinstance(running, Server):
        report.sections.append(("exisone-server log", running.log_tail()))


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No EXISONE_* variable of the caller, no proxy, and a private XDG_CONFIG_HOME (the
    per-test EXISONE_STATE_DIR of the root conftest stays)."""
    for name in list(os.environ):
        if name == "EXISONE_STATE_DIR":
            continue
        if name.startswith("EXISONE_") or name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    config_home = tmp_path / "xdg-config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    return config_home / "exisone" / "config.ini"


class Cli:
    """``exisone`` through CliRunner; stdout and stderr apart."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.runner = CliRunner()

    def __call__(
        self, *args: str, input: str | None = None, env: Mapping[str, str | None] | None = None
    ) -> Result:
        base: dict[str, str | None] = {
            "EXISONE_BASEURL": self.server.base_url,
            "EXISONE_TOKEN": self.server.token,
        }
        base.update(env or {})
        return self.runner.invoke(
            exisone_cli, list(args), input=input, env=base, prog_name="exisone"
        )

    def json(self, *args: str, **kwargs: Any) -> Any:
        """Run with ``--json``; assert exit code 0 and an empty stderr; the parsed stdout."""
        result = self(*args, "--json", **kwargs)
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        assert result.stderr == ""
        return json.loads(result.stdout)


@pytest.fixture
def cli(server: Server) -> Cli:
    return Cli(server)


@pytest.fixture
def bare_cli() -> CliRunner:
    """A runner without the server's settings (configuration tests)."""
    return CliRunner()
