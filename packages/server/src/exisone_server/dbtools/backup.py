"""``exisone-server backup`` and ``restore``.

SQLite: SQLite's online backup API (:meth:`sqlite3.Connection.backup`) copies the database page
by page while the server runs, into a new private file that is a complete database; restore
copies a backup file back the same way (stop the server first: its caches would not see the
change) after checking that it is an intact database of this server.

PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore --clean``, run with the URL's parts
(the password goes in the environment, never on a command line); without those programs the
commands print what to run.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from ..config import normalize_database_url
from ..storage import PRIVATE_FILE_MODE, sqlite_path

__all__ = [
    "BackupError",
    "backup_postgres",
    "backup_sqlite",
    "postgres_command",
    "restore_postgres",
    "restore_sqlite",
    "sqlite_file",
]


class BackupError(Exception):
    """Why a backup or restore could not be made (one line for the command)."""


def _new_private_file(path: Path, *, replace: bool) -> None:
    if path.exists() and not replace:
        raise BackupError(f"{path} exists; --force replaces it")
    path.unlink(missing_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))


def backup_sqlite(database: Path, destination: Path, *, replace: bool = False) -> None:
    """Copy the SQLite ``database`` (in use or not) into a new file ``destination`` (0600)."""
    if not database.is_file():
        raise BackupError(f"no SQLite database at {database}")
    _new_private_file(destination, replace=replace)
    source = sqlite3.connect(database)
    try:
        target = sqlite3.connect(destination)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()


def _check_backup(path: Path) -> None:
    """Refuse a file that is not an intact SQLite database of this server."""
    if not path.is_file():
        raise BackupError(f"no backup file at {path}")
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            (status,) = connection.execute("PRAGMA integrity_check").fetchone()
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a SQLite database ({exc})") from exc
    if status != "ok":
        raise BackupError(f"{path} is damaged: {status}")
    if "alembic_version" not in tables or "licenses" not in tables:
        raise BackupError(f"{path} is not a database of exisone-server")


def restore_sqlite(backup: Path, database: Path) -> None:
    """Replace the contents of the SQLite ``database`` by the ``backup`` file's."""
    _check_backup(backup)
    if not database.exists():
        database.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    source = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(database)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()


def postgres_command(program: str, url: str, *args: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that run ``program`` (pg_dump, pg_restore) on the
    database of ``url``; the password is in the environment (``PGPASSWORD``) only."""
    parsed = make_url(normalize_database_url(url))
    env = {
        "PGHOST": parsed.host or "",
        "PGPORT": str(parsed.port or ""),
        "PGUSER": parsed.username or "",
        "PGDATABASE": parsed.database or "",
    }
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return [program, *args], {name: value for name, value in env.items() if value}


def _require(program: str, url: str, *args: str) -> None:
    """Refuse, with what to run elsewhere, when ``program`` is not installed."""
    if shutil.which(program) is None:
        command, _ = postgres_command(program, url, *args)
        raise BackupError(
            f"{program} is not installed here; run `{' '.join(command)}` where it is, with "
            "PGHOST, PGPORT, PGUSER, PGDATABASE (and PGPASSWORD) set for the database"
        )


def _run(program: str, url: str, *args: str) -> None:
    _require(program, url, *args)
    command, env = postgres_command(program, url, *args)
    finished = subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    if finished.returncode != 0:
        raise BackupError(f"{program} failed: {finished.stderr.strip()}")


def backup_postgres(url: str, destination: Path, *, replace: bool = False) -> None:
    """``pg_dump --format=custom`` of the database into ``destination`` (0600)."""
    args = ("--format=custom", "--no-owner", f"--file={destination}")
    _require("pg_dump", url, *args)
    _new_private_file(destination, replace=replace)
    _run("pg_dump", url, *args)


def restore_postgres(backup: Path, url: str) -> None:
    """``pg_restore --clean --if-exists`` of a ``pg_dump --format=custom`` file."""
    if not backup.is_file():
        raise BackupError(f"no backup file at {backup}")
    _run(
        "pg_restore",
        url,
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        f"--dbname={make_url(normalize_database_url(url)).database}",
        str(backup),
    )


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite database URL, or None (PostgreSQL)."""
    path = sqlite_path(normalize_database_url(url))
    return Path(path) if path else None
