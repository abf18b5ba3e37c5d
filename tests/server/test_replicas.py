"""Validate's reads on replicas (EXISONE_DATABASE_REPLICA_URLS), on the local PostgreSQL: a
"replica" here is a database URL, either the primary's own database (a replica that is up to
date), an empty migrated one (a replica that has seen nothing yet) or an address where nothing
listens (a replica that is down). The real streaming replica is in tests/cluster."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from exisone_server.app import create_app
from exisone_server.config import Settings
from exisone_server.db import Database
from exisone_server.fastpath.replicas import replica_readers
from exisone_server.migrate import upgrade

from .conftest import TEST_MASTER_KEY, fresh_postgres_database
from .helpers import activate_body, validate_body
from .seeding import Seed

pytestmark = pytest.mark.postgres

NOBODY_LISTENS = "postgresql+psycopg://postgres@127.0.0.1:1/none"


def _migrated(url: str, folder: Path) -> str:
    upgrade(Settings(folder, url, master_key=TEST_MASTER_KEY.generate_base64()))
    return url


@pytest.fixture(scope="module")
def primary_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield _migrated(url, tmp_path_factory.mktemp("primary"))


@pytest.fixture(scope="module")
def empty_replica_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield _migrated(url, tmp_path_factory.mktemp("replica"))


async def _seed_with_replica(
    primary_url: str, replica_url: str, folder: Path
) -> AsyncIterator[tuple[Seed, Database]]:
    settings = Settings(
        folder,
        primary_url,
        master_key=TEST_MASTER_KEY.generate_base64(),
        database_replica_urls=(replica_url,),
    )
    database = Database.from_settings(settings)
    app = create_app(settings, database=database, master_key=TEST_MASTER_KEY)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield await Seed.create(database, TEST_MASTER_KEY, client), database
    finally:
        await database.dispose()


async def _activate_then_validate(seed: Seed) -> httpx.Response:
    product = await seed.product()
    license = await seed.license(product)
    activated = await seed.api.post("/api/license/activate", activate_body(license, product))
    assert activated.status_code == 200, activated.text
    return await seed.api.post(
        "/api/license/validate", validate_body(license, productName=product.name)
    )


@pytest.mark.parametrize(
    ("replica", "settled", "fell_back"),
    [
        pytest.param("primary", 1, 0, id="up-to-date-replica-answers"),
        pytest.param("empty", 0, 1, id="lagging-replica-falls-back"),
        pytest.param("down", 0, 1, id="replica-down-falls-back"),
    ],
)
async def test_validate_reads_the_replica_and_sees_its_own_writes(
    primary_url: str,
    empty_replica_url: str,
    tmp_path: Path,
    replica: str,
    settled: int,
    fell_back: int,
) -> None:
    replica_url = {"primary": primary_url, "empty": empty_replica_url, "down": NOBODY_LISTENS}[
        replica
    ]
    async for seed, database in _seed_with_replica(primary_url, replica_url, tmp_path):
        answer = await _activate_then_validate(seed)
        readers = replica_readers(database)
        assert readers is not None

        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "licensed"
        assert (readers.settled, readers.fell_back) == (settled, fell_back)


async def test_a_refusal_on_the_replica_is_read_again_on_the_primary(
    primary_url: str, tmp_path: Path
) -> None:
    async for seed, database in _seed_with_replica(primary_url, primary_url, tmp_path):
        product = await seed.product()
        license = await seed.license(product)
        answer = await seed.api.post(
            "/api/license/validate", validate_body(license, "never-activated")
        )
        readers = replica_readers(database)
        assert readers is not None

        assert answer.json()["reason"] == "not_activated"
        assert (readers.settled, readers.fell_back) == (0, 1)


def test_replicas_need_a_postgresql_primary(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="EXISONE_DATABASE_REPLICA_URLS"):
        Settings.from_env(
            {
                "EXISONE_DATA_DIR": str(tmp_path),
                "EXISONE_DATABASE_REPLICA_URLS": "postgresql://db-replica/exisone",
            }
        )
    settings = Settings.from_env(
        {
            "EXISONE_DATABASE_URL": "postgresql://db-primary/exisone",
            "EXISONE_DATABASE_REPLICA_URLS": "postgres://r1/exisone, postgresql://r2/exisone",
        }
    )
    assert settings.database_replica_urls == (
        "postgresql+psycopg://r1/exisone",
        "postgresql+psycopg://r2/exisone",
    )
