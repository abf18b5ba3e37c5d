"""Counters whose sum changes whenever validate's rows may have (PostgreSQL's change mark)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Table
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model

__all__ = ["FASTPATH_CHANGE_SHARDS", "FastpathChange", "fastpath_touches"]

#: Rows of the counter: a transaction bumps one, picked by its transaction id, so that writers
#: committing together rarely wait for each other's commit on the same row.
FASTPATH_CHANGE_SHARDS = 64


class FastpathChange(Model):
    """One shard of the change counter of :mod:`exisone_server.fastpath.row_cache`.

    On PostgreSQL, a trigger on every table validate reads (access tokens, licenses, products,
    activations, features, license features) bumps a shard once per writing transaction, at
    its commit (a deferred trigger: the row lock is taken last, so writers cannot deadlock
    over it). SQLite has the table but no triggers: it has ``PRAGMA data_version``.
    """

    __tablename__ = "fastpath_changes"

    changes: Mapped[int] = mapped_column(BigInteger, default=0)


#: PostgreSQL: the transactions that wrote a watched table and have not committed yet (one row
#: each, deleted by the deferred trigger that bumps the counter at their commit).
fastpath_touches = Table(
    "fastpath_touches", Model.metadata, Column("txid", BigInteger, primary_key=True)
)
