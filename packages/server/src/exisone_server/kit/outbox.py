"""The generic parts of a transactional outbox (webhook deliveries, e-mails).

An outbox table has ``id``, ``status``, ``attempts``, ``next_attempt_at`` and ``locked_until``
columns. A worker claims due rows with one conditional UPDATE
(``... WHERE id IN (...) AND status = 'pending' AND (locked_until IS NULL OR locked_until < now)
RETURNING id``): a row claimed by another process in the meantime no longer matches, so several
processes on one database never work on the same row at the same time. A claim counts as an
attempt and holds the row until ``locked_until`` (a lease): a process killed while working
leaves a row that another (or the restarted) process takes again once the lease is over.
After a failure the row waits :func:`retry_delay`; the caller gives up at its own deadline.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import Database
from ..group_commit import after_commit

__all__ = ["CommitSignal", "claim_due", "retry_delay"]

#: The jitter's own generator: the module-level one is shared with everything in the process
#: (and property-based tests watch it for use behind their back).
_jitter = random.Random()


def retry_delay(attempts: int, base_seconds: float, max_seconds: float) -> timedelta:
    """Delay before the next attempt after ``attempts`` failed ones: doubling, capped, ±20 %."""
    base = base_seconds * 2 ** min(attempts - 1, 30)
    seconds = min(base, max_seconds) * _jitter.uniform(0.8, 1.2)
    return timedelta(seconds=seconds)


async def claim_due(
    database: Database,
    model: Any,
    pending: object,
    now: datetime,
    lease: timedelta,
    limit: int,
) -> list[int]:
    """Claim up to ``limit`` due rows of ``model`` (status ``pending``); returns their ids.

    Each claimed row has ``attempts`` one higher and is locked until ``now + lease``.
    """

    def free() -> Any:
        return or_(model.locked_until.is_(None), model.locked_until < now)

    async with database.read() as connection:
        due = list(
            await connection.scalars(
                select(model.id)
                .where(model.status == pending, model.next_attempt_at <= now, free())
                .order_by(model.next_attempt_at, model.id)
                .limit(limit)
            )
        )
        if not due:
            return []
        claimed = await connection.scalars(
            update(model)
            .where(model.id.in_(due), model.status == pending, free())
            .values(locked_until=now + lease, attempts=model.attempts + 1)
            .returning(model.id)
        )
        return sorted(claimed)


class CommitSignal:
    """Tells listeners (workers) that a transaction which wrote outbox rows has committed."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    def listen(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after each such commit; returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def arm(self, session: AsyncSession) -> None:
        """Signal once ``session``'s current transaction commits (nothing when none listens)."""
        if self._listeners and session.in_transaction():
            after_commit(session, self._fire)

    def _fire(self) -> None:
        for listener in list(self._listeners):
            listener()
