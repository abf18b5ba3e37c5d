"""Apply the Alembic migrations shipped in the package (``exisone-server migrate``)."""

from __future__ import annotations

from functools import cache

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from .config import Settings
from .storage import prepare_storage

__all__ = [
    "SCRIPT_LOCATION",
    "alembic_config",
    "downgrade",
    "head_revisions",
    "sync_url",
    "upgrade",
]

#: Where the packaged migrations are.
SCRIPT_LOCATION = "exisone_server:migrations"


def sync_url(database_url: str) -> str:
    """The synchronous driver URL for the same database (Alembic runs synchronously)."""
    if database_url.startswith("sqlite+aiosqlite"):
        return "sqlite" + database_url.removeprefix("sqlite+aiosqlite")
    return database_url  # postgresql+psycopg serves both sync and async


def alembic_config(settings: Settings) -> Config:
    """An Alembic config pointing at the packaged migrations and the configured database."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("sqlalchemy.url", sync_url(settings.database_url).replace("%", "%%"))
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Bring the database schema up to ``revision`` (creates the SQLite file if needed)."""
    prepare_storage(settings)
    command.upgrade(alembic_config(settings), revision)


def downgrade(settings: Settings, revision: str = "base") -> None:
    """Undo migrations down to ``revision``."""
    command.downgrade(alembic_config(settings), revision)


@cache
def head_revisions() -> frozenset[str]:
    """The revisions a database fully migrated by this version of the server is at."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return frozenset(ScriptDirectory.from_config(config).get_heads())
