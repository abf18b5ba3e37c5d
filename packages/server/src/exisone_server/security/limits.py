"""Rate limits on failures, with counters in the database so every server process shares them.

Fixed windows of ``window_seconds``: a counter row per (scope, key, window). Only failures write
(an upsert that returns the new count); successful requests never touch the table. Checking
whether a key is blocked is a dict lookup in the process's :class:`FailureLimiter`, whose view
of the blocks recorded by other processes is refreshed from the database at most every
``refresh_seconds`` (and immediately for the process that recorded the failure).

Scopes and keys:

* ``lookup`` — failed license-key lookups (``license_not_found``) on the client endpoints:
  ``ip:<token public id>:<client ip>`` and ``token:<token public id>``.
* ``login`` — failed dashboard logins: :mod:`.login_limits`, which shares
  :func:`record_failures` and :func:`window_of`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select

from ..db import Database, insert_for
from ..errors import ApiError
from ..kit.time import utc_now
from ..models import RateLimitCounter
from .settings import SecuritySettings

__all__ = [
    "FailureLimiter",
    "Limit",
    "RateLimited",
    "record_failures",
    "retry_after",
    "window_of",
]

Clock = Callable[[], float]


class RateLimited(ApiError):
    """429 ``rate_limited`` with ``Retry-After`` (seconds)."""

    status_code = 429

    def __init__(self, retry_after: int, what: str = "failed attempts") -> None:
        super().__init__(
            "rate_limited",
            f"Too many {what}; try again in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    """At most ``allowed`` failures of ``key`` per window (0 = no limit)."""

    key: str
    allowed: int


def window_of(now: float, window_seconds: int) -> int:
    """Start (Unix seconds) of the window holding ``now``."""
    return int(now // window_seconds) * window_seconds


def retry_after(now: float, window_seconds: int) -> int:
    """Whole seconds until the current window ends (at least 1)."""
    return max(1, math.ceil(window_of(now, window_seconds) + window_seconds - now))


async def record_failures(
    database: Database, scope: str, keys: Sequence[str], window_start: int
) -> dict[str, int]:
    """Count one failure for each key in the window; the new counts, by key."""
    insert = insert_for(database.dialect)
    counts: dict[str, int] = {}
    async with database.write() as session:
        for key in keys:
            statement = (
                insert(RateLimitCounter)
                .values(
                    scope=scope, key=key, window_start=window_start, count=1, created_at=utc_now()
                )
                .on_conflict_do_update(
                    index_elements=["scope", "key", "window_start"],
                    set_={"count": RateLimitCounter.count + 1},
                )
                .returning(RateLimitCounter.count)
            )
            counts[key] = int((await session.execute(statement)).scalar_one())
    return counts


class FailureLimiter:
    """One process's view of the ``lookup`` blocks (shared by every route of an app)."""

    scope = "lookup"

    def __init__(
        self,
        database: Callable[[], Database],
        settings: SecuritySettings,
        clock: Clock = time.time,
    ) -> None:
        self._database = database
        self.settings = settings
        self._clock = clock
        self._blocked: dict[str, float] = {}  # key → end of its window (Unix seconds)
        self._refreshed_at = -math.inf
        self._cleaned_window = 0

    def limits(self, token_id: str, ip: str | None) -> list[Limit]:
        """The lookup limits that apply to a request with this token and client IP."""
        limits = [Limit(f"token:{token_id}", self.settings.lookup_per_token)]
        if ip:
            limits.append(Limit(f"ip:{token_id}:{ip}", self.settings.lookup_per_ip))
        return [limit for limit in limits if limit.allowed > 0]

    async def retry_after(self, limits: Sequence[Limit]) -> int | None:
        """Seconds to wait when any of ``limits`` is exhausted, else None (usually no I/O)."""
        if not limits:
            return None
        now = self._clock()
        if now - self._refreshed_at >= self.settings.refresh_seconds:
            # Marked before the await: requests arriving while this refresh waits for the
            # database use the current view instead of starting refreshes of their own.
            self._refreshed_at = now
            await self._refresh(now)
        for limit in limits:
            until = self._blocked.get(limit.key)
            if until is not None and until > now:
                return max(1, math.ceil(until - now))
        return None

    async def record_failure(self, limits: Sequence[Limit]) -> None:
        """Count a failed lookup; a key whose count reaches its limit is blocked at once."""
        if not limits:
            return
        now = self._clock()
        window = window_of(now, self.settings.window_seconds)
        counts = await record_failures(
            self._database(), self.scope, [limit.key for limit in limits], window
        )
        for limit in limits:
            if counts.get(limit.key, 0) >= limit.allowed:
                self._blocked[limit.key] = window + self.settings.window_seconds

    async def _refresh(self, now: float) -> None:
        """Load the blocks of the current window (recorded by any process); drop old windows."""
        database = self._database()
        window = window_of(now, self.settings.window_seconds)
        smallest = min(
            (n for n in (self.settings.lookup_per_ip, self.settings.lookup_per_token) if n > 0),
            default=0,
        )
        if smallest == 0:
            return
        async with database.read() as connection:
            rows = (
                await connection.execute(
                    select(RateLimitCounter.key, RateLimitCounter.count.label("n")).where(
                        RateLimitCounter.scope == self.scope,
                        RateLimitCounter.window_start == window,
                        RateLimitCounter.count >= smallest,
                    )
                )
            ).all()
        end = window + self.settings.window_seconds
        self._blocked = {row.key: float(end) for row in rows if row.n >= self._allowed(row.key)}
        if window != self._cleaned_window:
            self._cleaned_window = window
            async with database.write() as session:
                await session.execute(
                    delete(RateLimitCounter).where(RateLimitCounter.window_start < window)
                )

    def _allowed(self, key: str) -> int:
        if key.startswith("token:"):
            return self.settings.lookup_per_token or 2**62
        return self.settings.lookup_per_ip or 2**62
