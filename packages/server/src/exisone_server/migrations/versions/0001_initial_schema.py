"""Initial schema: tenants, keys, tokens, products, plans, features, licenses, activations,
trials, history, support tickets.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 15:59:56.231902
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "tenants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("name", name=op.f("uq_tenants_name")),
    )
    op.create_table(
        "access_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_access_tokens_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_tokens")),
        sa.UniqueConstraint("public_id", name=op.f("uq_access_tokens_public_id")),
    )
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_tokens_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "crypto_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("private_key_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("master_key_id", sa.String(length=32), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_crypto_keys_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crypto_keys")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_crypto_keys_fingerprint")),
    )
    with op.batch_alter_table("crypto_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crypto_keys_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(
            "uq_crypto_keys_current_per_tenant",
            ["tenant_id"],
            unique=True,
            sqlite_where=sa.text("is_current"),
            postgresql_where=sa.text("is_current"),
        )

    op.create_table(
        "features",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_features_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_features")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_features_tenant_id_name")),
    )
    with op.batch_alter_table("features", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_features_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("duration_days", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_plans_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_plans_tenant_id_name")),
    )
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plans_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "plan_features",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("feature_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feature_id"],
            ["features.id"],
            name=op.f("fk_plan_features_feature_id_features"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_plan_features_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("plan_id", "feature_id", name=op.f("pk_plan_features")),
    )
    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("trial_days", sa.Integer(), nullable=False),
        sa.Column("default_license_days", sa.Integer(), nullable=False),
        sa.Column("default_plan_id", sa.Integer(), nullable=True),
        sa.Column("minimum_required_version", sa.String(length=50), nullable=True),
        sa.Column("enforce_version_check", sa.Boolean(), nullable=False),
        sa.Column("send_purchase_email", sa.Boolean(), nullable=False),
        sa.Column("send_renewal_reminders", sa.Boolean(), nullable=False),
        sa.Column("renewal_reminder_days", sa.Integer(), nullable=True),
        sa.Column("deactivation_cooldown_hours", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["default_plan_id"],
            ["plans.id"],
            name=op.f("fk_products_default_plan_id_plans"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_products_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_products_tenant_id_name")),
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_products_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "licenses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("activation_key", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active", "suspended", "revoked", name="licensestatus", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("is_corporate", sa.Boolean(), nullable=False),
        sa.Column("max_seats", sa.Integer(), nullable=True),
        sa.Column("corporate_name", sa.String(length=200), nullable=True),
        sa.Column("is_offline", sa.Boolean(), nullable=False),
        sa.Column("offline_code", sa.Text(), nullable=True),
        sa.Column("version", sa.String(length=50), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_licenses_plan_id_plans"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_licenses_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_licenses_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licenses")),
        sa.UniqueConstraint("activation_key", name=op.f("uq_licenses_activation_key")),
    )
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_licenses_product_id"), ["product_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_licenses_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "support_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("product_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column("is_closed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_support_tickets_product_id_products"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_support_tickets_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_tickets")),
    )
    with op.batch_alter_table("support_tickets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_support_tickets_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "trials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("hardware_id", sa.String(length=256), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_trials_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trials")),
        sa.UniqueConstraint(
            "product_id", "hardware_id", name=op.f("uq_trials_product_id_hardware_id")
        ),
    )
    op.create_table(
        "activations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("license_id", sa.Integer(), nullable=False),
        sa.Column("hardware_id", sa.String(length=256), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column("client_version", sa.String(length=50), nullable=True),
        sa.Column("is_offline", sa.Boolean(), nullable=False),
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["license_id"],
            ["licenses.id"],
            name=op.f("fk_activations_license_id_licenses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activations")),
    )
    with op.batch_alter_table("activations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activations_hardware_id"), ["hardware_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_activations_license_id"), ["license_id"], unique=False)
        batch_op.create_index(
            "uq_activations_active_license_hardware",
            ["license_id", "hardware_id"],
            unique=True,
            sqlite_where=sa.text("deactivated_at IS NULL"),
            postgresql_where=sa.text("deactivated_at IS NULL"),
        )

    op.create_table(
        "license_features",
        sa.Column("license_id", sa.Integer(), nullable=False),
        sa.Column("feature_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feature_id"],
            ["features.id"],
            name=op.f("fk_license_features_feature_id_features"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["license_id"],
            ["licenses.id"],
            name=op.f("fk_license_features_license_id_licenses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("license_id", "feature_id", name=op.f("pk_license_features")),
    )
    op.create_table(
        "license_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("license_id", sa.Integer(), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "created",
                "activated",
                "deactivated",
                "offline_code_issued",
                "updated",
                "suspended",
                "resumed",
                "revoked",
                "renewed",
                "deleted",
                name="historyaction",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("hardware_id", sa.String(length=256), nullable=True),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column("access_token_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["access_token_id"],
            ["access_tokens.id"],
            name=op.f("fk_license_history_access_token_id_access_tokens"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["license_id"],
            ["licenses.id"],
            name=op.f("fk_license_history_license_id_licenses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_license_history")),
    )
    with op.batch_alter_table("license_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_license_history_license_id"), ["license_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("license_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_license_history_license_id"))

    op.drop_table("license_history")
    op.drop_table("license_features")
    with op.batch_alter_table("activations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_activations_active_license_hardware",
            sqlite_where=sa.text("deactivated_at IS NULL"),
            postgresql_where=sa.text("deactivated_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_activations_license_id"))
        batch_op.drop_index(batch_op.f("ix_activations_hardware_id"))

    op.drop_table("activations")
    op.drop_table("trials")
    with op.batch_alter_table("support_tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_support_tickets_tenant_id"))

    op.drop_table("support_tickets")
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_licenses_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_licenses_product_id"))

    op.drop_table("licenses")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_products_tenant_id"))

    op.drop_table("products")
    op.drop_table("plan_features")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plans_tenant_id"))

    op.drop_table("plans")
    with op.batch_alter_table("features", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_features_tenant_id"))

    op.drop_table("features")
    with op.batch_alter_table("crypto_keys", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_crypto_keys_current_per_tenant",
            sqlite_where=sa.text("is_current"),
            postgresql_where=sa.text("is_current"),
        )
        batch_op.drop_index(batch_op.f("ix_crypto_keys_tenant_id"))

    op.drop_table("crypto_keys")
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_tokens_tenant_id"))

    op.drop_table("access_tokens")
    op.drop_table("tenants")
