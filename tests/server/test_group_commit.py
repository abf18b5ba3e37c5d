"""SQLite group commit (exisone_server.group_commit): writes that arrive together share one
commit, each in a savepoint of its own, each caller answered after that commit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from exisone_server.db import Database, insert_for
from exisone_server.group_commit import after_commit
from exisone_server.kit.time import utc_now
from exisone_server.models import Activation, RateLimitCounter

from .helpers import activate_body, counters_in
from .seeding import Seed


def _sqlite(database: Database) -> None:
    if database.write_batches is None:
        pytest.skip("PostgreSQL commits each transaction (its own group commit is the server's)")


async def _insert(database: Database, scope: str, key: str) -> None:
    async with database.write() as session:
        insert = insert_for(database.dialect)
        await session.execute(
            insert(RateLimitCounter).values(
                scope=scope, key=key, window_start=0, count=1, created_at=utc_now()
            )
        )


async def test_concurrent_activations_share_commits_and_keep_the_seat_limit(seed: Seed) -> None:
    _sqlite(seed.database)
    batches = seed.database.write_batches
    assert batches is not None
    product = await seed.product()
    full = await seed.license(product, is_corporate=True, max_seats=10)
    roomy = await seed.license(product, is_corporate=True, max_seats=100)
    before = batches.batches, batches.writes

    answers = await asyncio.gather(
        *(
            seed.api.post("/api/license/activate", activate_body(license, product, f"d{n}"))
            for license in (full, roomy)
            for n in range(40)
        )
    )

    granted = {license.id: 0 for license in (full, roomy)}
    for answer, license in zip(answers, [full] * 40 + [roomy] * 40):
        assert answer.status_code in (200, 409), answer.text
        granted[license.id] += answer.status_code == 200
    assert granted == {full.id: 10, roomy.id: 40}
    async with seed.database.read() as connection:
        rows = await connection.scalar(
            select(func.count())
            .select_from(Activation)
            .where(Activation.license_id == full.id, Activation.deactivated_at.is_(None))
        )
    assert rows == 10
    commits, writes = batches.batches - before[0], batches.writes - before[1]
    assert writes >= 50 and commits < writes  # shared commits, not one each
    print(f"{writes} writes in {commits} commits")


async def test_a_failing_write_leaves_the_others_of_its_batch(database: Database) -> None:
    _sqlite(database)

    async def failing() -> None:
        async with database.write() as session:
            insert = insert_for(database.dialect)
            await session.execute(
                insert(RateLimitCounter).values(
                    scope="gc-fail", key="bad", window_start=0, count=1, created_at=utc_now()
                )
            )
            raise ValueError("this write gives up")

    outcomes = await asyncio.gather(
        _insert(database, "gc-fail", "a"),
        failing(),
        _insert(database, "gc-fail", "b"),
        return_exceptions=True,
    )

    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], ValueError)
    async with database.read() as connection:
        keys = set(
            await connection.scalars(
                select(RateLimitCounter.key).where(RateLimitCounter.scope == "gc-fail")
            )
        )
    assert keys == {"a", "b"}


async def test_a_write_returns_only_after_its_commit(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sqlite(database)
    release = asyncio.Event()
    real_commit = AsyncConnection.commit

    async def slow_commit(self: AsyncConnection) -> None:
        await release.wait()
        await real_commit(self)

    monkeypatch.setattr(AsyncConnection, "commit", slow_commit)
    writing = asyncio.create_task(_insert(database, "gc-durable", "x"))
    await asyncio.sleep(0.2)

    assert not writing.done()  # its block ended, its commit has not
    assert await counters_in(database, "gc-durable") == 0
    release.set()
    await asyncio.wait_for(writing, 5)
    assert await counters_in(database, "gc-durable") == 1


async def test_after_commit_waits_for_the_batch_s_commit(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outbox workers are woken after the commit that makes the rows visible, not when a
    batched session releases its savepoint."""
    _sqlite(database)
    release = asyncio.Event()
    real_commit = AsyncConnection.commit
    woken: list[str] = []

    async def slow_commit(self: AsyncConnection) -> None:
        await release.wait()
        await real_commit(self)

    monkeypatch.setattr(AsyncConnection, "commit", slow_commit)

    async def write() -> None:
        async with database.write() as session:
            after_commit(session, lambda: woken.append("committed"))

    writing = asyncio.create_task(write())
    await asyncio.sleep(0.2)
    assert woken == []  # the block is over, the commit is not
    release.set()
    await asyncio.wait_for(writing, 5)
    assert woken == ["committed"]


async def test_a_failed_commit_fails_every_write_of_its_batch(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sqlite(database)
    started = asyncio.Event()

    async def broken_commit(self: AsyncConnection) -> Any:
        started.set()
        raise OSError("disk gone")

    monkeypatch.setattr(AsyncConnection, "commit", broken_commit)
    outcomes = await asyncio.gather(
        *(_insert(database, "gc-broken", key) for key in "abc"), return_exceptions=True
    )

    assert started.is_set()
    assert all(isinstance(outcome, OSError) for outcome in outcomes), outcomes
    monkeypatch.undo()
    assert await counters_in(database, "gc-broken") == 0
    await _insert(database, "gc-broken", "after")  # the next batch works
    assert await counters_in(database, "gc-broken") == 1


async def test_group_commit_can_be_switched_off(database: Database) -> None:
    _sqlite(database)
    plain = Database(database.engine, group_commit=False)

    assert plain.write_batches is None
    await _insert(plain, "gc-off", "one")
    assert await counters_in(plain, "gc-off") == 1
