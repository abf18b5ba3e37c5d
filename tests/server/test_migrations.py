"""The Alembic migrations: they match the models and go down and up again (both databases)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from exisone_server.config import Settings
from exisone_server.migrate import alembic_config, downgrade, sync_url, upgrade
from exisone_server.models import Model


def _revision(settings: Settings) -> str | None:
    engine = create_engine(sync_url(settings.database_url))
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def _tables(settings: Settings) -> set[str]:
    engine = create_engine(sync_url(settings.database_url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_models_and_migrations_agree(settings: Settings) -> None:
    engine = create_engine(sync_url(settings.database_url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "render_as_batch": True}
            )
            differences = compare_metadata(context, Model.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_session_database_is_at_head(settings: Settings) -> None:
    head = ScriptDirectory.from_config(alembic_config(settings)).get_current_head()
    assert _revision(settings) == head


def test_upgrade_downgrade_upgrade(empty_settings: Settings) -> None:
    upgrade(empty_settings)
    assert {"licenses", "activations", "trials", "access_tokens"} <= _tables(empty_settings)

    downgrade(empty_settings, "base")
    assert _tables(empty_settings) <= {"alembic_version"}

    upgrade(empty_settings)
    assert "license_history" in _tables(empty_settings)
    upgrade(empty_settings)  # idempotent
