"""SQLite statements run on the event loop's thread (exisone_server.sqlite_inline); what may
wait (a lock another process holds) waits on a thread, and the loop keeps serving."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from exisone_server.db import Database, insert_for, sqlite_file
from exisone_server.kit.time import utc_now
from exisone_server.models import RateLimitCounter
from exisone_server.sqlite_inline import InlineConnection

from .helpers import counters_in


def _sqlite_path(database: Database) -> str:
    path = sqlite_file(database.engine)
    if path is None:
        pytest.skip("the inline driver is SQLite's")
    return path


async def _add_counter(database: Database, session: AsyncSession, scope: str) -> None:
    await session.execute(
        insert_for(database.dialect)(RateLimitCounter).values(
            scope=scope, key="k", window_start=0, count=1, created_at=utc_now()
        )
    )


async def test_statements_run_on_the_event_loop_s_thread(database: Database) -> None:
    _sqlite_path(database)
    async with database.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, InlineConnection)
        driver._conn.create_function("thread_ident", 0, threading.get_ident)
        ident = await connection.scalar(text("SELECT thread_ident()"))
    assert ident == threading.get_ident()


async def _ticks_while(task: asyncio.Task[None], seconds: float) -> int:
    ticks = 0
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
        ticks += 1
    assert not task.done()
    return ticks


async def test_a_write_waits_for_another_process_s_lock_on_a_thread(database: Database) -> None:
    outsider = sqlite3.connect(_sqlite_path(database), isolation_level=None)
    outsider.execute("BEGIN IMMEDIATE")  # holds the write lock, as another program would

    async def write() -> None:
        async with database.write() as session:
            await _add_counter(database, session, "inline-busy")

    writing = asyncio.create_task(write())
    try:
        ticks = await _ticks_while(writing, 0.5)
        assert ticks >= 20  # the loop kept turning while the write waited for the lock
    finally:
        outsider.execute("COMMIT")
        outsider.close()
    await asyncio.wait_for(writing, 10)
    assert await counters_in(database, "inline-busy") == 1


async def test_a_statement_error_reaches_the_caller_and_the_connection_stays_usable(
    database: Database,
) -> None:
    _sqlite_path(database)
    async with database.engine.connect() as connection:
        with pytest.raises(Exception, match="no such table"):
            await connection.execute(text("SELECT * FROM no_such_table"))
        await connection.rollback()
        assert await connection.scalar(text("SELECT 41 + 1")) == 42


_SLOW_COUNT = (
    "SELECT thread_ident(), (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
    "WHERE x < 3000000) SELECT count(*) FROM c)"
)


async def test_a_long_read_moves_to_a_thread_and_the_transaction_keeps_its_writes(
    database: Database,
) -> None:
    _sqlite_path(database)
    async with database.write() as session:
        await _add_counter(database, session, "inline-long")
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, InlineConnection)
        driver._conn.create_function("thread_ident", 0, threading.get_ident)
        reading = asyncio.ensure_future(connection.execute(text(_SLOW_COUNT)))
        ticks = 0
        while not reading.done():
            await asyncio.sleep(0.005)
            ticks += 1
        ident, count = (await reading).one()
        quick = await connection.scalar(text("SELECT thread_ident()"))
    assert count == 3_000_000
    assert ident != threading.get_ident()  # stopped on the loop, read again on the thread
    assert ticks >= 3  # the loop kept turning meanwhile
    assert quick == threading.get_ident()  # a short read stays on the loop
    assert await counters_in(database, "inline-long") == 1
