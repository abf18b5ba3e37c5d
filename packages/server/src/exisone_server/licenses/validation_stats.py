"""Validations answered per tenant and day, and when each device was last seen: kept in memory,
written in batches.

Validate answers without writing to the database (it is the hot path), so each process adds its
answers up in a dict (:meth:`ValidationStats.count`, a dict increment) and writes the sums every
:data:`FLUSH_SECONDS` with an upsert (``count = count + n``): several processes add up on one
database. A ``licensed`` answer for an online key also notes the moment for its device
(:meth:`ValidationStats.seen`, a dict assignment), written as the activation's ``last_seen_at``
(only ever moved forward). The dashboard flushes its own process's sums before it reads. A
process killed with ``kill -9`` loses at most its last unwritten seconds: these are statistics,
not records.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import date, datetime, timedelta

from litestar import Litestar
from sqlalchemy import bindparam, or_, select, update

from ..db import Database, insert_for
from ..kit.periodic import flushing
from ..kit.time import utc_now
from ..models import Activation, License, ValidationCount

__all__ = ["FLUSH_SECONDS", "ValidationStats", "validation_stats", "validation_stats_lifespan"]

#: How often a serving process writes its counts.
FLUSH_SECONDS = 10.0
#: Devices seen written per transaction: preparing a row's parameters holds the event loop, so
#: tens of thousands of devices seen in one interval are written in slices, requests between.
SEEN_ROWS_PER_WRITE = 1_000
_EPOCH = date(1970, 1, 1)
_SECONDS_PER_DAY = 86_400


class ValidationStats:
    """One process's unwritten validation counts for one database."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._pending: Counter[tuple[int, int]] = Counter()  # (tenant, UTC day number) → n
        self._seen: dict[tuple[int, str, str], datetime] = {}  # (tenant, key, device) → when
        self._flushing = asyncio.Lock()

    def count(self, tenant_id: int) -> None:
        """One validation answered for ``tenant_id`` now."""
        self._pending[tenant_id, int(time.time()) // _SECONDS_PER_DAY] += 1

    def seen(self, tenant_id: int, activation_key: str, hardware_id: str) -> None:
        """The device ``hardware_id`` (normalised) validated the online key (normalised) now."""
        self._seen[tenant_id, activation_key, hardware_id] = utc_now()

    async def flush(self) -> None:
        """Write the counts and the devices seen; on failure they are kept for the next flush."""
        async with self._flushing:
            await self._flush_seen()
            await self._flush_counts()

    async def _flush_seen(self) -> None:
        seen, self._seen = self._seen, {}
        if not seen:
            return
        license_id = (
            select(License.id)
            .where(
                License.tenant_id == bindparam("tenant"),
                License.activation_key == bindparam("key"),
            )
            .scalar_subquery()
        )
        moment = bindparam("moment", type_=Activation.last_seen_at.type)
        statement = (
            update(Activation)
            .where(
                Activation.license_id == license_id,
                Activation.hardware_id == bindparam("device"),
                Activation.deactivated_at.is_(None),
                or_(Activation.last_seen_at.is_(None), Activation.last_seen_at < moment),
            )
            .values(last_seen_at=moment)
            .execution_options(synchronize_session=False)
        )
        items = sorted(seen.items())
        for start in range(0, len(items), SEEN_ROWS_PER_WRITE):
            rows = [
                {"tenant": tenant, "key": key, "device": device, "moment": at}
                for (tenant, key, device), at in items[start : start + SEEN_ROWS_PER_WRITE]
            ]
            try:
                async with self._database.write() as session:
                    await (await session.connection()).execute(statement, rows)
            except Exception:
                for item, at in items[start:]:
                    self._seen.setdefault(item, at)
                raise
            await asyncio.sleep(0)  # the requests that wait run between two writes

    async def _flush_counts(self) -> None:
        pending, self._pending = self._pending, Counter()
        if not pending:
            return
        insert = insert_for(self._database.dialect)
        try:
            async with self._database.write() as session:
                for (tenant_id, day_number), n in sorted(pending.items()):
                    day = _EPOCH + timedelta(days=day_number)
                    await session.execute(
                        insert(ValidationCount)
                        .values(tenant_id=tenant_id, day=day, count=n, created_at=utc_now())
                        .on_conflict_do_update(
                            index_elements=["tenant_id", "day"],
                            set_={"count": ValidationCount.count + n},
                        )
                    )
        except Exception:
            # Not written: kept for the next flush. (A cancellation is not caught: counts
            # that may already be committed are never added twice; these are statistics.)
            self._pending.update(pending)
            raise


#: The attribute of a Database that holds its counts (like the fast path's reader).
_ATTRIBUTE = "_exisone_validation_stats"


def validation_stats(database: Database) -> ValidationStats:
    """The database's counts in this process (made on first use)."""
    try:
        stats: ValidationStats = database.__dict__[_ATTRIBUTE]
        return stats
    except KeyError:
        stats = ValidationStats(database)
        setattr(database, _ATTRIBUTE, stats)
        return stats


def validation_stats_lifespan(
    database: Callable[[], Database], every: float = FLUSH_SECONDS
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """Writes the counts every ``every`` seconds while the app runs, and once at shutdown.

    List it after the lifespan that opens the database: ``database()`` is called on startup.
    """

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        async with flushing(validation_stats(database()).flush, every, "the validation counts"):
            yield

    return lifespan
