"""Selling: payment-provider apps (secrets encrypted), received payment events, the orders
that made licenses, how products are sold and the providers' ids mapped to products.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_apps",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("is_live", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("public_key", sa.String(length=200), nullable=True),
        sa.Column("secret_key_nonce", sa.LargeBinary(), nullable=True),
        sa.Column("secret_key_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("signing_secret_nonce", sa.LargeBinary(), nullable=True),
        sa.Column("signing_secret_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("webhook_id", sa.String(length=100), nullable=True),
        sa.Column("default_currency", sa.String(length=3), nullable=False),
        sa.Column("suspend_on_refund", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("master_key_id", sa.String(length=16), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_payment_apps_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_apps")),
    )
    with op.batch_alter_table("payment_apps", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payment_apps_provider_active", ["provider", "is_active"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_payment_apps_seq"), ["seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_payment_apps_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "payment_mappings",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("external_ref", sa.String(length=200), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_payment_mappings_plan_id_plans"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_payment_mappings_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_payment_mappings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_mappings")),
        sa.UniqueConstraint(
            "tenant_id",
            "provider",
            "external_ref",
            name=op.f("uq_payment_mappings_tenant_id_provider_external_ref"),
        ),
    )
    with op.batch_alter_table("payment_mappings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_mappings_seq"), ["seq"], unique=False)

    op.create_table(
        "payment_products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("quantity_means", sa.String(length=20), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_payment_products_plan_id_plans"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_payment_products_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_payment_products_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_products")),
        sa.UniqueConstraint("product_id", name=op.f("uq_payment_products_product_id")),
    )
    with op.batch_alter_table("payment_products", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_products_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "payment_events",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=True),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("order_ref", sa.String(length=200), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "received",
                "fulfilled",
                "duplicate",
                "ignored",
                "unmatched",
                "pending",
                "failed",
                name="paymenteventstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("license_id", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("give_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"],
            ["payment_apps.id"],
            name=op.f("fk_payment_events_app_id_payment_apps"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["license_id"],
            ["licenses.id"],
            name=op.f("fk_payment_events_license_id_licenses"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_payment_events_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_events")),
        sa.UniqueConstraint(
            "provider", "event_id", name=op.f("uq_payment_events_provider_event_id")
        ),
    )
    with op.batch_alter_table("payment_events", schema=None) as batch_op:
        batch_op.create_index("ix_payment_events_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_payment_events_seq"), ["seq"], unique=False)
        batch_op.create_index("ix_payment_events_tenant_seq", ["tenant_id", "seq"], unique=False)

    op.create_table(
        "payment_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("order_ref", sa.String(length=200), nullable=False),
        sa.Column("subscription_ref", sa.String(length=200), nullable=True),
        sa.Column("payment_ref", sa.String(length=200), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["payment_events.id"],
            name=op.f("fk_payment_orders_event_id_payment_events"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_payment_orders_plan_id_plans"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_payment_orders_product_id_products"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_payment_orders_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_orders")),
        sa.UniqueConstraint(
            "provider", "order_ref", name=op.f("uq_payment_orders_provider_order_ref")
        ),
    )
    with op.batch_alter_table("payment_orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payment_orders_payment", ["provider", "payment_ref"], unique=False
        )
        batch_op.create_index(
            "ix_payment_orders_subscription", ["provider", "subscription_ref"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_payment_orders_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "payment_order_licenses",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("license_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["license_id"],
            ["licenses.id"],
            name=op.f("fk_payment_order_licenses_license_id_licenses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["payment_orders.id"],
            name=op.f("fk_payment_order_licenses_order_id_payment_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", "license_id", name=op.f("pk_payment_order_licenses")),
    )


def downgrade() -> None:
    op.drop_table("payment_order_licenses")
    with op.batch_alter_table("payment_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_orders_tenant_id"))
        batch_op.drop_index("ix_payment_orders_subscription")
        batch_op.drop_index("ix_payment_orders_payment")

    op.drop_table("payment_orders")
    with op.batch_alter_table("payment_events", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_events_tenant_seq")
        batch_op.drop_index(batch_op.f("ix_payment_events_seq"))
        batch_op.drop_index("ix_payment_events_due")

    op.drop_table("payment_events")
    with op.batch_alter_table("payment_products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_products_tenant_id"))

    op.drop_table("payment_products")
    with op.batch_alter_table("payment_mappings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_mappings_seq"))

    op.drop_table("payment_mappings")
    with op.batch_alter_table("payment_apps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_apps_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_payment_apps_seq"))
        batch_op.drop_index("ix_payment_apps_provider_active")

    op.drop_table("payment_apps")
