"""Crypto keys have an algorithm: a tenant may have a current Ed25519 key for lease tokens.

Every existing key is RSA (``rsa``); the one-current-key-per-tenant index becomes one current
key per tenant and algorithm.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_INDEX = "uq_crypto_keys_current_per_tenant"


def _current_index(columns: list[str]) -> None:
    op.create_index(
        _INDEX,
        "crypto_keys",
        columns,
        unique=True,
        sqlite_where=sa.text("is_current"),
        postgresql_where=sa.text("is_current"),
    )


def upgrade() -> None:
    with op.batch_alter_table("crypto_keys") as batch:
        batch.add_column(
            sa.Column("algorithm", sa.String(length=16), nullable=False, server_default="rsa")
        )
    op.drop_index(_INDEX, table_name="crypto_keys")
    _current_index(["tenant_id", "algorithm"])


def downgrade() -> None:
    op.execute("DELETE FROM crypto_keys WHERE algorithm <> 'rsa'")
    op.drop_index(_INDEX, table_name="crypto_keys")
    _current_index(["tenant_id"])
    with op.batch_alter_table("crypto_keys") as batch:
        batch.drop_column("algorithm")
