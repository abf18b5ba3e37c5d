"""Publisher dashboard: users and sessions (issue 4).

Reserved revision: a no-op until that work fills it in, so the chain stays linear while several
changes are made at once. Revision ID: 0003; Revises: 0002.
"""

from __future__ import annotations

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
