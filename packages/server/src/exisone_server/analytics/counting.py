"""Validations per tenant, day, product, client version and country: counted in memory, written
in batches (as :mod:`..licenses.validation_stats` does for the per-day totals).

Validate writes nothing, so each process adds its validations up in a dict
(:meth:`ValidationAnalytics.count`: a tuple and a dict increment, the client IP kept as it
came) and every :data:`FLUSH_SECONDS` turns the addresses into countries (the country
database, :mod:`.geo`) and adds the sums to ``validation_analytics`` with upserts
(``count = count + n``): any number of processes add up on one database. A process killed with
``kill -9`` loses at most its last unwritten seconds: these are statistics. No address is
written: only its country.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import date, timedelta

from litestar import Litestar

from ..db import Database, insert_for
from ..kit.attached import attached
from ..kit.periodic import flushing
from ..kit.time import utc_now
from ..licenses.validation_stats import FLUSH_SECONDS
from ..models import ValidationAnalytics as ValidationAnalyticsRow
from .geo import CountryDatabase
from .settings import AnalyticsSettings

__all__ = ["ValidationAnalytics", "analytics_lifespan", "validation_analytics"]

_EPOCH = date(1970, 1, 1)
_SECONDS_PER_DAY = 86_400
#: The columns' lengths: longer texts are cut.
_PRODUCT_CHARS = 200
_VERSION_CHARS = 50

#: (tenant, UTC day number, product name, client version, client IP or "")
_Key = tuple[int, int, str, str, str]


class ValidationAnalytics:
    """One process's unwritten validation analytics for one database."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._pending: Counter[_Key] = Counter()
        self._flushing = asyncio.Lock()
        self.enabled = True
        self.countries = CountryDatabase(None)

    def configure(self, settings: AnalyticsSettings) -> None:
        """Apply the settings (the app's lifespan does, on startup)."""
        self.enabled = settings.enabled
        self.countries.close()
        self.countries = CountryDatabase(settings.geoip_database)

    def count(
        self, tenant_id: int, product_name: str | None, version: str | None, ip: str | None
    ) -> None:
        """One validation answered now (product and version as the request named them)."""
        if not self.enabled:
            return
        address = (ip or "") if self.countries.configured else ""
        self._pending[
            tenant_id,
            int(time.time()) // _SECONDS_PER_DAY,
            product_name or "",
            version or "",
            address,
        ] += 1

    async def flush(self) -> None:
        """Add the counts to the database; on failure they are kept for the next flush."""
        async with self._flushing:
            pending, self._pending = self._pending, Counter()
            if not pending:
                return
            rows: Counter[tuple[int, int, str, str, str]] = Counter()
            for (tenant_id, day, product, version, ip), n in pending.items():
                country = self.countries.country(ip)
                product = product.strip()[:_PRODUCT_CHARS]
                version = version.strip()[:_VERSION_CHARS]
                rows[tenant_id, day, product, version, country] += n
            insert = insert_for(self._database.dialect)
            statement = insert(ValidationAnalyticsRow)
            statement = statement.on_conflict_do_update(
                index_elements=["tenant_id", "day", "product_name", "version", "country"],
                set_={"count": ValidationAnalyticsRow.count + statement.excluded["count"]},
            )
            now = utc_now()
            try:
                async with self._database.write() as session:
                    await session.execute(
                        statement,
                        [
                            {
                                "tenant_id": tenant_id,
                                "day": _EPOCH + timedelta(days=day),
                                "product_name": product,
                                "version": version,
                                "country": country,
                                "count": n,
                                "created_at": now,
                            }
                            for (tenant_id, day, product, version, country), n in sorted(
                                rows.items()
                            )
                        ],
                    )
            except Exception:
                # Not written: kept for the next flush (a cancellation is not caught: counts
                # that may be committed are never added twice; these are statistics).
                self._pending.update(pending)
                raise


def validation_analytics(database: Database) -> ValidationAnalytics:
    """The database's analytics in this process (made on first use)."""
    return attached(database, "_exisone_validation_analytics", ValidationAnalytics)


def analytics_lifespan(
    database: Callable[[], Database],
    settings: AnalyticsSettings,
    every: float = FLUSH_SECONDS,
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """Applies ``settings`` on startup, writes the counts every ``every`` seconds and once at
    shutdown. List it after the lifespan that opens the database."""

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        analytics = validation_analytics(database())
        analytics.configure(settings)
        try:
            async with flushing(analytics.flush, every, "the validation analytics"):
                yield
        finally:
            analytics.countries.close()

    return lifespan
