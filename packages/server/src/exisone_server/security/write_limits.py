"""Limits on writes that a shipped (``verify`` / ``email``) token can make: new trials, tickets.

Such a token is inside every copy of an application, so anyone can use it. Each write it causes
takes one slot of a fixed window, per token and per (token, client IP); a write whose slot is
not free is refused with 429 ``rate_limited`` and ``Retry-After`` (the end of the window).
Counters live in ``rate_limit_counters`` (scope ``writes``), taken by one atomic conditional
upsert per key (``... ON CONFLICT DO UPDATE SET count = count + 1 WHERE count < limit
RETURNING count``), so the limit is exact however many processes share the database; when the
per-IP slot is taken but the per-token one is not, the transaction is rolled back and neither is
used.

=======================================  ========================================================
variable                                 meaning (default)
=======================================  ========================================================
EXISONE_RATE_LIMIT_WRITE_WINDOW_SECONDS  length of a counting window (3600)
EXISONE_RATE_LIMIT_TRIALS_PER_TOKEN      new trials (first visits of a device) per token (2000)
EXISONE_RATE_LIMIT_TRIALS_PER_IP         new trials per token and client IP (50)
EXISONE_RATE_LIMIT_TICKETS_PER_TOKEN     support tickets per token (200)
EXISONE_RATE_LIMIT_TICKETS_PER_IP        support tickets per token and client IP (10)
=======================================  ========================================================

A limit of 0 switches it off. The token and IP of a request come from the audit context that the
security middleware sets for every API request (:func:`~exisone_server.audit.current_actor`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit import current_actor
from ..db import Database, insert_for
from ..kit.time import utc_now
from ..models import RateLimitCounter
from .env import env_count
from .limits import RateLimited, retry_after, window_of

__all__ = [
    "WriteLimitSettings",
    "check_ticket_allowed",
    "claim_slots",
    "claim_trial_slot",
    "take_slots",
]

SCOPE = "writes"


@dataclass(frozen=True)
class WriteLimitSettings:
    window_seconds: int = 3600
    trials_per_token: int = 2000
    trials_per_ip: int = 50
    tickets_per_token: int = 200
    tickets_per_ip: int = 10

    def __post_init__(self) -> None:
        if self.window_seconds < 1:
            raise ValueError("EXISONE_RATE_LIMIT_WRITE_WINDOW_SECONDS must be 1 or more")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WriteLimitSettings:
        env = os.environ if environ is None else environ
        return cls(
            window_seconds=env_count(env, "RATE_LIMIT_WRITE_WINDOW_SECONDS", 3600),
            trials_per_token=env_count(env, "RATE_LIMIT_TRIALS_PER_TOKEN", 2000),
            trials_per_ip=env_count(env, "RATE_LIMIT_TRIALS_PER_IP", 50),
            tickets_per_token=env_count(env, "RATE_LIMIT_TICKETS_PER_TOKEN", 200),
            tickets_per_ip=env_count(env, "RATE_LIMIT_TICKETS_PER_IP", 10),
        )


class _Refused(Exception):
    """A slot was not free (rolls the transaction back)."""


async def take_slots(
    database: Database,
    scope: str,
    limits: Sequence[tuple[str, int]],
    window_seconds: int,
    now: float,
) -> bool:
    """Take one slot of each ``(key, allowed)`` in the window holding ``now``: all or none.

    True when every key had a free slot (now taken); False when one had not (nothing taken).
    A limit of 0 is not counted. Every use of a ``scope`` must have the same window length (the
    scope's ended windows are deleted here).
    """
    try:
        async with database.write() as session:
            await claim_slots(session, database.dialect, scope, limits, window_seconds, now)
    except _Refused:
        return False
    return True


async def claim_slots(
    session: AsyncSession,
    dialect: str,
    scope: str,
    limits: Sequence[tuple[str, int]],
    window_seconds: int,
    now: float,
) -> None:
    """:func:`take_slots` in the caller's transaction: raises :class:`_Refused` (roll the
    transaction back) when a key has no free slot."""
    counted = [(key, allowed) for key, allowed in limits if allowed > 0]
    if not counted:
        return
    window = window_of(now, window_seconds)
    insert = insert_for(dialect)
    for key, allowed in counted:
        statement = (
            insert(RateLimitCounter)
            .values(scope=scope, key=key, window_start=window, count=1, created_at=utc_now())
            .on_conflict_do_update(
                index_elements=["scope", "key", "window_start"],
                set_={"count": RateLimitCounter.count + 1},
                where=RateLimitCounter.count < allowed,
            )
            .returning(RateLimitCounter.count)
        )
        if (await session.execute(statement)).scalar_one_or_none() is None:
            raise _Refused
    await session.execute(
        delete(RateLimitCounter).where(
            RateLimitCounter.scope == scope, RateLimitCounter.window_start < window
        )
    )


def _limits(what: str, per_token: int, per_ip: int) -> list[tuple[str, int]]:
    """The (key, allowed) slots a write of the current API request takes; none outside one."""
    actor = current_actor()
    if actor.kind != "token":
        return []  # not an API request (the CLI, a test calling a service)
    limits = [(f"{what}:token:{actor.name}", per_token)]
    if actor.ip_address:
        limits.append((f"{what}:ip:{actor.name}:{actor.ip_address}", per_ip))
    return limits


async def claim_trial_slot(session: AsyncSession, dialect: str) -> None:
    """Take a new-trial slot of the request's token and IP in the transaction that creates the
    trial, or raise :class:`RateLimited` (so the trial is not created)."""
    settings = WriteLimitSettings.from_env()
    limits = _limits("trials", settings.trials_per_token, settings.trials_per_ip)
    now = time.time()
    try:
        await claim_slots(session, dialect, SCOPE, limits, settings.window_seconds, now)
    except _Refused:
        raise RateLimited(retry_after(now, settings.window_seconds), "new trials") from None


async def check_ticket_allowed(database: Database) -> None:
    """Take a support-ticket slot of the request's token and IP, or raise :class:`RateLimited`."""
    settings = WriteLimitSettings.from_env()
    limits = _limits("tickets", settings.tickets_per_token, settings.tickets_per_ip)
    now = time.time()
    if not await take_slots(database, SCOPE, limits, settings.window_seconds, now):
        raise RateLimited(retry_after(now, settings.window_seconds), "new tickets")
