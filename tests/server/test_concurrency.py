"""Concurrent requests never break the seat and trial invariants (in-process, both databases)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from exisone_server.models import Activation, Trial

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
