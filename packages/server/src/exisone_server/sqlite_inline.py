"""SQLite statements run on the event loop's thread, not on a driver thread.

aiosqlite runs every statement on a thread of its own: a statement costs two thread switches and
a turn of the event loop, and while a write transaction waits for those turns (the loop is busy
with other requests) it holds the database's one write lock. A write of a dozen statements then
took milliseconds of waiting for microseconds of work, and writes queued behind it.

A SQLite statement on an indexed row is microseconds of work with no network in between, so
here it runs at once, on the loop's thread, inside SQLAlchemy's usual async engine (the
``sqlite+aiosqlite`` dialect with this module's connection in place of aiosqlite's). Only what
may wait goes to a thread, so the loop never stalls on the disk or on another process:

* ``COMMIT`` (it flushes the write-ahead log to the disk: ``synchronous=FULL``);
* a statement that found the database locked by another process (``SQLITE_BUSY``): it is
  retried on a thread, under the connection's usual busy timeout;
* a ``SELECT`` that runs longer than :data:`READ_BUDGET_S` (a dashboard report over many rows):
  SQLite's progress handler stops it and it runs again on the thread. A ``SELECT`` reads all
  its rows when it runs (SQLAlchemy reads them at once anyway), so the stop never splits a
  result. Stopping a read changes nothing in the transaction it runs in.

Each connection is used by one caller at a time (SQLAlchemy's pool); what waits runs on that
connection's own thread, in order (see :class:`InlineConnection`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

__all__ = ["InlineConnection", "connect_inline"]


#: A SELECT that runs longer than this on the loop is stopped and run again on the thread.
READ_BUDGET_S = 0.002
#: SQLite virtual-machine steps between two looks at the clock during a SELECT on the loop.
_PROGRESS_STEPS = 2_000


def _select_all(cursor: sqlite3.Cursor, sql: str, parameters: Any) -> list[Any]:
    return cursor.execute(sql, parameters).fetchall()


def _busy(error: sqlite3.OperationalError) -> bool:
    return getattr(error, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class _RunNow:
    """aiosqlite's job queue as SQLAlchemy's isolation-level setter uses it: runs the job."""

    def put_nowait(self, job: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = job
        try:
            future.set_result(function())
        except Exception as error:
            future.set_exception(error)


class InlineCursor:
    """An aiosqlite-shaped cursor over a ``sqlite3`` cursor (see the module docstring)."""

    def __init__(self, connection: InlineConnection, cursor: sqlite3.Cursor) -> None:
        self._connection = connection
        self._cursor = cursor
        #: A SELECT's rows, all read when it ran (see :meth:`InlineConnection.select`).
        self._rows: deque[Any] | None = None

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        self._rows = None
        if sql.lstrip()[:6].upper() == "SELECT":
            self._rows = deque(await self._connection.select(self._cursor, sql, parameters))
        else:
            await self._connection.run(self._cursor.execute, sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        await self._connection.run(self._cursor.executemany, sql, list(parameters))
        return self

    async def fetchone(self) -> Any:
        if self._rows is not None:
            return self._rows.popleft() if self._rows else None
        return await self._connection.run(self._cursor.fetchone)

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self._cursor.arraysize if size is None else size
        if self._rows is not None:
            return [self._rows.popleft() for _ in range(min(count, len(self._rows)))]
        return await self._connection.run(self._cursor.fetchmany, count)  # type: ignore[no-any-return]

    async def fetchall(self) -> list[Any]:
        if self._rows is not None:
            rows, self._rows = list(self._rows), deque()
            return rows
        return await self._connection.run(self._cursor.fetchall)  # type: ignore[no-any-return]

    async def close(self) -> None:
        await self._connection.run(self._cursor.close)


class InlineConnection:
    """An aiosqlite-shaped connection over a ``sqlite3`` connection (module docstring).

    What must wait runs on the connection's own thread (made on first need), so a commit never
    queues behind another connection's wait for the lock. A job there is never abandoned: if
    its caller is cancelled, the job still ends, and every later call on the connection (the
    rollback that follows a cancelled ``BEGIN``, a close) runs after it, on the same thread.
    """

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        #: What SQLAlchemy's adapter checks before a commit or rollback (None once closed).
        self._connection: sqlite3.Connection | None = connection
        self._tx = _RunNow()
        self._thread: ThreadPoolExecutor | None = None
        self._last_job: Future[Any] | None = None
        #: How long a statement that found the database locked waits for it, on the thread.
        self.busy_timeout_ms = 15_000
        connection.execute("PRAGMA busy_timeout=0")  # a lock held elsewhere: wait on a thread

    def __await__(self) -> Generator[Any, None, InlineConnection]:
        async def ready() -> InlineConnection:
            return self

        return ready().__await__()

    def _thread_busy(self) -> bool:
        return self._last_job is not None and not self._last_job.done()

    async def _on_thread(self, function: Callable[..., Any], *args: Any) -> Any:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="exisone-sqlite")
        job = self._thread.submit(function, *args)
        self._last_job = job
        return await asyncio.wrap_future(job)

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` now; on the connection's thread, waiting for the lock, if
        another process holds the database locked (or a job of this connection still runs
        there)."""
        if not self._thread_busy():
            try:
                return function(*args)
            except sqlite3.OperationalError as error:
                if not _busy(error):
                    raise
        return await self._on_thread(self._waiting, function, *args)

    async def select(self, cursor: sqlite3.Cursor, sql: str, parameters: Any) -> list[Any]:
        """A SELECT's rows: read on the loop if that takes at most :data:`READ_BUDGET_S`;
        a longer read (a report over many rows) is stopped and run again on the thread."""
        if not self._thread_busy():
            deadline = time.perf_counter() + READ_BUDGET_S
            stopped = False

            def over_budget() -> bool:
                nonlocal stopped
                stopped = time.perf_counter() > deadline
                return stopped

            self._conn.set_progress_handler(over_budget, _PROGRESS_STEPS)
            try:
                return _select_all(cursor, sql, parameters)
            except sqlite3.OperationalError as error:
                if not (stopped or _busy(error)):
                    raise
            finally:
                self._conn.set_progress_handler(None, 0)
        return await self._on_thread(self._waiting, _select_all, cursor, sql, parameters)  # type: ignore[no-any-return]

    def _waiting(self, function: Callable[..., Any], *args: Any) -> Any:
        self._conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
        try:
            return function(*args)
        finally:
            self._conn.execute("PRAGMA busy_timeout=0")

    @property
    def sqlite(self) -> sqlite3.Connection:
        """The ``sqlite3`` connection, for statements run on the loop by a caller that holds
        the database's write lock (:meth:`..db.Database.driver_write`)."""
        return self._conn

    async def begin_immediate(self) -> None:
        """``BEGIN IMMEDIATE``: waits, on the thread, while another process writes."""
        await self.run(self._conn.execute, "BEGIN IMMEDIATE")

    def cursor(self) -> InlineCursor:
        return InlineCursor(self, self._conn.cursor())

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._conn.isolation_level = value  # type: ignore[assignment]

    async def commit(self, then: Callable[[], None] | None = None) -> None:
        """Commit on the connection's thread: it waits for the disk. ``then()`` runs on that
        thread right after a COMMIT that succeeded (a writer's turn dropped at once)."""
        await self._on_thread(self._commit, then)

    def _commit(self, then: Callable[[], None] | None) -> None:
        if self._conn.in_transaction:
            self._conn.commit()
        if then is not None:
            then()

    async def rollback(self) -> None:
        await self.run(self._conn.rollback)

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        await self.run(partial(self._conn.create_function, *args, **kwargs))

    async def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            await self.run(self._conn.close)
            self._stop_thread()

    def stop(self) -> None:
        """Close at once (SQLAlchemy's forced termination): after a job still running."""
        if self._connection is not None:
            self._connection = None
            if self._thread_busy() and self._thread is not None:
                self._thread.submit(self._conn.close)
            else:
                self._conn.close()
            self._stop_thread()

    def _stop_thread(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=False)  # its queued jobs still run
            self._thread = None


def connect_inline(database: str, **kwargs: Any) -> InlineConnection:
    """SQLAlchemy's ``async_creator_fn`` for the ``sqlite+aiosqlite`` dialect."""
    kwargs["check_same_thread"] = False  # a commit or a wait for the lock runs on a thread
    return InlineConnection(sqlite3.connect(database, **kwargs))
