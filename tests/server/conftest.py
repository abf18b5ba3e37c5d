"""Fixtures for the server tests: every database test runs on SQLite and on PostgreSQL.

* ``backend`` (session, parametrised ``sqlite`` | ``postgresql``) → ``settings``: a migrated
  database (Alembic, so the migrations are tested). PostgreSQL gets a fresh, uniquely named
  database on ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres`` (override with
  ``EXISONE_TEST_POSTGRES_URL``), dropped at the end; it is skipped with a reason when no server
  answers, except under ``CI=true`` where that is a failure.
* ``empty_settings``: a new empty database of the backend (migration and CLI tests).
* ``database`` (an engine for the test), ``master_key``, ``app``, ``client`` (httpx over ASGI).
* ``seed``: a fresh tenant per test (so tests never see each other's rows) with helpers to add
  products, plans, licenses and tokens; ``seed.api`` is an httpx client with an all-permission
  token of that tenant.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from exisone_server.app import create_app
from exisone_server.config import Settings, sqlite_url
from exisone_server.crypto.master_key import MasterKey
from exisone_server.db import Database
from exisone_server.migrate import upgrade

from .payment_helpers import fake, shop, smtp  # noqa: F401  (the payment tests' fixtures)
from .seeding import Seed
from .smtp_server import MailServer, running_mail_server

POSTGRES_ADMIN_URL = os.environ.get(
    "EXISONE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TEST_MASTER_KEY = MasterKey(bytes(range(32)))


def _postgres_unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is required under CI: {reason}")
    pytest.skip(f"PostgreSQL not reachable ({reason})")


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create a uniquely named, empty database; yield its async URL; drop it afterwards."""
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        _postgres_unavailable(str(exc).strip().splitlines()[0])
    name = f"exisone_test_{uuid.uuid4().hex[:12]}"
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


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database on the local PostgreSQL server for the session."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def empty_settings(backend: str, tmp_path: Path) -> Iterator[Settings]:
    """Settings of a new, EMPTY (unmigrated) database of the backend, removed after the test."""
    key = TEST_MASTER_KEY.generate_base64()
    if backend == "sqlite":
        yield Settings(tmp_path, sqlite_url(tmp_path / "empty.db"), master_key=key)
        return
    with fresh_postgres_database() as url:
        yield Settings(tmp_path, url, master_key=key)


@pytest.fixture(
    scope="session",
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ],
)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def settings(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Settings:
    """Settings of a migrated database of the ``backend`` (one per session and backend)."""
    data_dir: Path = tmp_path_factory.mktemp(f"data-{backend}")
    if backend == "sqlite":
        url = sqlite_url(data_dir / "exisone.db")
    else:
        url = request.getfixturevalue("postgres_url")
    settings = Settings(
        data_dir=data_dir,
        database_url=url,
        master_key=TEST_MASTER_KEY.generate_base64(),
    )
    upgrade(settings)
    return settings


@pytest.fixture
def master_key() -> MasterKey:
    return TEST_MASTER_KEY


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    database = Database.from_settings(settings)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def app(settings: Settings, database: Database, master_key: MasterKey):  # type: ignore[no-untyped-def]
    return create_app(settings, database=database, master_key=master_key)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    """An httpx client talking to the app in-process (no token set)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def seed(database: Database, master_key: MasterKey, client: httpx.AsyncClient) -> Seed:
    """A fresh tenant with helpers; ``seed.api`` sends its all-permission token."""
    return await Seed.create(database, master_key, client)


@pytest.fixture
def mail_server(tmp_path: Path) -> Iterator[MailServer]:
    """A real SMTP server (aiosmtpd, STARTTLS required, login) on a free loopback port."""
    with running_mail_server(tmp_path, "starttls") as server:
        yield server
