"""Leases long gone are forgotten: ended or run out more than 30 days ago, a chunk per
transaction, by the webhook worker's periodic scan; live and recent ones stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from exisone_server.kit.time import utc_now
from exisone_server.licenses import lease_purge
from exisone_server.licenses.lease_purge import LEASE_RETENTION, purge_leases
from exisone_server.licenses.leases import new_lease_id
from exisone_server.models import Lease
from exisone_server.webhooks import WebhookSettings
from exisone_server.webhooks.worker import WebhookWorker

from .seeding import Seed


async def _leases(seed: Seed, *shapes: tuple[timedelta | None, timedelta]) -> list[str]:
    """Leases of one floating license, each (ended this long ago or None, expires in)."""
    product = await seed.product(version="2.0")
    plan = await seed.floating_plan()
    license = await seed.license(product, plan=plan, is_corporate=True, max_seats=50)
    now = utc_now()
    ids = []
    async with seed.database.write() as session:
        for n, (ended_ago, expires_in) in enumerate(shapes):
            lease = Lease(
                license_id=license.id,
                lease_id=new_lease_id(),
                hardware_id=f"HW-{n}",
                expires_at=now + expires_in,
                ttl_seconds=120,
                ended_at=None if ended_ago is None else now - ended_ago,
                ended_by=None if ended_ago is None else "application",
            )
            session.add(lease)
            ids.append(lease.lease_id)
    return ids


async def _left(seed: Seed, ids: list[str]) -> set[str]:
    """Which of the leases ``ids`` are still stored (the database outlives each test)."""
    async with seed.database.read_session() as session:
        return set(await session.scalars(select(Lease.lease_id).where(Lease.lease_id.in_(ids))))


async def test_only_leases_gone_longer_than_the_retention_are_deleted(seed: Seed) -> None:
    day = timedelta(days=1)
    made = await _leases(
        seed,
        (LEASE_RETENTION + day, -LEASE_RETENTION),  # released a month and a day ago
        (None, -(LEASE_RETENTION + day)),  # ran out a month and a day ago, never released
        (LEASE_RETENTION - day, -LEASE_RETENTION),  # released 29 days ago
        (None, -(LEASE_RETENTION - day)),  # ran out 29 days ago
        (None, timedelta(minutes=2)),
        (None, 3 * day),  # borrowed for three days
    )

    # (the database is shared by the session's tests: others' old leases may go too)
    assert await purge_leases(seed.database, utc_now()) >= 2
    assert await _left(seed, made) == set(made[2:])  # the recent, live and borrowed ones
    assert await purge_leases(seed.database, utc_now()) == 0


async def test_a_purge_deletes_in_chunks(seed: Seed, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lease_purge, "PURGE_CHUNK", 3)
    gone = (None, -(LEASE_RETENTION + timedelta(days=2)))
    kept = await _leases(seed, *([gone] * 7), (None, timedelta(minutes=5)))

    assert await purge_leases(seed.database, utc_now()) >= 7
    assert await _left(seed, kept) == {kept[-1]}


async def test_the_webhook_worker_s_scan_purges(seed: Seed) -> None:
    made = await _leases(seed, (None, -(LEASE_RETENTION + timedelta(days=1))))
    worker = WebhookWorker(seed.database, seed.master_key, WebhookSettings())

    await worker.scan()

    assert await _left(seed, made) == set()
