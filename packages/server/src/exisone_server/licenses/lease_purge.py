"""Forgetting leases long gone: the rows of leases that ended or ran out are deleted once they
are :data:`LEASE_RETENTION` old.

Every checkout of a new device adds a lease row, and containers, CI runners and short-lived
VMs check out new devices all day: without this the table, and the indexes every checkout and
heartbeat reads, would only grow. A lease is needed after it ends only by what looks back at
it: the dashboard's lease list (live leases), ``lease.expired`` webhooks (at most
``webhooks.scan.LOOKBACK``, a week) and a late heartbeat (which gets 404 ``lease_not_found``
instead of 410 ``lease_expired`` once the row is gone). The periodic scan of the webhook worker
runs :func:`purge_leases` (docs/floating.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select

from ..db import Database
from ..models import Lease

__all__ = ["LEASE_RETENTION", "PURGE_CHUNK", "purge_leases"]

#: How long a lease's row is kept after it ended or ran out.
LEASE_RETENTION = timedelta(days=30)
#: Rows deleted per transaction (a purge never holds the write lock for long).
PURGE_CHUNK = 5_000


async def purge_leases(database: Database, now: datetime) -> int:
    """Delete the leases that ended, or ran out, more than :data:`LEASE_RETENTION` before
    ``now``, a chunk per transaction; how many were deleted."""
    cutoff = now - LEASE_RETENTION
    gone = or_(
        Lease.ended_at < cutoff,
        and_(Lease.ended_at.is_(None), Lease.expires_at < cutoff),
    )
    chunk = (
        delete(Lease)
        .where(Lease.id.in_(select(Lease.id).where(gone).limit(PURGE_CHUNK)))
        .execution_options(synchronize_session=False)  # no session holds these rows
    )
    deleted = 0
    while True:
        async with database.write() as session:
            count = int(getattr(await session.execute(chunk), "rowcount", 0))
        deleted += count
        if count < PURGE_CHUNK:
            return deleted
