"""One :class:`FastReader` per :class:`~exisone_server.db.Database` (so per worker process).

``fast_reader(database)`` makes it on first use, in the process and event loop that use it, and
``Database.dispose`` closes it. On SQLite, validate's rows are kept between validations while
the database's change mark stays the same (:mod:`.row_cache`): a repeat validation reads the
mark only. SQLite: one ``sqlite3`` connection in autocommit mode with
``query_only`` on; each statement reads the latest committed data (WAL readers never wait for
the writer). PostgreSQL: a few autocommit psycopg connections in a queue (one round trip per
read; while a read is in flight, the validations that arrive share the next one). A SQLite
database that a second connection cannot open (in memory) is read through its engine, with the
same statements.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, NamedTuple, Protocol

import psycopg
from psycopg import AsyncConnection, AsyncCursor
from psycopg.pq import TransactionStatus
from sqlalchemy.engine import URL, make_url

from ..db import Database, connect_within, sqlite_file
from .queries import (
    KEY_ROWS,
    SQLITE_CHANGE_MARK,
    TOKEN,
    TOKEN_AND_ONLINE_KEY,
    TOKEN_AND_ONLINE_KEYS,
    for_sqlite,
)
from .row_cache import RowCache
from .wal_mark import WalHeaderMark, wal_header_mark

__all__ = [
    "FastReader",
    "OnlineKeyRow",
    "PostgresReader",
    "TokenRow",
    "fast_reader",
    "libpq_url",
]

#: PostgreSQL connections of one process's fast reader, on top of SQLAlchemy's (up to 15). Each
#: read is one short round trip, so a few connections serve many concurrent requests; 10 made
#: four processes exceed PostgreSQL's default max_connections (100) under concurrent activations.
POSTGRES_CONNECTIONS = 4
#: A reader waits this long for a locked SQLite file (only during WAL recovery).
SQLITE_BUSY_TIMEOUT_MS = 2_000
#: The fast reader maps up to this much of the database file: page reads become memory reads
#: instead of a ``pread`` and a copy into SQLite's 2 MB page cache each. The pages are the OS
#: page cache's own (file-backed, shared by the workers), not memory of the process.
SQLITE_MMAP_BYTES = 1 << 30
#: Most validations one batched statement reads (the waiting ones beyond wait for the next).
POSTGRES_BATCH = 64

_ValidationArgs = tuple[str, str, str]  # hardware ID, activation key, token public id
#: Validate's rows: the token's (None: unknown token) and the key's (none: unknown key). The
#: same objects may be handed to many validations: they are never changed.
ValidationRows = tuple["TokenRow | None", "list[OnlineKeyRow]"]
_Waiting = tuple[_ValidationArgs, "asyncio.Future[list[tuple[Any, ...]]]"]


class TokenRow(NamedTuple):
    id: int
    tenant_id: int
    name: str
    secret_hash: str
    permissions: list[str]
    expires_at: datetime | None
    revoked: bool


class OnlineKeyRow(NamedTuple):
    status: str
    expires_at: datetime | None
    product_name: str
    version: str | None
    minimum_required_version: str | None
    enforce_version_check: bool
    product_active: bool
    bound: bool
    #: The plan's days of grace after expiry (0 without a plan).
    grace_days: int
    #: The plan's check-in period in days (None: none).
    check_in_days: int | None
    floating: bool
    #: When the device's lease of the license runs out (the latest not ended; None: none).
    lease_expires_at: datetime | None
    feature: str | None


class FastReader(Protocol):
    """The reads of the hot path."""

    async def token(self, public_id: str) -> TokenRow | None: ...

    async def online_key_rows(
        self, tenant_id: int, activation_key: str, hardware_id: str
    ) -> list[OnlineKeyRow]: ...

    async def token_and_online_key(
        self, public_id: str, activation_key: str, hardware_id: str
    ) -> tuple[TokenRow | None, list[OnlineKeyRow]]:
        """The token's row and the key's rows in the token's tenant (validate's reads)."""
        ...

    async def close(self) -> None: ...


def _utc(value: Any) -> datetime | None:
    """A stored timestamp as aware UTC (SQLite keeps naive UTC text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _permissions(value: Any) -> list[str]:
    if isinstance(value, str):
        value = json.loads(value)
    return [str(item) for item in value or ()]


def _token(row: Sequence[Any] | None) -> TokenRow | None:
    if row is None:
        return None
    return TokenRow(
        row[0], row[1], row[2], row[3], _permissions(row[4]), _utc(row[5]), bool(row[6])
    )


def _online_key(row: Sequence[Any]) -> OnlineKeyRow:
    return OnlineKeyRow(
        row[0],
        _utc(row[1]),
        row[2],
        row[3],
        row[4],
        bool(row[5]),
        bool(row[6]),
        bool(row[7]),
        int(row[8] or 0),
        row[9],
        bool(row[10]),
        _utc(row[11]),
        row[12],
    )


def _token_and_key_rows(
    rows: Sequence[Sequence[Any]],
) -> tuple[TokenRow | None, list[OnlineKeyRow]]:
    """Split the joined rows: no row is an unknown token; a NULL status, an unknown key."""
    if not rows:
        return None, []
    return _token(rows[0]), [_online_key(row[7:]) for row in rows if row[7] is not None]


def _batchable(args: _ValidationArgs) -> bool:
    """Whether a validation may share a statement: one whose text PostgreSQL would refuse
    (a NUL) or the client could not encode (a lone surrogate) must fail alone."""
    return all(value.isascii() and "\x00" not in value for value in args)


class ReaderClosed(RuntimeError):
    """The fast reader closed (the worker shuts down) while a validation waited for it."""


def _settle(batch: Sequence[_Waiting], outcome: list[tuple[Any, ...]] | Exception) -> None:
    """Hand each validation still waiting its rows (without the position column) or the
    error."""
    rows_of: dict[int, list[tuple[Any, ...]]] = {}
    if isinstance(outcome, list):
        for row in outcome:
            rows_of.setdefault(row[0], []).append(row[1:])
    for position, (_, waiting) in enumerate(batch, start=1):
        if waiting.done():
            continue
        if isinstance(outcome, Exception):
            waiting.set_exception(outcome)
        else:
            waiting.set_result(rows_of.get(position, []))


class SqliteReader:
    """Synchronous ``sqlite3`` calls on the event loop: microseconds, no thread hand-off."""

    def __init__(self, path: str) -> None:
        self._connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        self._connection.execute("PRAGMA query_only=ON")
        self._connection.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        self._token_sql = for_sqlite(TOKEN)
        self._key_rows_sql = for_sqlite(KEY_ROWS)
        self._token_and_key_sql = for_sqlite(TOKEN_AND_ONLINE_KEY)
        self.cache: RowCache[ValidationRows] = RowCache()
        # A first read opens the WAL index (the -shm file), which the mark then maps.
        self._connection.execute(SQLITE_CHANGE_MARK).fetchone()
        self._wal_mark: WalHeaderMark | None = wal_header_mark(path)

    def change_mark(self) -> object:
        """The WAL-index header, or ``PRAGMA data_version`` when it cannot be mapped."""
        if self._wal_mark is not None:
            return self._wal_mark()
        return self._connection.execute(SQLITE_CHANGE_MARK).fetchone()[0]

    async def token(self, public_id: str) -> TokenRow | None:
        return _token(self._connection.execute(self._token_sql, (public_id,)).fetchone())

    async def online_key_rows(
        self, tenant_id: int, activation_key: str, hardware_id: str
    ) -> list[OnlineKeyRow]:
        rows = self._connection.execute(
            self._key_rows_sql, (hardware_id, hardware_id, tenant_id, activation_key)
        ).fetchall()
        return [_online_key(row) for row in rows]

    async def token_and_online_key(
        self, public_id: str, activation_key: str, hardware_id: str
    ) -> tuple[TokenRow | None, list[OnlineKeyRow]]:
        args = (hardware_id, activation_key, public_id)
        mark = self.change_mark()
        kept = self.cache.get(mark, args)
        if kept is not None:
            return kept
        found = _token_and_key_rows(
            self._connection.execute(self._token_and_key_sql, (hardware_id, *args)).fetchall()
        )
        self.cache.put(mark, args, found)
        return found

    async def close(self) -> None:
        self._connection.close()
        self._wal_mark = None  # the mapping stays the process's (wal_mark: POSIX locks)


class PostgresReader:
    """Up to :data:`POSTGRES_CONNECTIONS` autocommit psycopg connections in a plain queue,
    opened on demand, each with one cursor that is reused and prepared statements.

    A queue instead of psycopg_pool's check-out (which checks, times and resets each
    connection) and a kept cursor halve the client-side cost of a read (docs/benchmarks.md).
    A connection that is broken, or left mid-query by a cancelled request, is closed and
    replaced by a new one on a later read.

    A validation (:meth:`token_and_online_key`) reads alone only when no other read is in
    flight; otherwise it waits in a list, and one task reads the list, up to
    :data:`POSTGRES_BATCH` at a time, with one statement (TOKEN_AND_ONLINE_KEYS): under load a
    worker pays one round trip, and PostgreSQL one statement, for many validations; at low load
    nothing waits (docs/benchmarks.md).
    """

    def __init__(
        self,
        conninfo: str,
        connect_args: dict[str, Any] | None = None,
        connect_timeout_seconds: float | None = None,
    ) -> None:
        self._conninfo = conninfo
        self._connect_args = dict(connect_args or {})
        self._connect_timeout = connect_timeout_seconds
        self._slots = asyncio.Semaphore(POSTGRES_CONNECTIONS)
        self._idle: list[tuple[AsyncConnection[Any], AsyncCursor[Any]]] = []
        self._open: set[AsyncConnection[Any]] = set()
        self._closing: set[asyncio.Task[None]] = set()
        self._waiting: list[_Waiting] = []
        self._batcher: asyncio.Task[None] | None = None
        self._reading = 0  # reads in flight (holding or waiting for a connection)
        self._closed = False
        #: Batched statements run so far, and the validations they read (tests, statistics).
        self.batches = 0
        self.batched_validations = 0

    async def _acquire(self) -> tuple[AsyncConnection[Any], AsyncCursor[Any]]:
        """An idle connection, or a new one while fewer than the maximum are open (a slot is
        held from here until :meth:`_release`)."""
        if self.is_closed():
            raise ReaderClosed()
        await self._slots.acquire()
        if self._idle:
            return self._idle.pop()
        try:
            connection = await connect_within(
                self._connect_timeout, self._conninfo, autocommit=True, **self._connect_args
            )
        except BaseException:
            self._slots.release()
            raise
        if self.is_closed():  # the reader closed while this connection was being made
            self._slots.release()
            await connection.close()
            raise ReaderClosed()
        self._open.add(connection)
        return connection, connection.cursor()

    def is_closed(self) -> bool:
        """Whether :meth:`close` ran (reads then fail with :class:`ReaderClosed`)."""
        return self._closed

    def _release(self, connection: AsyncConnection[Any], cursor: AsyncCursor[Any]) -> None:
        self._slots.release()
        if (
            self._closed
            or connection.closed
            or connection.info.transaction_status != TransactionStatus.IDLE
        ):
            self._open.discard(connection)  # broken, or cancelled mid-query: not reusable
            if not connection.closed:
                self._close_later(connection)
            return
        self._idle.append((connection, cursor))

    async def _fetch(self, statement: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """Run a read; once more on a new connection if the server closed this one (after a
        PostgreSQL restart, say: reads are safe to repeat)."""
        self._reading += 1
        try:
            for attempt in (1, 2):
                connection, cursor = await self._acquire()
                try:
                    await cursor.execute(statement, params, prepare=True)
                    return await cursor.fetchall()
                except psycopg.OperationalError:
                    if attempt == 2 or not connection.broken:
                        raise
                    self._drop_idle()  # the server went away: its other connections are dead
                finally:
                    self._release(connection, cursor)
        finally:
            self._reading -= 1
        raise AssertionError("unreachable")  # pragma: no cover

    def _drop_idle(self) -> None:
        idle, self._idle = self._idle, []
        for connection, _ in idle:
            self._open.discard(connection)
            self._close_later(connection)

    def _close_later(self, connection: AsyncConnection[Any]) -> None:
        closing = asyncio.get_running_loop().create_task(connection.close())
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def token(self, public_id: str) -> TokenRow | None:
        rows = await self._fetch(TOKEN, (public_id,))
        return _token(rows[0] if rows else None)

    async def online_key_rows(
        self, tenant_id: int, activation_key: str, hardware_id: str
    ) -> list[OnlineKeyRow]:
        rows = await self._fetch(KEY_ROWS, (hardware_id, hardware_id, tenant_id, activation_key))
        return [_online_key(row) for row in rows]

    async def token_and_online_key(
        self, public_id: str, activation_key: str, hardware_id: str
    ) -> tuple[TokenRow | None, list[OnlineKeyRow]]:
        """One round trip (TOKEN_AND_ONLINE_KEY) when no other read is in flight, else a place
        in the next batch. Nothing is kept between validations: knowing that kept rows are
        still current would cost a round trip too (docs/design.md)."""
        args = (hardware_id, activation_key, public_id)
        if (self._reading == 0 and not self._waiting) or not _batchable(args):
            rows = await self._fetch(TOKEN_AND_ONLINE_KEY, (hardware_id, *args))
            return _token_and_key_rows(rows)
        loop = asyncio.get_running_loop()
        waiting: asyncio.Future[list[tuple[Any, ...]]] = loop.create_future()
        self._waiting.append((args, waiting))
        if self._batcher is None:
            self._batcher = loop.create_task(self._read_batches())
        return _token_and_key_rows(await waiting)

    async def _read_batches(self) -> None:
        """Read the waiting validations, a batch per round trip, until none waits."""
        try:
            while self._waiting:
                batch = self._waiting[:POSTGRES_BATCH]
                del self._waiting[:POSTGRES_BATCH]
                batch = [item for item in batch if not item[1].done()]  # cancelled requests
                if not batch:
                    continue
                self.batches += 1
                self.batched_validations += len(batch)
                columns = tuple([args[i] for args, _ in batch] for i in range(3))
                try:
                    rows = await self._fetch(TOKEN_AND_ONLINE_KEYS, columns)
                except Exception as exc:
                    _settle(batch, exc)
                except BaseException:  # cancelled: the reader closes
                    _settle(batch, ReaderClosed())
                    raise
                else:
                    _settle(batch, rows)
        finally:
            self._batcher = None
            self._fail_waiting()

    def _fail_waiting(self) -> None:
        waiting, self._waiting = self._waiting, []
        _settle(waiting, ReaderClosed())

    async def close(self) -> None:
        self._closed = True  # later reads fail; connections still being made are closed
        self._idle = []
        batcher, self._batcher = self._batcher, None
        self._fail_waiting()  # also when the batcher is cancelled before it ever ran
        if batcher is not None:
            batcher.cancel()
            await asyncio.gather(batcher, return_exceptions=True)
        connections, self._open = self._open, set()
        for connection in connections:
            await connection.close()


class EngineReader:
    """The same statements through the database's SQLAlchemy engine: for the SQLite databases
    a second connection cannot open (in memory, ``file:`` URIs)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def _fetch(self, statement: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        async with self._database.read() as connection:
            result = await connection.exec_driver_sql(for_sqlite(statement), params)
            return [tuple(row) for row in result.all()]

    async def token(self, public_id: str) -> TokenRow | None:
        rows = await self._fetch(TOKEN, (public_id,))
        return _token(rows[0] if rows else None)

    async def online_key_rows(
        self, tenant_id: int, activation_key: str, hardware_id: str
    ) -> list[OnlineKeyRow]:
        rows = await self._fetch(KEY_ROWS, (hardware_id, hardware_id, tenant_id, activation_key))
        return [_online_key(row) for row in rows]

    async def token_and_online_key(
        self, public_id: str, activation_key: str, hardware_id: str
    ) -> tuple[TokenRow | None, list[OnlineKeyRow]]:
        rows = await self._fetch(
            TOKEN_AND_ONLINE_KEY, (hardware_id, hardware_id, activation_key, public_id)
        )
        return _token_and_key_rows(rows)

    async def close(self) -> None:
        return None


#: The attribute of a Database that holds its reader (a plain attribute: a dict lookup per
#: request, where a WeakKeyDictionary made a weak reference on every call).
_ATTRIBUTE = "_exisone_fast_reader"


def _make_reader(database: Database) -> FastReader:
    if database.dialect == "postgresql":
        return PostgresReader(
            libpq_url(database.engine.url),
            database.connect_args,
            database.connect_timeout_seconds,
        )
    path = sqlite_file(database.engine)
    return SqliteReader(path) if path else EngineReader(database)


def libpq_url(url: URL | str) -> str:
    """A SQLAlchemy PostgreSQL URL as libpq reads it (password included)."""
    return make_url(url).set(drivername="postgresql").render_as_string(False)


def fast_reader(database: Database) -> FastReader:
    """The database's reader, made on first use (in the process and event loop using it)."""
    try:
        reader: FastReader = database.__dict__[_ATTRIBUTE]
        return reader
    except KeyError:
        pass
    reader = _make_reader(database)
    setattr(database, _ATTRIBUTE, reader)
    database.on_dispose(reader.close)
    return reader
