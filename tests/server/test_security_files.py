"""Files at rest: the data folder, the SQLite database with its ``-wal``, ``-shm`` and writer lock
files and the generated master key are readable by the server's user only, whatever the umask;
a folder the operator made keeps its mode."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from exisone_server.config import Settings, sqlite_url
from exisone_server.db import Database
from tests.support import SERVER_COMMAND

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _server_cli(data_dir: Path, *args: str, umask: int) -> None:
    environ = {name: value for name, value in os.environ.items() if not name.startswith("EXISONE_")}
    subprocess.run(
        [str(SERVER_COMMAND), "--data-dir", str(data_dir), *args],
        env=environ,
        umask=umask,
        check=True,
        capture_output=True,
        timeout=120,
    )


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


async def _write_and_list_sqlite_files(settings: Settings) -> dict[str, int]:
    """Write once on an open connection; the modes of the database's files while it is open."""
    database = Database.from_settings(settings)
    try:
        async with database.write() as session:
            await session.execute(text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
            await session.execute(text("INSERT INTO probe VALUES (1)"))
        async with database.read() as connection:
            await connection.execute(text("SELECT count(*) FROM probe"))
            folder = settings.data_dir
            return {path.name: _mode(path) for path in folder.iterdir() if path.is_file()}
    finally:
        await database.dispose()


@pytest.mark.parametrize("umask", [0o022, 0o000], ids=["umask-022", "umask-000"])
async def test_the_cli_creates_a_private_data_folder_and_database(
    tmp_path: Path, umask: int
) -> None:
    data_dir = tmp_path / "new" / "data"
    _server_cli(data_dir, "migrate", umask=umask)
    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / "exisone.db") == 0o600

    _server_cli(data_dir, "demo", "--json", "--no-migrate", umask=umask)  # generates master.key
    assert _mode(data_dir / "master.key") == 0o600

    settings = Settings(data_dir, sqlite_url(data_dir / "exisone.db"))
    with _umask(umask):
        modes = await _write_and_list_sqlite_files(settings)
    assert {"exisone.db-wal", "exisone.db-shm", "exisone.db-writer.lock"} <= set(modes)
    assert modes == dict.fromkeys(modes, 0o600), modes


async def test_a_database_opened_first_by_the_app_is_private(tmp_path: Path) -> None:
    """``Database.from_settings`` (what ``serve``'s workers and tests call) on a new folder."""
    data_dir = tmp_path / "fresh"
    settings = Settings(data_dir, sqlite_url(data_dir / "exisone.db"))
    with _umask(0o022):
        modes = await _write_and_list_sqlite_files(settings)
    assert _mode(data_dir) == 0o700
    assert modes == dict.fromkeys(modes, 0o600) and "exisone.db" in modes, modes


async def test_a_folder_the_operator_made_keeps_its_mode(tmp_path: Path) -> None:
    shared = tmp_path / "srv-shared"
    shared.mkdir()
    shared.chmod(0o755)
    _server_cli(shared, "migrate", umask=0o022)
    assert _mode(shared) == 0o755  # not ours to change
    assert _mode(shared / "exisone.db") == 0o600

    elsewhere = tmp_path / "db-folder" / "licenses.db"  # a database URL outside the data folder
    settings = Settings(shared, sqlite_url(elsewhere))
    with _umask(0o022):
        await Database.from_settings(settings).dispose()  # the engine is made, not connected
    assert _mode(elsewhere.parent) == 0o700
    assert _mode(elsewhere) == 0o600
