"""Consumes of one process committed together: each answered after its batch committed.

A consume writes, and a commit that is durable costs a disk flush (SQLite with
``synchronous=FULL`` about 5 ms, PostgreSQL a WAL flush). One transaction per consume would
cap a server at a few hundred consumes a second. So each process keeps one
:class:`ConsumeBatcher` per database: a consume that arrives while a batch is being written
waits for the next one; a batch runs :func:`.consume.consume_many` (a few statements however
many consumes it holds) in one write transaction, commits once, then answers them all.
Nothing is answered before it is committed (a crash loses no consume that was answered), the
rows are locked while a batch decides (exact across processes), and at low load a batch is a
single consume, sent at once. A batch that fails (the database went away) fails each of its
consumes with the error, and none of them was applied.

On PostgreSQL a batch whose keys all have quota rows and that crosses no warning share runs
on a connection of the batcher's own, in three pipelined round trips
(:mod:`.postgres_batch`); the others, and every batch on SQLite, run through the ORM session.
"""

from __future__ import annotations

from datetime import datetime

from ..db import Database
from ..errors import deadlocked
from ..kit.attached import attached
from ..kit.batcher import Batcher, retried
from ..kit.time import utc_now
from .consume import ConsumeCall, ConsumeOutcome, StaleDecision, consume_many, make_quota_rows
from .postgres_batch import PostgresConsumes

__all__ = ["MAX_BATCH", "ConsumeBatcher", "consume_batcher"]

#: Most consumes one transaction holds (the others wait for the next).
MAX_BATCH = 256


class ConsumeBatcher:
    """The consumes of one process and database (see the module docstring). ``direct``: on
    PostgreSQL, steady-state batches skip the ORM session (:mod:`.postgres_batch`)."""

    def __init__(self, database: Database, *, direct: bool = True) -> None:
        self._database = database
        self._direct = (
            PostgresConsumes(database) if direct and database.dialect == "postgresql" else None
        )
        self._batches: Batcher[ConsumeCall, ConsumeOutcome] = Batcher(
            self._write, max_batch=MAX_BATCH, name="exisone-consumes"
        )

    @property
    def batches(self) -> int:
        """Batches committed so far (tests, statistics)."""
        return self._batches.batches

    @property
    def batched(self) -> int:
        """The consumes those batches held."""
        return self._batches.batched

    async def consume(self, tenant_id: int, key: str, amount: int) -> ConsumeOutcome:
        """Spend ``amount`` calls of ``key`` (see :func:`.consume.consume`) in the next batch.

        A caller that goes away (cancelled) does not take its consume out of a batch that is
        already being written.
        """
        return await self._batches.submit(ConsumeCall(tenant_id, key, amount))

    async def _write(self, calls: list[ConsumeCall]) -> list[ConsumeOutcome]:
        return await retried(lambda: self._write_once(calls, utc_now()), again=_again)

    async def _write_once(self, calls: list[ConsumeCall], now: datetime) -> list[ConsumeOutcome]:
        if self._direct is not None:
            outcomes = await self._direct.consume_many(calls, now)
            if outcomes is not None:
                return outcomes
        try:
            async with self._database.write() as session:
                return await consume_many(session, calls, now)
        except Exception as error:
            if deadlocked(error):  # first uses: their rows made apart, then the batch again
                async with self._database.write() as session:
                    await make_quota_rows(session, calls, now)
            raise


def _again(error: Exception) -> bool:
    """A batch decided on a license that changed meanwhile, or a deadlock: two batches that
    made new quota rows while locking (a key's first use) may wait for each other; the rows
    are made in a transaction of their own before the batch runs again."""
    return isinstance(error, StaleDecision) or deadlocked(error)


def consume_batcher(database: Database) -> ConsumeBatcher:
    """The database's batcher in this process (made on first use)."""
    return attached(database, "_exisone_consume_batcher", ConsumeBatcher)
