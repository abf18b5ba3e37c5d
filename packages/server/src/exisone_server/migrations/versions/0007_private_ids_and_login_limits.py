"""Random ids for what tenants see; dashboard logins limited without account lockout.

* The ids of rows a tenant sees (products, plans, licenses, tokens, tickets, webhooks, ...) are
  drawn at random by the application from now on (models/ids.py); existing rows keep theirs, so
  nothing changes in the schema for them. The audit log is listed newest first by
  ``seq`` (no longer by id): its index becomes (tenant_id, seq).
* Those tables get ``seq``, their insertion order (random ids have none and times are stored to
  the second), set to the old id for existing rows and indexed; "newest first" lists use it.
* ``dashboard_users.failed_logins`` and ``locked_until`` go: failed logins are counted in
  ``rate_limit_counters`` (security/login_limits.py) and never lock an account.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


#: The tables whose ids tenants see and that are listed in insertion order.
SEQUENCED = (
    "access_tokens",
    "audit_log",
    "crypto_keys",
    "license_history",
    "licenses",
    "plans",
    "products",
    "support_tickets",
    "trials",
    "webhook_deliveries",
    "webhook_endpoints",
)


def upgrade() -> None:
    sqlite = op.get_context().dialect.name == "sqlite"
    for table in SEQUENCED:
        op.add_column(table, sa.Column("seq", sa.BigInteger(), nullable=True))
    # The audit log refuses updates (0005's triggers): lifted for this one statement.
    if sqlite:
        op.execute("DROP TRIGGER audit_log_no_update")
    else:
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    for table in SEQUENCED:
        op.execute(sa.text(f"UPDATE {table} SET seq = id"))
        op.create_index(f"ix_{table}_seq", table, ["seq"], unique=False)
    if sqlite:
        op.execute(
            "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
        )
    else:
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    op.drop_index("ix_audit_log_tenant_id_id", table_name="audit_log")
    op.create_index("ix_audit_log_tenant_id_seq", "audit_log", ["tenant_id", "seq"], unique=False)
    with op.batch_alter_table("dashboard_users", schema=None) as batch_op:
        batch_op.drop_column("failed_logins")
        batch_op.drop_column("locked_until")


def downgrade() -> None:
    op.drop_index("ix_audit_log_tenant_id_seq", table_name="audit_log")
    op.create_index("ix_audit_log_tenant_id_id", "audit_log", ["tenant_id", "id"], unique=False)
    for table in SEQUENCED:
        op.drop_index(f"ix_{table}_seq", table_name=table)
        op.drop_column(table, "seq")  # SQLite 3.35+: ALTER TABLE DROP COLUMN (keeps triggers)
    with op.batch_alter_table("dashboard_users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
