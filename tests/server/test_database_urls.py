"""EXISONE_DATABASE_URL as people write it works in every command: `exisone-server migrate`,
`demo` and `serve` run as subprocesses with nothing but the environment variable."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import SERVER_COMMAND, running_server, server_env

from .conftest import fresh_postgres_database

pytestmark = pytest.mark.slow


def _run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SERVER_COMMAND, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def _every_command_works(url: str, folder: Path) -> None:
    env = server_env(EXISONE_DATA_DIR=str(folder / "data"), EXISONE_DATABASE_URL=url)
    migrated = _run(env, folder, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    demo = _run(env, folder, "demo", "--json", "--no-migrate")
    assert demo.returncode == 0, demo.stderr
    token = json.loads(demo.stdout)["accessToken"]
    log = folder / "server.log"
    with running_server("--no-migrate", env=env, log_path=log, cwd=folder) as server:
        answer = httpx.get(
            f"{server.url}/api/crypto/keys/public",
            headers={"Authorization": f"ExisOneApi {token}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        assert answer.text.startswith("-----BEGIN PUBLIC KEY-----")


def test_sqlite_url_with_a_relative_path(tmp_path: Path) -> None:
    _every_command_works("sqlite:///licenses.db", tmp_path)
    assert (tmp_path / "licenses.db").stat().st_size > 0  # relative to the working folder


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """host/name of a fresh, empty PostgreSQL database (its URL without the scheme)."""
    with fresh_postgres_database() as url:
        yield url.split("://", 1)[1]


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_postgresql_url_without_a_driver(
    scheme: str, postgres_database: str, tmp_path: Path
) -> None:
    _every_command_works(f"{scheme}://{postgres_database}", tmp_path)


@pytest.mark.parametrize("command", [["migrate"], ["demo", "--json"], ["serve"]])
def test_an_unsupported_scheme_is_one_line_in_every_command(
    command: list[str], tmp_path: Path
) -> None:
    env = server_env(
        EXISONE_DATA_DIR=str(tmp_path), EXISONE_DATABASE_URL="mysql://root:hunter2@db/licenses"
    )
    refused = _run(env, tmp_path, *command)
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert refused.stderr.splitlines() == [
        "Error: unsupported database URL scheme 'mysql://': exisone-server runs on SQLite and "
        "PostgreSQL; write sqlite:///path/to/exisone.db or "
        "postgresql://user:password@host:5432/database"
    ]
    assert list(tmp_path.iterdir()) == []  # nothing was created
