"""A product's renewal checkout address at Paddle, Lemon Squeezy or PayPal (the customer
portal's "Renew" link).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payment_products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("renewal_url", sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payment_products", schema=None) as batch_op:
        batch_op.drop_column("renewal_url")
