"""End-to-end fixtures: a real ``exisone-server`` over HTTPS, and both clients talking to it.

* ``tls`` (session): a throwaway ``trustme`` CA and a certificate for 127.0.0.1 / localhost.
* ``server`` (session, parametrised ``sqlite`` | ``postgresql``): a temporary data folder,
  ``exisone-server migrate``, ``exisone-server demo --json``, then ``exisone-server serve`` on a
  free loopback port with that certificate, in a subprocess; stopped (terminate, then kill) at
  the end. Its log is attached to the report of every failing test that used it. PostgreSQL
  gets a uniquely named database (dropped after); it is skipped with a reason when no server
  answers, except under ``CI=true`` where that fails.
* ``official``: runs calls of the official ``exisone-client`` 0.10.0 in ``.venvs/official``
  (never imported here: its import name ``exisone`` is ours too) via ``official_driver.py``.
* ``ours`` / ``ours_async``: our ``exisone`` clients with ``verify=<test CA>``.
* ``hardware_id``: a new random hardware ID per call.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import trustme
from psycopg import sql

from exisone import AsyncExisOneClient, ExisOneClient
from tests.support import ServerProcess, free_port, server_env, start_server

REPO_ROOT = Path(__file__).resolve().parents[2]
OFFICIAL_PYTHON = REPO_ROOT / ".venvs" / "official" / "bin" / "python"
OFFICIAL_DRIVER = Path(__file__).with_name("official_driver.py")
POSTGRES_ADMIN_URL = os.environ.get(
    "EXISONE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
#: Inherited variables that would change where the subprocesses connect or which CA they trust.
_UNWANTED_ENV = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")
_PROXY_ENV = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason``; under CI=true the missing prerequisite is a failure."""
    if under_ci():
        pytest.fail(f"required under CI: {reason}")
    pytest.skip(reason)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess: no CA-bundle or proxy overrides, no EXISONE_* leaks."""
    env = server_env(**extra)
    for name in list(env):
        if name not in extra and (name in _UNWANTED_ENV or name.lower() in _PROXY_ENV):
            del env[name]
    return env


@pytest.fixture(autouse=True)
def _isolated_state_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our clients keep their state (outbox, records, time mark) in a fresh directory."""
    monkeypatch.setenv("EXISONE_STATE_DIR", str(tmp_path_factory.mktemp("exisone-state")))


def new_hardware_id() -> str:
    """A random 64-character upper-case hex ID, shaped like a real one."""
    return (uuid.uuid4().hex + uuid.uuid4().hex).upper()


# -- TLS -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tls:
    ca_path: Path
    cert_path: Path
    key_path: Path


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    paths = Tls(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    ca.cert_pem.write_to_path(str(paths.ca_path))
    paths.cert_path.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(paths.key_path))
    return paths


# -- backends ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, uniquely named database on the local PostgreSQL server, dropped afterwards."""
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        skip_or_fail(f"PostgreSQL not reachable ({str(exc).strip().splitlines()[0]})")
    name = f"exisone_e2e_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(
    scope="session",
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ],
)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- the server ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Demo:
    """One run of ``exisone-server demo --json``: fresh keys and token of the demo tenant."""

    token: str
    tenant_id: int
    product_name: str
    product_version: str
    minimum_version: str
    trial_days: int
    plan_id: int
    features: list[str]
    single_key: str
    corporate_key: str
    corporate_seats: int
    public_key: str

    @classmethod
    def from_json(cls, text: str) -> Demo:
        data = json.loads(text)
        return cls(
            token=data["accessToken"],
            tenant_id=data["tenantId"],
            product_name=data["productName"],
            product_version=data["productVersion"],
            minimum_version=data["minimumRequiredVersion"],
            trial_days=data["trialDays"],
            plan_id=data["planId"],
            features=list(data["features"]),
            single_key=data["singleDeviceKey"],
            corporate_key=data["corporateKey"],
            corporate_seats=data["corporateMaxSeats"],
            public_key=data["publicKeyPem"],
        )


class Server:
    """A running ``exisone-server serve`` and the demo tenant it was seeded with."""

    def __init__(self, backend: str, env: dict[str, str], tls: Tls, log_path: Path) -> None:
        self.backend = backend
        self.env = env
        self.tls = tls
        self.log_path = log_path
        self.port = free_port()
        self.base_url = f"https://127.0.0.1:{self.port}"
        self.process: ServerProcess | None = None
        self.demo = self.new_demo(migrate=True)
        self._routes: set[str] | None = None

    def cli(self, *args: str) -> str:
        """Run an ``exisone-server`` command against this server's database; its stdout."""
        done = subprocess.run(
            [sys.executable, "-m", "exisone_server", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            pytest.fail(
                f"exisone-server {' '.join(args)} exited with {done.returncode}:\n{done.stderr}"
            )
        return done.stdout

    def new_demo(self, *, migrate: bool = False) -> Demo:
        """New keys and token of the demo tenant, from ``exisone-server demo --json``."""
        if migrate:
            self.cli("migrate")
        return Demo.from_json(self.cli("demo", "--json", "--no-migrate"))

    def fresh_keys(self) -> Demo:
        """Like :meth:`new_demo` (the same server code), in-process: ~20× faster than the CLI."""
        from exisone_server.config import Settings
        from exisone_server.crypto.master_key import load_master_key
        from exisone_server.db import Database
        from exisone_server.demo import create_demo

        settings = Settings.from_env(self.env)

        async def create() -> Demo:
            database = Database.from_settings(settings)
            try:
                async with database.write() as session:
                    data = await create_demo(session, load_master_key(settings))
            finally:
                await database.dispose()
            return replace(
                self.demo,
                token=data.access_token,
                single_key=data.single_device_key,
                corporate_key=data.corporate_key,
            )

        return asyncio.run(create())

    def start(self) -> None:
        """Serve on a free port; another port if someone took this one in the meantime."""
        for _ in range(3):
            if self._serve():
                return
            self.port = free_port()
            self.base_url = f"https://127.0.0.1:{self.port}"
        pytest.fail(f"exisone-server found no free port:\n{self.log_tail()}")

    def _serve(self) -> bool:
        """Start ``serve`` and wait until it answers; False if its port was taken."""
        self.log_path.write_bytes(b"")
        self.process = start_server(
            f"--ssl-certfile={self.tls.cert_path}",
            f"--ssl-keyfile={self.tls.key_path}",
            "--no-migrate",
            "--log-level=warning",
            env=self.env,
            log_path=self.log_path,
            port=self.port,
            scheme="https",
        )
        verify = ssl.create_default_context(cafile=str(self.tls.ca_path))
        if self.process.wait_until_up(verify=verify, exit_fails=False):
            return True
        if "address already in use" in self.log_tail().lower():
            return False
        pytest.fail(f"exisone-server serve exited early:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def log_tail(self, size: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except OSError:
            return "(no log)"

    def publisher(self, token: str | None = None) -> httpx.Client:
        """An httpx client of the publisher API (demo token, test CA)."""
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"ExisOneApi {token or self.demo.token}"},
            verify=ssl.create_default_context(cafile=str(self.tls.ca_path)),
            trust_env=False,
            timeout=30,
        )

    def require_route(self, method: str, path: str) -> None:
        """Skip the test when the server does not serve ``method path`` (yet)."""
        if self._routes is None:
            with self.publisher() as http:
                schema = http.get("/schema/openapi.json").raise_for_status().json()
            self._routes = {
                f"{verb.upper()} {route}"
                for route, operations in schema.get("paths", {}).items()
                for verb in operations
            }
        if f"{method} {path}" not in self._routes:
            pytest.skip(f"the server does not serve {method} {path} yet (not in its OpenAPI)")

    def issue_offline_code(self, activation_key: str, hardware_id: str) -> str:
        """An offline code from ``POST /api/license/offline-code`` (binds the device)."""
        self.require_route("POST", "/api/license/offline-code")
        with self.publisher() as http:
            reply = http.post(
                "/api/license/offline-code",
                json={"activationKey": activation_key, "hardwareId": hardware_id},
            )
        assert reply.status_code == 200, reply.text
        code: str = reply.json()["offlineCode"]
        return code


@pytest.fixture(scope="session")
def server(
    backend: str,
    tls: Tls,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp(f"server-{backend}")
    env = clean_env(EXISONE_DATA_DIR=str(data_dir))
    if backend == "postgresql":
        env["EXISONE_DATABASE_URL"] = request.getfixturevalue("postgres_url")
    running = Server(backend, env, tls, data_dir / "server.log")
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the server's log to the report of a failing test that used it."""
    report = yield
    running = getattr(item, "funcargs", {}).get("server")
    if report.failed and isinstance(running, Server):
        report.sections.append((f"exisone-server log ({running.backend})", running.log_tail()))
    return report


@pytest.fixture
def demo(server: Server) -> Demo:
    """Fresh single-device and corporate keys (nothing bound yet) and a fresh token."""
    return server.fresh_keys()


@pytest.fixture
def hardware_id() -> Callable[[], str]:
    return new_hardware_id


# -- the clients ---------------------------------------------------------------------------------


class OfficialClient:
    """The official ``exisone-client`` 0.10.0, driven in its own venv (one process per batch)."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def run(
        self,
        *calls: tuple[Any, ...],
        base_url: str | None = None,
        token: str | None = None,
        offline_public_key: str | None = None,
    ) -> list[dict[str, Any]]:
        """Each call is ``(method, *args)``; returns ``{"value": ...}`` or ``{"raised": ...}``."""
        request = {
            "baseUrl": base_url or self.server.base_url,
            "accessToken": self.server.demo.token if token is None else token,
            "caBundle": str(self.server.tls.ca_path),
            "offlinePublicKey": offline_public_key,
            "timeout": 10,
            "calls": [{"method": method, "args": list(args)} for method, *args in calls],
        }
        done = subprocess.run(
            [str(OFFICIAL_PYTHON), "-I", str(OFFICIAL_DRIVER)],
            input=json.dumps(request),
            env=clean_env(NO_PROXY="*"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            pytest.fail(f"official client driver failed ({done.returncode}):\n{done.stderr}")
        outcomes: list[dict[str, Any]] = json.loads(done.stdout)
        return outcomes

    def call(self, method: str, *args: Any, **options: Any) -> Any:
        """One call's value; fails the test if the official client raised."""
        (outcome,) = self.run((method, *args), **options)
        assert "value" in outcome, f"official {method} raised: {outcome}"
        return outcome["value"]


@pytest.fixture(scope="session")
def official_python() -> Path:
    if not OFFICIAL_PYTHON.exists():
        skip_or_fail(
            "the official exisone-client 0.10.0 is not installed in .venvs/official "
            "(run scripts/bootstrap)"
        )
    return OFFICIAL_PYTHON


@pytest.fixture
def official(server: Server, official_python: Path) -> OfficialClient:
    return OfficialClient(server)


@pytest.fixture
def ours(server: Server) -> Iterator[ExisOneClient]:
    with ExisOneClient(
        base_url=server.base_url,
        access_token=server.demo.token,
        offline_public_key=server.demo.public_key,
        verify=str(server.tls.ca_path),
    ) as client:
        yield client


@pytest.fixture
async def ours_async(server: Server) -> AsyncIterator[AsyncExisOneClient]:
    async with AsyncExisOneClient(
        base_url=server.base_url,
        access_token=server.demo.token,
        offline_public_key=server.demo.public_key,
        verify=str(server.tls.ca_path),
    ) as client:
        yield client
