"""PostgreSQL: a batch of consumes in three round trips, on a connection of its own.

Through the ORM session a batch costs five round trips (BEGIN, the locking read, the UPDATE,
the usage upsert, COMMIT), each with SQLAlchemy's and the session's work around it: about
1.2 ms of a worker's CPU per batch, more than the consumes' own work at a few per batch. Here
the same statements (:mod:`.consume`'s, compiled once) run on one psycopg connection per
process, pipelined:

1. ``BEGIN`` and the locking read of the keys' quota rows;
2. the decision (:func:`.consume.decide`), then the conditional UPDATEs and the usage upserts;
   a write whose condition no longer holds rolls the batch back (:class:`.StaleDecision`);
3. ``COMMIT``.

This handles the steady state only. A batch with a key that has no quota row yet (a first use,
or no such key) or that crosses 80 % or 100 % of a grant (a webhook to queue) is rolled back
and answered ``None``: the caller runs it through :func:`.consume.consume_many`. A stale
write (:class:`.StaleDecision`) is rolled back and the connection kept; any other error
closes the connection (it may be mid-transaction; PostgreSQL then rolls the transaction back)
and the next batch opens a new one.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import namedtuple_row
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from ..db import Database, connect_within
from ..fastpath.reader import libpq_url
from .consume import (
    ConsumeCall,
    ConsumeOutcome,
    Decision,
    KeyQuota,
    StaleDecision,
    decide,
    key_quota_of,
    keys_statement,
    usage_params,
    usage_statement,
    write_params,
    write_statement,
)

__all__ = ["PostgresConsumes"]

_DIALECT = PGDialect_psycopg()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class _Statement:
    """A statement as psycopg runs it: its SQL and the values of its constants."""

    sql: str
    constants: dict[str, Any]

    def params(self, values: dict[str, Any]) -> dict[str, Any]:
        return {**self.constants, **values}


def _compiled(statement: ClauseElement, column_keys: list[str] | None = None) -> _Statement:
    """``statement`` compiled for psycopg, its constants (say, a status) converted as
    SQLAlchemy would bind them."""
    compiled = statement.compile(dialect=_DIALECT, column_keys=column_keys, for_executemany=True)
    assert isinstance(compiled, SQLCompiler)
    constants = {}
    for param, name in compiled.bind_names.items():
        if not param.required:
            convert = param.type.dialect_impl(_DIALECT).bind_processor(_DIALECT)
            constants[name] = convert(param.value) if convert else param.value
    return _Statement(compiled.string, constants)


@functools.cache
def _statements() -> tuple[_Statement, _Statement, _Statement]:
    """The locking read, the conditional UPDATE and the usage upsert."""
    usage_columns = ["license_id", "day", "calls", "created_at"]
    return (
        _compiled(keys_statement(locked=True, array=True)),
        _compiled(write_statement()),
        _compiled(usage_statement("postgresql"), usage_columns),
    )


class PostgresConsumes:
    """The steady-state batches of one process (see the module docstring); one batch at a
    time (the batcher's writer runs them in turn)."""

    def __init__(self, database: Database) -> None:
        self._conninfo = libpq_url(database.engine.url)
        self._connect_args = database.connect_args
        self._connect_timeout = database.connect_timeout_seconds
        self._connection: AsyncConnection[Any] | None = None
        self._closing: set[asyncio.Task[None]] = set()
        #: Batches committed here so far (tests, statistics).
        self.batches = 0
        database.on_dispose(self.close)

    async def consume_many(
        self, calls: Sequence[ConsumeCall], now: datetime
    ) -> list[ConsumeOutcome] | None:
        """Decide and spend ``calls`` in one transaction; None (nothing done) when the batch
        needs :func:`.consume.consume_many`."""
        asked = sorted({call.key for call in calls})
        for attempt in (1, 2):
            connection = await self._connected()
            try:
                rows = await self._lock(connection, asked)
                break
            except psycopg.OperationalError:
                self._discard(connection)
                if attempt == 2 or not connection.broken:
                    raise
                # the server closed it (a restart, say); nothing was written: once more
            except BaseException:
                self._discard(connection)
                raise
        try:
            return await self._decide_and_write(connection, rows, calls, len(asked), now)
        except StaleDecision:
            raise  # rolled back, the connection ready for the next batch
        except BaseException:
            self._discard(connection)
            raise

    async def _connected(self) -> AsyncConnection[Any]:
        connection = self._connection
        if connection is None or connection.closed:
            connection = self._connection = await connect_within(
                self._connect_timeout, self._conninfo, autocommit=True, **self._connect_args
            )
        return connection

    async def _lock(self, connection: AsyncConnection[Any], keys: list[str]) -> list[Any]:
        """Begin, and read and lock the quota rows of ``keys`` (step 1, one round trip)."""
        lock = _statements()[0]
        cursor: AsyncCursor[Any] = connection.cursor(row_factory=namedtuple_row)
        async with connection.pipeline() as pipeline:
            await cursor.execute("BEGIN")
            await cursor.execute(lock.sql, lock.params({"keys": keys}))
            await pipeline.sync()
            return await cursor.fetchall()

    async def _decide_and_write(
        self,
        connection: AsyncConnection[Any],
        rows: list[Any],
        calls: Sequence[ConsumeCall],
        keys_asked: int,
        now: datetime,
    ) -> list[ConsumeOutcome] | None:
        """Steps 2 and 3 on the locked ``rows`` of the ``keys_asked`` distinct keys (None:
        rolled back, for the ORM path: some key has no row)."""
        keys: dict[str, tuple[int, KeyQuota]] = {
            row.activation_key: (row.tenant_id, key_quota_of(row)) for row in rows
        }
        decision = decide(calls, keys, now) if len(keys) == keys_asked else None
        if decision is None or decision.crossings:
            await connection.execute("ROLLBACK")
            return None
        if decision.spent:
            try:
                await self._write(connection, decision, now)
            except StaleDecision:
                await connection.execute("ROLLBACK")
                raise
        await connection.execute("COMMIT")
        self.batches += 1
        return decision.outcomes

    async def _write(
        self, connection: AsyncConnection[Any], decision: Decision, now: datetime
    ) -> None:
        """The rows' UPDATEs and the usage upserts, in one round trip (step 2)."""
        _, write, usage = _statements()
        rows: AsyncCursor[Any] = connection.cursor()
        async with connection.pipeline():
            await rows.executemany(
                write.sql, [write.params(values) for values in write_params(decision.spent, now)]
            )
            await connection.cursor().executemany(
                usage.sql, [usage.params(values) for values in usage_params(decision.usage, now)]
            )
        if rows.rowcount != len(decision.spent):
            missing = len(decision.spent) - rows.rowcount
            raise StaleDecision(f"{missing} decided write(s) no longer hold")

    def _discard(self, connection: AsyncConnection[Any]) -> None:
        """Close ``connection`` in the background (it may be mid-transaction or broken)."""
        if self._connection is connection:
            self._connection = None
        task = asyncio.get_running_loop().create_task(connection.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Close the connection (the database is being disposed of)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
