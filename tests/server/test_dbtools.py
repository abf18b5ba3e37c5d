"""``exisone-server db copy``, ``backup`` and ``restore`` as a user runs them (subprocesses),
on a real SQLite file and a real PostgreSQL database, every table holding rows."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, func, insert, select, text, update

from exisone_server.app import create_app
from exisone_server.config import Settings, sqlite_url
from exisone_server.db import Database
from exisone_server.dbtools.copy import database_sums, tables
from exisone_server.migrate import sync_url, upgrade
from exisone_server.models import Model
from tests.support import cli, environment

from .conftest import TEST_MASTER_KEY, fresh_postgres_database
from .table_rows import ROWS_PER_TABLE, fill_every_table

pytestmark = pytest.mark.slow


def _run(settings: Settings, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    finished = subprocess.run(
        cli(settings, *args),
        env=environment(settings),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if check and finished.returncode != 0:
        pytest.fail(f"exisone-server {' '.join(args)} failed:\n{finished.stderr}")
    return finished


def _rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, as the models' types read them, ordered by primary key."""
    with engine.connect() as connection:
        return {
            table.name: [
                tuple(row)
                for row in connection.execute(
                    select(*table.columns).order_by(*table.primary_key.columns)
                )
            ]
            for table in tables()
        }


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[tuple[Settings, dict[str, Any]]]:
    """A migrated SQLite database with the demo's data and rows in every table."""
    settings = Settings(
        tmp_path / "data",
        sqlite_url(tmp_path / "data" / "exisone.db"),
        master_key=TEST_MASTER_KEY.generate_base64(),
    )
    upgrade(settings)
    demo = json.loads(_run(settings, "demo", "--json", "--no-migrate").stdout)
    engine = create_engine(sync_url(settings.database_url))
    try:
        counts = fill_every_table(engine)
    finally:
        engine.dispose()
    assert set(counts) == {table.name for table in Model.metadata.sorted_tables}
    assert min(counts.values()) >= ROWS_PER_TABLE  # every table holds rows
    yield settings, demo


@pytest.mark.postgres
async def test_copy_sqlite_to_postgres_keeps_every_row_and_id(
    seeded: tuple[Settings, dict[str, Any]], tmp_path: Path
) -> None:
    source_settings, demo = seeded
    source_url = "sqlite:///" + str(source_settings.data_dir / "exisone.db")
    with fresh_postgres_database() as target_url:
        plain_target = target_url.replace("postgresql+psycopg://", "postgresql://")
        copied = _run(source_settings, "db", "copy", "--from", source_url, "--to", plain_target)
        print(copied.stdout, copied.stderr)
        assert "both sides match" in copied.stderr
        for table in tables():
            assert table.name in copied.stdout  # one line per table, with its checksum

        source = create_engine(sync_url(source_settings.database_url))
        target = create_engine(sync_url(target_url))
        try:
            before, after = _rows(source), _rows(target)
            assert after == before  # every row, every id, every value
            assert sum(map(len, after.values())) > len(after) * ROWS_PER_TABLE  # demo rows too

            # PostgreSQL's id sequences are past the copied ids: a new row gets a new id.
            with target.begin() as connection:
                counters = Model.metadata.tables["rate_limit_counters"]
                largest = connection.execute(select(func.max(counters.c.id))).scalar_one()
                sample = dict(
                    connection.execute(select(counters).limit(1)).mappings().one(),
                )
                sample.pop("id")
                sample["key"] = "after-the-copy"
                new_id = connection.execute(
                    insert(counters).values(sample).returning(counters.c.id)
                ).scalar_one()
                assert new_id == largest + 1

            # A target that holds rows is refused, unless --force.
            refused = _run(
                source_settings,
                "db",
                "copy",
                "--from",
                source_url,
                "--to",
                plain_target,
                check=False,
            )
            assert refused.returncode == 1
            assert "not empty" in refused.stderr
            _run(source_settings, "db", "copy", "--from", source_url, "--to", target_url, "--force")
            assert _rows(target) == before

            # The checksums see a changed value.
            with target.begin() as connection:
                licenses = Model.metadata.tables["licenses"]
                connection.execute(update(licenses).values(max_seats=77))
            changed = [
                mine.table
                for mine, theirs in zip(database_sums(source), database_sums(target), strict=True)
                if mine != theirs
            ]
            assert changed == ["licenses"]
        finally:
            source.dispose()
            target.dispose()

        # The server runs on the copy: the demo's token and key work there.
        settings = Settings(tmp_path, target_url, master_key=source_settings.master_key)
        database = Database.from_settings(settings)
        try:
            app = create_app(settings, database=database)
            transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                answer = await client.post(
                    "/api/license/activate",
                    json={
                        "activationKey": demo["corporateKey"],
                        "hardwareId": "after-copy",
                        "productName": demo["productName"],
                        "email": "it@example.com",
                    },
                    headers={"Authorization": f"ExisOneApi {demo['accessToken']}"},
                )
            assert answer.status_code == 200, answer.text
        finally:
            await database.dispose()


def test_copy_refuses_a_source_behind_the_migrations(tmp_path: Path) -> None:
    settings = Settings(tmp_path, sqlite_url(tmp_path / "old.db"))
    upgrade(settings, "0010")
    target = "sqlite:///" + str(tmp_path / "new.db")
    refused = _run(
        settings, "db", "copy", "--from", settings.database_url, "--to", target, check=False
    )
    assert refused.returncode == 1
    assert "not at the migrations' head" in refused.stderr
    missing = _run(
        settings,
        "db",
        "copy",
        "--from",
        f"sqlite:///{tmp_path}/none.db",
        "--to",
        target,
        check=False,
    )
    assert "no SQLite database" in missing.stderr


def test_sqlite_backup_and_restore_round_trip(
    seeded: tuple[Settings, dict[str, Any]], tmp_path: Path
) -> None:
    settings, _ = seeded
    engine = create_engine(sync_url(settings.database_url))
    try:
        with engine.connect() as reader:  # the database is in use while it is backed up
            reader.execute(text("SELECT count(*) FROM licenses"))
            before = _rows(engine)
            _run(settings, "backup", "--to", str(tmp_path / "backup.db"))
        assert (tmp_path / "backup.db").stat().st_mode & 0o777 == 0o600
        again = _run(settings, "backup", "--to", str(tmp_path / "backup.db"), check=False)
        assert again.returncode == 1 and "exists" in again.stderr

        with engine.begin() as connection:  # the data changes after the backup
            for table in reversed(tables()):
                if table.name not in ("tenants", "audit_log"):  # the audit log is append-only
                    connection.execute(table.delete())
        assert _rows(engine) != before

        not_a_backup = tmp_path / "notes.txt"
        not_a_backup.write_text("hello")
        refused = _run(settings, "restore", "--from", str(not_a_backup), check=False)
        assert refused.returncode == 1 and "not a SQLite database" in refused.stderr

        _run(settings, "restore", "--from", str(tmp_path / "backup.db"))
        assert _rows(engine) == before
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_backup_and_restore_round_trip(tmp_path: Path) -> None:
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    with fresh_postgres_database() as url:
        settings = Settings(tmp_path, url, master_key=TEST_MASTER_KEY.generate_base64())
        upgrade(settings)
        engine = create_engine(sync_url(url))
        try:
            fill_every_table(engine)
            before = _rows(engine)
            _run(settings, "backup", "--to", str(tmp_path / "backup.dump"))
            with engine.begin() as connection:
                connection.execute(Model.metadata.tables["activations"].delete())
                connection.execute(update(Model.metadata.tables["licenses"]).values(note="x"))
            assert _rows(engine) != before
            engine.dispose()  # pg_restore drops the tables: no connection may hold them
            _run(settings, "restore", "--from", str(tmp_path / "backup.dump"))
            assert _rows(engine) == before
        finally:
            engine.dispose()
