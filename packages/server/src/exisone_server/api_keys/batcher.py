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

import asyncio
from datetime import datetime

import psycopg
from sqlalchemy.exc import DBAPIError

from ..db import Database
from ..kit.attached import attached
from ..kit.time import utc_now
from .consume import ConsumeCall, ConsumeOutcome, StaleDecision, consume_many
from .postgres_batch import PostgresConsumes

__all__ = ["MAX_BATCH", "ConsumeBatcher", "consume_batcher"]

#: Most consumes one transaction holds (the others wait for the next).
MAX_BATCH = 256


_Waiting = tuple[ConsumeCall, "asyncio.Future[ConsumeOutcome]"]
#: PostgreSQL's deadlock_detected: two batches that made new quota rows while locking (a
#: key's first use) may wait for each other; PostgreSQL breaks it and the batch runs again,
#: as does a batch decided on a license that changed meanwhile (StaleDecision).
_DEADLOCK = "40P01"
_ATTEMPTS = 3


class ConsumeBatcher:
    """The consumes of one process and database (see the module docstring). ``direct``: on
    PostgreSQL, steady-state batches skip the ORM session (:mod:`.postgres_batch`)."""

    def __init__(self, database: Database, *, direct: bool = True) -> None:
        self._database = database
        self._direct = (
            PostgresConsumes(database) if direct and database.dialect == "postgresql" else None
        )
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None
        #: Batches committed so far, and the consumes they held (tests, statistics).
        self.batches = 0
        self.batched = 0

    async def consume(self, tenant_id: int, key: str, amount: int) -> ConsumeOutcome:
        """Spend ``amount`` calls of ``key`` (see :func:`.consume.consume`) in the next batch.

        A caller that goes away (cancelled) does not take its consume out of a batch that is
        already being written.
        """
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[ConsumeOutcome] = loop.create_future()
        self._waiting.append((ConsumeCall(tenant_id, key, amount), answer))
        if self._writer is None:
            self._writer = loop.create_task(self._write_batches(), name="exisone-consumes")
        return await asyncio.shield(answer)

    async def _write_batches(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[:MAX_BATCH]
                del self._waiting[:MAX_BATCH]
                try:
                    outcomes = await self._write(batch)
                except Exception as exc:
                    _fail(batch, exc)
                    continue
                except BaseException:  # cancelled: the worker shuts down
                    _fail(batch, RuntimeError("the consume writer stopped"))
                    raise
                for (_, answer), outcome in zip(batch, outcomes, strict=True):
                    if not answer.done():
                        answer.set_result(outcome)
        finally:
            self._writer = None
            waiting, self._waiting = self._waiting, []
            _fail(waiting, RuntimeError("the consume writer stopped"))  # when cancelled only

    async def _write(self, batch: list[_Waiting]) -> list[ConsumeOutcome]:
        calls = [call for call, _ in batch]
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                outcomes = await self._write_once(calls, utc_now())
            except (DBAPIError, psycopg.Error, StaleDecision) as exc:
                again = isinstance(exc, StaleDecision) or _sqlstate(exc) == _DEADLOCK
                if attempt == _ATTEMPTS or not again:
                    raise
                continue
            self.batches += 1
            self.batched += len(batch)
            return outcomes
        raise AssertionError("unreachable")  # pragma: no cover

    async def _write_once(self, calls: list[ConsumeCall], now: datetime) -> list[ConsumeOutcome]:
        if self._direct is not None:
            outcomes = await self._direct.consume_many(calls, now)
            if outcomes is not None:
                return outcomes
        async with self._database.write() as session:
            return await consume_many(session, calls, now)


def _sqlstate(error: DBAPIError | psycopg.Error) -> str | None:
    if isinstance(error, psycopg.Error):
        return error.sqlstate
    return getattr(error.orig, "sqlstate", None)


def _fail(batch: list[_Waiting], error: BaseException) -> None:
    for _, answer in batch:
        if not answer.done():
            answer.set_exception(error)


def consume_batcher(database: Database) -> ConsumeBatcher:
    """The database's batcher in this process (made on first use)."""
    return attached(database, "_exisone_consume_batcher", ConsumeBatcher)
