"""Audit log and abuse limits (issue 5).

Reserved revision: a no-op until that work fills it in, so the chain stays linear while several
changes are made at once. Revision ID: 0005; Revises: 0004.
"""

from __future__ import annotations

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
