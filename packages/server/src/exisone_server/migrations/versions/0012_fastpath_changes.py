"""The fast path's change counter: PostgreSQL tells the validate row cache when its rows may
have changed (exisone_server.fastpath.row_cache).

Every statement that writes a table validate reads marks its transaction (once); at commit a
deferred trigger bumps one of the counter's rows, picked by the transaction id. The bump is
part of the commit, so a reader sees the new sum exactly when it sees the rows. Deferred, the
row lock is the transaction's last, taken when it waits for nothing else, so two writers cannot
deadlock over it. SQLite gets the table only (it has ``PRAGMA data_version``).

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

SHARDS = 64
#: The tables whose rows validate reads through the fast path (fastpath/queries.py).
WATCHED = (
    "access_tokens",
    "licenses",
    "products",
    "activations",
    "license_features",
    "features",
)

_FUNCTIONS = f"""
CREATE FUNCTION exisone_fastpath_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('exisone.fastpath_touched', true) IS DISTINCT FROM
            txid_current()::text THEN
        PERFORM set_config('exisone.fastpath_touched', txid_current()::text, true);
        INSERT INTO fastpath_touches (txid) VALUES (txid_current());
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION exisone_fastpath_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE fastpath_changes SET changes = changes + 1 WHERE id = NEW.txid % {SHARDS};
    DELETE FROM fastpath_touches WHERE txid = NEW.txid;
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.create_table(
        "fastpath_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("changes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fastpath_changes")),
    )
    values = ", ".join(f"({shard}, 0, CURRENT_TIMESTAMP)" for shard in range(SHARDS))
    op.execute(f"INSERT INTO fastpath_changes (id, changes, created_at) VALUES {values}")
    # Marks of the transactions that wrote a watched table: one row each, gone at its commit.
    op.create_table(
        "fastpath_touches",
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("txid", name=op.f("pk_fastpath_touches")),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_FUNCTIONS)
    op.execute(
        "CREATE CONSTRAINT TRIGGER fastpath_bump AFTER INSERT ON fastpath_touches "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION exisone_fastpath_bump()"
    )
    for table in WATCHED:
        op.execute(
            f"CREATE TRIGGER fastpath_touch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION exisone_fastpath_touch()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS fastpath_touch ON {table}")
    op.drop_table("fastpath_touches")
    op.drop_table("fastpath_changes")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS exisone_fastpath_touch()")
        op.execute("DROP FUNCTION IF EXISTS exisone_fastpath_bump()")
