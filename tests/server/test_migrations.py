"""The Alembic migrations: they match the models and go down and up again (both databases)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, insert, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from exisone_server.config import Settings
from exisone_server.kit.time import utc_now
from exisone_server.migrate import alembic_config, downgrade, sync_url, upgrade
from exisone_server.models import Model, Product, Tenant


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


def test_0007_keeps_existing_ids_and_users(empty_settings: Settings) -> None:
    """Rows made before 0007 keep their (counter) ids and dashboard users keep their logins;
    rows made after it get random ids."""
    upgrade(empty_settings, "0006")
    engine = create_engine(sync_url(empty_settings.database_url))
    try:
        with engine.begin() as connection:
            connection.execute(insert(Tenant).values(id=1, name="t"))
            connection.execute(
                text(
                    "INSERT INTO products (id, tenant_id, name, description, is_active, price,"
                    " trial_days, default_license_days, enforce_version_check,"
                    " send_purchase_email, send_renewal_reminders, created_at)"
                    " VALUES (2, 1, 'Old', '', true, 0, 0, 0, false, false, false, :now)"
                ),
                {"now": utc_now()},
            )
            connection.execute(
                text(
                    "INSERT INTO dashboard_users (id, tenant_id, email, password_hash,"
                    " failed_logins, locked_until, created_at)"
                    " VALUES (3, 1, 'old@example.com', 'h', 4, :now, :now)"
                ),
                {"now": utc_now()},
            )
            connection.execute(
                text(
                    "INSERT INTO audit_log (id, tenant_id, actor_type, actor, action, details,"
                    " created_at) VALUES (4, 1, 'cli', 'root', 'product.create', '{}', :now)"
                ),
                {"now": utc_now()},
            )
        upgrade(empty_settings)
        with Session(engine) as session, session.begin():
            session.add(Product(tenant_id=1, name="New"))
        with engine.connect() as connection:
            products = dict(connection.execute(text("SELECT name, id FROM products")).all())
            seqs = dict(connection.execute(text("SELECT name, seq FROM products")).all())
            audit_seq = connection.execute(text("SELECT seq FROM audit_log")).scalar()
            users = connection.execute(text("SELECT id, email FROM dashboard_users")).all()
            columns = {c["name"] for c in inspect(connection).get_columns("dashboard_users")}
        with engine.connect() as connection, pytest.raises(DBAPIError):  # still append-only
            connection.execute(text("UPDATE audit_log SET actor = 'x'"))
    finally:
        engine.dispose()
    assert products["Old"] == 2 and products["New"] not in (1, 2, 3)
    assert audit_seq == 4
    assert seqs == {"Old": 2, "New": 3}  # the insertion order goes on from the old ids
    assert [tuple(row) for row in users] == [(3, "old@example.com")]
    assert not {"failed_logins", "locked_until"} & columns
