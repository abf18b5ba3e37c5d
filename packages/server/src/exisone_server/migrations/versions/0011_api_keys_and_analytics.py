"""API-key licensing (quotas, daily usage, product and plan settings) and analytics
(validations per product, version and country; a trial's version and address).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_api_product", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("default_api_calls", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("api_rate_limit_per_minute", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "use_quantity_as_api_calls",
                sa.Boolean(),
                server_default=sa.false(),
                nullable=False,
            )
        )
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("api_calls", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("api_rate_limit_per_minute", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_version", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("ip_address", sa.String(length=64), nullable=True))
    op.create_table(
        "api_quotas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("license_id", sa.Integer(), nullable=False),
        sa.Column("calls_limit", sa.BigInteger(), nullable=False),
        sa.Column("calls_used", sa.BigInteger(), nullable=False),
        sa.Column("rate_limit_per_minute", sa.BigInteger(), nullable=True),
        sa.Column("window_minute", sa.BigInteger(), nullable=False),
        sa.Column("window_calls", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["license_id"],
            ["licenses.id"],
            name=op.f("fk_api_quotas_license_id_licenses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_quotas")),
        sa.UniqueConstraint("license_id", name=op.f("uq_api_quotas_license_id")),
    )
    op.create_table(
        "api_usage_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("license_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["license_id"],
            ["licenses.id"],
            name=op.f("fk_api_usage_days_license_id_licenses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_usage_days")),
        sa.UniqueConstraint("license_id", "day", name=op.f("uq_api_usage_days_license_id_day")),
    )
    op.create_table(
        "validation_analytics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("product_name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_validation_analytics_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validation_analytics")),
        sa.UniqueConstraint(
            "tenant_id",
            "day",
            "product_name",
            "version",
            "country",
            name="uq_validation_analytics",
        ),
    )


def downgrade() -> None:
    op.drop_table("validation_analytics")
    op.drop_table("api_usage_days")
    op.drop_table("api_quotas")
    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.drop_column("ip_address")
        batch_op.drop_column("client_version")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_column("api_rate_limit_per_minute")
        batch_op.drop_column("api_calls")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("use_quantity_as_api_calls")
        batch_op.drop_column("api_rate_limit_per_minute")
        batch_op.drop_column("default_api_calls")
        batch_op.drop_column("is_api_product")
