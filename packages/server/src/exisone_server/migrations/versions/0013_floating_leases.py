"""Floating licenses: leases, and the plan's lease, borrowing, grace and check-in settings.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_PLAN_INTEGERS = (
    ("lease_ttl_min_seconds", "60"),
    ("lease_ttl_max_seconds", "3600"),
    ("lease_ttl_default_seconds", "600"),
    ("max_borrow_hours", "0"),
    ("grace_days", "0"),
)


def upgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_floating", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        for name, default in _PLAN_INTEGERS:
            batch_op.add_column(
                sa.Column(name, sa.Integer(), server_default=default, nullable=False)
            )
        batch_op.add_column(sa.Column("check_in_days", sa.Integer(), nullable=True))
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_floating", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "leases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("license_id", sa.Integer(), nullable=False),
        sa.Column("lease_id", sa.String(length=40), nullable=False),
        sa.Column("hardware_id", sa.String(length=256), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ttl_seconds", sa.Integer(), nullable=False),
        sa.Column("borrowed", sa.Boolean(), nullable=False),
        sa.Column("last_heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=32), nullable=True),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column("client_version", sa.String(length=50), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["license_id"],
            ["licenses.id"],
            name=op.f("fk_leases_license_id_licenses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leases")),
        sa.UniqueConstraint("lease_id", name=op.f("uq_leases_lease_id")),
    )
    op.create_index(
        "ix_leases_license_id_expires_at", "leases", ["license_id", "expires_at"], unique=False
    )
    op.create_index(
        "ix_leases_license_id_hardware_id", "leases", ["license_id", "hardware_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_leases_license_id_hardware_id", table_name="leases")
    op.drop_index("ix_leases_license_id_expires_at", table_name="leases")
    op.drop_table("leases")
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.drop_column("is_floating")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_column("check_in_days")
        for name, _ in reversed(_PLAN_INTEGERS):
            batch_op.drop_column(name)
        batch_op.drop_column("is_floating")
