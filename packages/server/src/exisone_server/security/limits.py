"""Rate limits on failures, with counters in the database so every server process shares them.

Fixed windows of ``window_seconds``: a counter row per (scope, key, window). Only failures write
(an upsert that returns the new count); successful requests never touch the table. Checking
whether a key is blocked is a dict lookup in the process's :class:`FailureLimiter`, whose view
of the counts recorded by other processes is refreshed from the database at most every
``refresh_seconds`` (and immediately for the process that recorded the failure).

The limit on failed lookups is exact across processes: a request's failed lookups are counted
before its answer leaves (:meth:`FailureLimiter.settle`), and an answer whose count passes the
limit is replaced by 429. So at most ``allowed`` answers a window say that something was not
found, however many processes answer at once.

Scopes and keys:

* ``lookup`` — lookups that found nothing (:mod:`.lookups`) on the routes that look licenses up
  by a key, offline code, e-mail address or hardware ID:
  ``ip:<token public id>:<client ip>`` and ``token:<token public id>``.
* ``login`` — failed dashboard logins: :mod:`.login_limits`, which shares
  :func:`record_failures` and :func:`window_of`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select

from ..db import Database, insert_for
from ..errors import ApiError
from ..kit.time import utc_now
from ..models import RateLimitCounter
from .lookups import LookupLedger
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

#: Callers (token, client IP) whose limits a :class:`FailureLimiter` keeps made.
KNOWN_CALLERS = 4096

logger = logging.getLogger("exisone_server")


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
    database: Database, scope: str, keys: Sequence[str], window_start: int, amount: int = 1
) -> dict[str, int]:
    """Count ``amount`` failures for each key in the window; the new counts, by key (each the
    count right after this addition: concurrent callers never see the same one)."""
    insert = insert_for(database.dialect)
    counts: dict[str, int] = {}
    async with database.write() as session:
        for key in keys:
            statement = (
                insert(RateLimitCounter)
                .values(
                    scope=scope,
                    key=key,
                    window_start=window_start,
                    count=amount,
                    created_at=utc_now(),
                )
                .on_conflict_do_update(
                    index_elements=["scope", "key", "window_start"],
                    set_={"count": RateLimitCounter.count + amount},
                )
                .returning(RateLimitCounter.count)
            )
            counts[key] = int((await session.execute(statement)).scalar_one())
    return counts


async def _counts(
    database: Database, scope: str, keys: Sequence[str], window_start: int
) -> dict[str, int]:
    async with database.read() as connection:
        rows = await connection.execute(
            select(RateLimitCounter.key, RateLimitCounter.count.label("n")).where(
                RateLimitCounter.scope == scope,
                RateLimitCounter.window_start == window_start,
                RateLimitCounter.key.in_(keys),
            )
        )
        return {row.key: int(row.n) for row in rows}


class FailureLimiter:
    """One process's view of the ``lookup`` counts (shared by every route of an app)."""

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
        self._counts: dict[str, int] = {}  # key → failures in the window ``_window``
        self._window = 0
        self._refreshed_at = -math.inf
        self._cleaned_window = 0
        self._limits: dict[tuple[str, str | None], list[Limit]] = {}
        self._limits_settings = settings

    def limits(self, token_id: str, ip: str | None) -> list[Limit]:
        """The lookup limits that apply to a request with this token and client IP (made
        once per caller while at most :data:`KNOWN_CALLERS` are kept; do not mutate)."""
        if self._limits_settings is not self.settings:  # replaced: the limits change
            self._limits, self._limits_settings = {}, self.settings
        caller = (token_id, ip)
        known = self._limits.get(caller)
        if known is not None:
            return known
        limits = [Limit(f"token:{token_id}", self.settings.lookup_per_token)]
        if ip:
            limits.append(Limit(f"ip:{token_id}:{ip}", self.settings.lookup_per_ip))
        if len(self._limits) >= KNOWN_CALLERS:
            self._limits.clear()
        known = self._limits[caller] = [limit for limit in limits if limit.allowed > 0]
        return known

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
        if self._known(limits, now, lambda count, allowed: count >= allowed):
            return retry_after(now, self.settings.window_seconds)
        return None

    async def settle(
        self, limits: Sequence[Limit], ledger: LookupLedger, *, writes: bool
    ) -> int | None:
        """Count the request's failed lookups before its answer leaves; the seconds to wait
        when the answer must be replaced by 429, else None.

        * a request with failed lookups is replaced when its count passes a limit: the
          failures of the window up to the limit are answered, none after;
        * a read whose lookups all succeeded is replaced when a limit is already reached,
          which is checked in the database only when this process knows a count near it
          (half the limit or more); a write's answer is never replaced (it happened).

        A count that cannot be written is logged and the answer goes out unchanged.
        """
        if not limits or not (ledger.missed or ledger.found):
            return None
        now = self._clock()
        window = window_of(now, self.settings.window_seconds)
        try:
            if ledger.missed:
                keys = [limit.key for limit in limits]
                counts = await record_failures(
                    self._database(), self.scope, keys, window, ledger.missed
                )
                self._learn(counts, window)
                over = any(counts.get(limit.key, 0) > limit.allowed for limit in limits)
            elif writes or not self._known(limits, now, lambda n, allowed: 2 * n >= allowed):
                return None
            else:
                keys = [limit.key for limit in limits]
                counts = await _counts(self._database(), self.scope, keys, window)
                self._learn(counts, window)
                over = any(counts.get(limit.key, 0) >= limit.allowed for limit in limits)
        except Exception:
            logger.exception("could not count failed key lookups")
            return None
        return retry_after(now, self.settings.window_seconds) if over else None

    def _known(self, limits: Sequence[Limit], now: float, test: Callable[[int, int], bool]) -> bool:
        """Whether this process knows a count of the current window for which ``test(count,
        allowed)`` holds."""
        if not self._counts or self._window != window_of(now, self.settings.window_seconds):
            return False
        return any(test(self._counts.get(limit.key, 0), limit.allowed) for limit in limits)

    def _learn(self, counts: dict[str, int], window: int) -> None:
        if window != self._window:
            self._counts, self._window = {}, window
        self._counts.update(counts)

    async def _refresh(self, now: float) -> None:
        """Load the counts of the current window that are near a limit (recorded by any
        process); drop old windows."""
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
                        RateLimitCounter.count >= max(1, smallest // 2),
                    )
                )
            ).all()
        fresh = {row.key: int(row.n) for row in rows}
        if window == self._window:  # keep what this process learned meanwhile
            for key, count in self._counts.items():
                fresh[key] = max(fresh.get(key, 0), count)
        self._counts, self._window = fresh, window
        if window != self._cleaned_window:
            self._cleaned_window = window
            async with database.write() as session:
                await session.execute(
                    delete(RateLimitCounter).where(
                        RateLimitCounter.scope == self.scope,
                        RateLimitCounter.window_start < window,
                    )
                )
