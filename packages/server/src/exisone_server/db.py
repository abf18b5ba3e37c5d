"""The database: async engine, SQLite pragmas, write transactions that cannot race.

No engine exists at import time; :class:`Database` is built from :class:`Settings` by the app's
lifespan, the CLI or a test fixture.

Transactions:

* :meth:`Database.read` — an AUTOCOMMIT connection for lean read paths (no BEGIN/COMMIT round
  trips; each statement sees committed data).
* :meth:`Database.read_session` — the same, as an ORM session.
* :meth:`Database.write` — an ORM session in a transaction of its own. On SQLite the transaction
  starts with ``BEGIN IMMEDIATE``, so two writers never both read a seat count and then insert,
  and the writes that arrive together share one commit (:mod:`.group_commit`: each in its own
  savepoint, each caller answered after the shared commit); on PostgreSQL, services lock the
  rows they count with ``SELECT ... FOR UPDATE`` (:func:`lock_for_update`).
"""

from __future__ import annotations

import asyncio
import math
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import psycopg
import sqlalchemy.exc
from sqlalchemy import Boolean, Select, event, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from .compiled_statements import CompiledStatements, PostgresStatements, SqliteStatements
from .config import Settings
from .group_commit import WriteBatches
from .sqlite_inline import InlineConnection, connect_inline
from .statements import Statements
from .storage import prepare_storage, sqlite_path
from .writer_lock import HeldTurn, WriterLockFile

__all__ = [
    "Database",
    "connect_within",
    "create_engine",
    "insert_for",
    "lock_for_update",
    "postgres_connect_args",
    "sqlite_file",
]

#: Execution option that makes the SQLite "begin" hook emit nothing (see Database.read).
_SQLITE_NO_BEGIN = "exisone_no_begin"

#: Milliseconds a SQLite writer waits for the lock before failing with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 15_000


def create_engine(settings: Settings) -> AsyncEngine:
    """An async engine for the configured URL (SQLite file or PostgreSQL). Its errors never
    show the statement's parameters (keys, e-mails), so a logged traceback cannot either."""
    prepare_storage(settings)
    if settings.is_sqlite:
        engine = create_async_engine(
            settings.database_url,
            hide_parameters=True,
            connect_args={"async_creator_fn": connect_inline},
        )
        _configure_sqlite(engine, settings.sqlite_synchronous)
        return engine
    return create_async_engine(
        settings.database_url,
        pool_pre_ping=True,
        hide_parameters=True,
        connect_args={
            **postgres_connect_args(settings),
            "async_creator_fn": partial(connect_within, settings.database_connect_timeout_seconds),
        },
    )


async def connect_within(
    seconds: float | None, conninfo: str = "", **kwargs: Any
) -> psycopg.AsyncConnection[Any]:
    """psycopg's connect, given up after ``seconds`` (libpq's own ``connect_timeout`` waits 2 s
    at least, and a host whose packets to PostgreSQL are dropped would wait it all)."""
    if seconds is None:
        return await psycopg.AsyncConnection.connect(conninfo, **kwargs)
    try:
        async with asyncio.timeout(seconds):
            return await psycopg.AsyncConnection.connect(conninfo, **kwargs)
    except TimeoutError:
        raise psycopg.OperationalError(
            f"connection to PostgreSQL timed out after {seconds:g} s"
        ) from None


def postgres_connect_args(settings: Settings) -> dict[str, Any]:
    """libpq parameters that keep a lost PostgreSQL from hanging a request: a connect timeout
    (libpq's minimum is 2 s; :func:`connect_within` enforces shorter ones), ``tcp_user_timeout``
    (sent data unacknowledged this long: the connection is dead) and a ``statement_timeout``."""
    args: dict[str, Any] = {
        "connect_timeout": max(2, math.ceil(settings.database_connect_timeout_seconds)),
        "tcp_user_timeout": max(1, round(settings.database_tcp_user_timeout_seconds * 1000)),
    }
    statement_ms = round(settings.database_statement_timeout_seconds * 1000)
    if statement_ms:
        given = make_url(settings.database_url).query.get("options") or ""
        given = given if isinstance(given, str) else " ".join(given)
        args["options"] = f"{given} -c statement_timeout={statement_ms}".strip()
    return args


def _configure_sqlite(engine: AsyncEngine, synchronous: str) -> None:
    """WAL, busy timeout, foreign keys; SQLAlchemy (not the driver) issues BEGIN IMMEDIATE."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        # Stop the driver from emitting its own (deferred) BEGIN; the "begin" hook does it.
        dbapi_connection.isolation_level = None
        # A lock held by another process is waited for on the connection's thread.
        dbapi_connection.driver_connection.busy_timeout_ms = SQLITE_BUSY_TIMEOUT_MS
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(_SQLITE_NO_BEGIN):
            return  # read(): the driver is in autocommit mode, every statement stands alone
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def lock_for_update(statement: Select[Any]) -> Select[Any]:
    """Add ``FOR UPDATE`` (PostgreSQL); SQLite ignores it and relies on BEGIN IMMEDIATE."""
    return statement.with_for_update()


class _OnSqliteOnly(ColumnElement[bool]):
    """A condition rendered on SQLite only (:func:`on_sqlite_only`)."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a condition as it stands, not a column to compare with 1
    _traverse_internals = [("condition", InternalTraversal.dp_clauseelement)]  # noqa: RUF012

    def __init__(self, condition: ColumnElement[bool]) -> None:
        self.condition = condition


@compiles(_OnSqliteOnly)
def _true_elsewhere(element: _OnSqliteOnly, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(true(), **kw))


@compiles(_OnSqliteOnly, "sqlite")
def _the_condition_on_sqlite(element: _OnSqliteOnly, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.condition, **kw))


def on_sqlite_only(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """``condition`` on SQLite, TRUE elsewhere: a redundant condition that lets SQLite's
    planner search an index, where PostgreSQL's would pick a worse plan for it."""
    return _OnSqliteOnly(condition)


def insert_for(dialect: str) -> Callable[[Any], sqlite.Insert | postgresql.Insert]:
    """``insert`` of the dialect (SQLite or PostgreSQL): the one with ``ON CONFLICT`` clauses."""
    return sqlite.insert if dialect == "sqlite" else postgresql.insert


def sqlite_file(engine: AsyncEngine) -> str | None:
    """The path of the engine's SQLite database file; None for PostgreSQL and for in-memory
    or URI (``file:``) SQLite databases."""
    return sqlite_path(engine.url)


def _writer_lock_file(engine: AsyncEngine) -> WriterLockFile | None:
    """The lock file of a SQLite database file; none for PostgreSQL, an in-memory database, or
    a system without ``flock`` (there SQLite's busy handler alone orders the processes)."""
    database = sqlite_file(engine)
    return WriterLockFile(database) if database and os.name == "posix" else None


def _database_is_locked() -> sqlalchemy.exc.OperationalError:
    """What SQLite raises when a writer waited out its busy timeout."""
    return sqlalchemy.exc.OperationalError(
        "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
    )


class Database:
    """The engine plus the two ways of using it."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        group_commit: bool = True,
        connect_args: dict[str, Any] | None = None,
        connect_timeout_seconds: float | None = None,
        replica_urls: tuple[str, ...] = (),
    ) -> None:
        self.engine = engine
        #: libpq parameters of the PostgreSQL connections made beside the engine (fast path),
        #: and the seconds they may take to open (:func:`connect_within`).
        self.connect_args = dict(connect_args or {})
        self.connect_timeout_seconds = connect_timeout_seconds
        #: Streaming replicas validate's reads may use (PostgreSQL URLs).
        self.replica_urls = replica_urls
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        #: The hot batches' statements, compiled for this engine (:meth:`driver_write`).
        self.compiled = CompiledStatements(engine.dialect)
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self._sqlite_writer = asyncio.Lock()
        self._writer_lock_file = _writer_lock_file(engine)
        #: SQLite's shared commits; None: one commit per write (PostgreSQL, or switched off).
        self.write_batches = (
            WriteBatches(
                engine,
                self._write_turn,
                wait_seconds=lambda: SQLITE_BUSY_TIMEOUT_MS / 1000,
                locked=_database_is_locked,
            )
            if group_commit and engine.dialect.name == "sqlite"
            else None
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(
            create_engine(settings),
            group_commit=settings.sqlite_group_commit,
            connect_args={} if settings.is_sqlite else postgres_connect_args(settings),
            connect_timeout_seconds=settings.database_connect_timeout_seconds,
            replica_urls=settings.database_replica_urls,
        )

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """An AUTOCOMMIT connection for reads (and single-statement writes)."""
        async with self.engine.connect() as connection:
            if self.dialect == "sqlite":
                # Not isolation_level=AUTOCOMMIT: SQLAlchemy's pysqlite dialect would re-enable
                # the driver's own BEGIN when resetting the level on return to the pool.
                yield await connection.execution_options(**{_SQLITE_NO_BEGIN: True})
            else:
                yield await connection.execution_options(isolation_level="AUTOCOMMIT")

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """An ORM session on a :meth:`read` connection: for reads only, nothing is committed."""
        async with (
            self.read() as connection,
            AsyncSession(bind=connection, expire_on_commit=False, autoflush=False) as session,
        ):
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed on success, rolled back on any exception.

        On SQLite, one write transaction at a time: the others wait their turn here, in
        order within a process and through :mod:`.writer_lock` between processes, instead
        of in SQLite's busy handler, which sleeps in growing steps (up to 100 ms) and let
        concurrent activations wait seconds. Waiting here is bounded by the same busy
        timeout, then fails as SQLite would ("database is locked"). The writes waiting in a
        process share one commit (:mod:`.group_commit`).
        """
        if self.write_batches is not None:
            async with self.write_batches.write() as session:
                yield session
            return
        async with self._write_turn(), self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def driver_write(self) -> AsyncIterator[Statements]:
        """A write transaction of its own on the driver's connection, for hot batches whose
        Core statements are compiled once (:mod:`.compiled_statements`) rather than run
        through SQLAlchemy: committed when the block ends, rolled back on an exception. On
        SQLite it begins (``BEGIN IMMEDIATE``) in this process's write turn, as :meth:`write`
        takes it, and shares no commit with :meth:`write`'s batches. No ORM session: what
        needs one raises :class:`.statements.NeedsSession`."""
        async with self._write_turn() as turn, self.engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            statements: Statements
            if isinstance(driver, InlineConnection):
                await driver.begin_immediate()
                statements = SqliteStatements(driver.sqlite, self.compiled)
            else:  # psycopg begins a transaction with the first statement
                assert isinstance(driver, psycopg.AsyncConnection)
                statements = PostgresStatements(driver, self.compiled)
            try:
                yield statements
            except BaseException:
                await driver.rollback()
                raise
            if isinstance(driver, InlineConnection):
                await driver.commit(then=turn.drop)  # other processes may write at once
            else:
                await driver.commit()

    @asynccontextmanager
    async def _write_turn(self) -> AsyncIterator[HeldTurn]:
        """This process's turn to write on SQLite (see :meth:`write`); at once on PostgreSQL.
        Other processes may write once the turn's lock file is dropped (:meth:`HeldTurn.drop`,
        at the latest when the block ends); this process's writers wait for the block."""
        if self.dialect != "sqlite":
            yield HeldTurn(None)
            return
        lock_file, fd = self._writer_lock_file, None
        try:
            async with asyncio.timeout(SQLITE_BUSY_TIMEOUT_MS / 1000):
                await self._sqlite_writer.acquire()
                try:
                    fd = await lock_file.acquire() if lock_file else None
                except BaseException:
                    self._sqlite_writer.release()
                    raise
        except TimeoutError:
            raise _database_is_locked() from None
        turn = HeldTurn(fd)
        try:
            yield turn
        finally:
            turn.drop()
            self._sqlite_writer.release()

    def on_dispose(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Run ``closer`` when the database is disposed of (e.g. the fast path's connections)."""
        self._closers.append(closer)

    async def dispose(self) -> None:
        while self._closers:
            await self._closers.pop()()
        await self.engine.dispose()
