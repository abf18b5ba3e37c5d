"""Where the server keeps its files, readable by its own user only.

The data folder holds the SQLite database (keys, e-mails, offline codes, client IPs) and the
generated master key. :func:`prepare_storage` runs before anything opens the database (``migrate``,
``serve``, ``demo``, :meth:`Database.from_settings`): a folder the server creates is 0700, and the
SQLite file is created empty with mode 0600 before SQLite opens it — SQLite then gives its
``-wal`` and ``-shm`` files, and :mod:`.writer_lock` its lock file, the database file's mode.
Folders and files that exist already are left as they are: an ``EXISONE_DATA_DIR`` chosen by
the operator (``/srv/shared``) keeps its mode, and so does a database made by an older version.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from .config import Settings

__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "create_private_dir",
    "create_private_file",
    "prepare_storage",
    "sqlite_path",
]

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def sqlite_path(url: str | URL) -> str | None:
    """The file of a SQLite URL; None for other databases and in-memory or ``file:`` URIs."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return None if database.startswith("file:") else database


def create_private_dir(path: Path) -> None:
    """Create ``path`` with mode 0700 when it is missing (its missing parents get the usual
    mode, like ``mkdir -p``); an existing folder is left alone."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)


def create_private_file(path: Path) -> None:
    """Create an empty file with mode 0600 when it is missing (an empty file is a new SQLite
    database to SQLite); an existing file is left alone."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return
    os.close(descriptor)


def prepare_storage(settings: Settings) -> None:
    """On SQLite: create the data folder, the database file's folder and the database file,
    private, where they are missing (PostgreSQL needs the data folder only for a generated
    master key, which :mod:`.crypto.master_key` makes with :func:`create_private_dir`)."""
    database = sqlite_path(settings.database_url)
    if database is None:
        return
    create_private_dir(settings.data_dir)
    create_private_dir(Path(database).parent)
    create_private_file(Path(database))
