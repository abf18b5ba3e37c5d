"""Random ids for what tenants see; dashboard logins limited without account lockout.

* The ids of rows a tenant sees (products, plans, licenses, tokens, tickets, webhooks, ...) are
  drawn at random by the application from now on (models/ids.py); existing rows keep theirs, so
  nothing changes in the schema for them.
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


def upgrade() -> None:
    with op.batch_alter_table("dashboard_users", schema=None) as batch_op:
        batch_op.drop_column("failed_logins")
        batch_op.drop_column("locked_until")


def downgrade() -> None:
    with op.batch_alter_table("dashboard_users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
