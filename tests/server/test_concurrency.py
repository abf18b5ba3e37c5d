"""Concurrent requests never break the seat and trial invariants (in-process, both databases)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import sys
import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from exisone_server.models import Activation, Trial
from exisone_server.sqlite_inline import InlineConnection
from exisone_server.writer_lock import HeldTurn

from .helpers import activate_body
from .seeding import Seed

ATTEMPTS = 24


async def test_concurrent_activations_never_exceed_max_seats(seed: Seed) -> None:
    product = await seed.product()
    license = await seed.license(product, is_corporate=True, max_seats=5)

    responses = await asyncio.gather(
        *(
            seed.api.post("/api/license/activate", activate_body(license, product, f"dev-{n}"))
            for n in range(ATTEMPTS)
        )
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * 5 + [409] * (ATTEMPTS - 5), [r.text for r in responses]
    assert {r.json()["error"] for r in responses if r.status_code == 409} == {"seat_limit_reached"}
    async with seed.database.read_session() as session:
        active = await session.scalar(
            select(func.count())
            .select_from(Activation)
            .where(Activation.license_id == license.id, Activation.deactivated_at.is_(None))
        )
    assert active == 5


async def test_concurrent_activations_of_one_device_make_one_activation(seed: Seed) -> None:
    product = await seed.product()
    license = await seed.license(product)

    responses = await asyncio.gather(
        *(
            seed.api.post("/api/license/activate", activate_body(license, product, "same"))
            for _ in range(12)
        )
    )

    assert all(response.status_code == 200 for response in responses)
    assert sum(not response.json()["alreadyActivated"] for response in responses) == 1
    async with seed.database.read_session() as session:
        count = await session.scalar(
            select(func.count()).select_from(Activation).where(Activation.license_id == license.id)
        )
    assert count == 1


async def test_concurrent_first_trial_visits_make_one_trial(seed: Seed) -> None:
    product = await seed.product(trial_days=10)
    body = {"hardwareId": "dev", "productName": product.name}

    responses = await asyncio.gather(
        *(seed.api.post("/api/license/validate", body) for _ in range(12))
    )

    assert {response.json()["status"] for response in responses} == {"trial"}
    assert len({response.json()["expirationDate"] for response in responses}) == 1
    async with seed.database.read_session() as session:
        count = await session.scalar(
            select(func.count()).select_from(Trial).where(Trial.product_id == product.id)
        )
    assert count == 1


async def test_sqlite_write_transactions_take_turns_in_order(seed: Seed) -> None:
    """One SQLite write transaction at a time per process, in arrival order: none waits in
    SQLite's sleeping busy handler, none fails with "database is locked"."""
    if seed.database.dialect != "sqlite":
        pytest.skip("PostgreSQL writers run side by side (row locks)")
    order: list[int] = []

    async def write(n: int) -> None:
        async with seed.database.write() as session:
            order.append(n)
            await session.execute(select(1))
            await asyncio.sleep(0.01)  # hold the transaction across an await
            order.append(n)

    started = asyncio.get_running_loop().time()
    await asyncio.gather(*(write(n) for n in range(30)))
    elapsed = asyncio.get_running_loop().time() - started

    assert order == [n for n in range(30) for _ in (0, 1)]  # never two at once, FIFO
    assert elapsed < 3  # 30 x 10 ms plus overhead, no busy-handler sleeps


async def test_a_sqlite_writer_waits_no_longer_than_the_busy_timeout(
    seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy.exc

    from exisone_server import db

    if seed.database.dialect != "sqlite":
        pytest.skip("PostgreSQL has no database-wide write lock")
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    async with seed.database.write():
        with pytest.raises(sqlalchemy.exc.OperationalError, match="database is locked"):
            async with seed.database.write():
                pass  # pragma: no cover
    async with seed.database.write() as session:  # the lock was not left taken
        assert (await session.execute(select(1))).scalar() == 1


# Another server process on the same SQLite file, reduced to its write turn: it takes the
# writer lock file, says so, and keeps it until told to let go.
_OTHER_PROCESS = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.readline()
"""


def _sqlite_on_posix(seed: Seed) -> None:
    if seed.database.dialect != "sqlite":
        pytest.skip("PostgreSQL has no database-wide write lock")
    if os.name != "posix":
        pytest.skip("the writer lock file needs flock (POSIX)")


async def _other_process_writing(seed: Seed) -> asyncio.subprocess.Process:
    _sqlite_on_posix(seed)
    lock_path = f"{seed.database.engine.url.database}-writer.lock"
    other = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _OTHER_PROCESS,
        lock_path,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert other.stdout is not None
    assert await asyncio.wait_for(other.stdout.readline(), 10) == b"locked\n"
    return other


async def _let_go(other: asyncio.subprocess.Process) -> None:
    assert other.stdin is not None
    other.stdin.write(b"\n")
    await other.stdin.drain()
    await asyncio.wait_for(other.wait(), 10)


async def test_a_sqlite_writer_waits_for_another_server_process_s_turn(seed: Seed) -> None:
    other = await _other_process_writing(seed)
    try:

        async def write() -> int:
            async with seed.database.write() as session:
                return int((await session.execute(select(1))).scalar_one())

        writing = asyncio.create_task(write())
        await asyncio.sleep(0.3)
        assert not writing.done()  # the other process's turn
    finally:
        await _let_go(other)
    assert await asyncio.wait_for(writing, 5) == 1


async def test_a_turn_given_up_on_timeout_is_not_kept_once_it_comes(
    seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy.exc

    from exisone_server import db

    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    other = await _other_process_writing(seed)
    try:
        with pytest.raises(sqlalchemy.exc.OperationalError, match="database is locked"):
            async with seed.database.write():
                pass  # pragma: no cover
    finally:
        await _let_go(other)
    # The abandoned wait gets the lock when the other process lets go, and drops it at once:
    # a third process takes it, then this one writes again.
    third = await _other_process_writing(seed)
    await _let_go(third)
    async with asyncio.timeout(10), seed.database.write() as session:
        assert (await session.execute(select(1))).scalar() == 1


def _lock_is_free(lock_path: str) -> bool:
    """Whether another holder (another open file, as another process's) could take the lock."""
    import fcntl  # POSIX: the callers skip elsewhere

    fd = os.open(lock_path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


async def test_a_driver_batch_lets_other_processes_write_once_it_committed(
    seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The turn's lock file is dropped on the connection's thread right after COMMIT, not when
    the event loop next runs the batch; a batch that fails, and a write batch's shared commit,
    drop it when the block ends (for activations, handing the turn over early let the other
    process in before this one's batch had grown: fewer activations per second)."""
    _sqlite_on_posix(seed)
    lock_path = f"{seed.database.engine.url.database}-writer.lock"
    drops: list[tuple[str, bool]] = []
    drop = HeldTurn.drop

    def recorded(turn: HeldTurn) -> None:
        drop(turn)
        drops.append((threading.current_thread().name, _lock_is_free(lock_path)))

    monkeypatch.setattr(HeldTurn, "drop", recorded)
    async with seed.database.driver_write() as statements:
        assert await statements.rows(select(1), {}) == [(1,)]
        assert not _lock_is_free(lock_path)  # this process's turn
    assert drops[0][0].startswith("exisone-sqlite") and drops[0][1]
    assert drops[1] == (threading.current_thread().name, True)  # the block's end: no-op
    drops.clear()
    with pytest.raises(OSError, match="gone"):
        async with seed.database.driver_write():
            raise OSError("gone")
    assert drops == [(threading.current_thread().name, True)]
    drops.clear()

    def failing_commit(connection: InlineConnection, then: Any) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    with monkeypatch.context() as patch:
        patch.setattr(InlineConnection, "_commit", failing_commit)
        with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
            async with seed.database.driver_write() as statements:
                await statements.rows(select(1), {})
    assert drops == [(threading.current_thread().name, True)]  # at the block's end, once
    drops.clear()
    async with seed.database.write() as session:  # a write batch keeps it to its block's end
        assert (await session.execute(select(1))).scalar() == 1
    assert drops == [(threading.current_thread().name, True)]


def _database_without_lock_file(seed: Seed) -> tuple[str, str]:
    """The SQLite database's path and its writer lock file's, the lock file removed."""
    _sqlite_on_posix(seed)
    database = seed.database.engine.url.database
    assert database is not None
    lock_path = f"{database}-writer.lock"
    if os.path.exists(lock_path):
        os.remove(lock_path)
    return database, lock_path


async def test_the_writer_lock_file_takes_the_database_file_s_mode(seed: Seed) -> None:
    database, lock_path = _database_without_lock_file(seed)
    os.chmod(database, 0o640)

    async with seed.database.write() as session:
        await session.execute(select(1))

    assert stat.S_IMODE(os.stat(lock_path).st_mode) == 0o640


async def test_a_writer_lock_file_that_cannot_be_made_does_not_stop_writes(
    seed: Seed, caplog: pytest.LogCaptureFixture
) -> None:
    database, lock_path = _database_without_lock_file(seed)
    os.symlink(f"{database}-no-such-folder/lock", lock_path)  # open and create both fail
    try:
        async with asyncio.timeout(10), seed.database.write() as session:
            assert (await session.execute(select(1))).scalar() == 1
    finally:
        os.remove(lock_path)
    assert "writer lock file" in caplog.text and "not usable" in caplog.text
