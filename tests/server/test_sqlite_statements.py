"""SQLite statements compiled once and run on the driver's connection
(exisone_server.sqlite_statements): the rows and changes SQLAlchemy's would be, in a
transaction of their own that an error rolls back; the lease batches run on them once the
tenant's key is kept."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from exisone_server.db import Database
from exisone_server.kit.time import utc_now
from exisone_server.licenses import leases
from exisone_server.licenses.lease_batches import LeaseBatches
from exisone_server.licenses.service import _FEATURES_OF_LICENSES
from exisone_server.models import Lease
from exisone_server.sqlite_statements import CompiledStatements, SqliteStatements
from exisone_server.statements import SessionStatements

from .seeding import Seed

LEASE = "/api/license/lease"


def _sqlite(database: Database) -> None:
    if database.dialect != "sqlite":
        pytest.skip("PostgreSQL runs the batches' statements through SQLAlchemy")


async def _floating(seed: Seed, count: int) -> tuple[Any, Any, list[str]]:
    """A floating license (feature ``Pro``) of a product, and ``count`` leases of it."""
    product = await seed.product(version="2.0")
    license = await seed.license(
        product, plan=await seed.floating_plan(), is_corporate=True, max_seats=50
    )
    ids = []
    for n in range(count):
        body = {"activationKey": license.activation_key, "hardwareId": f"HW-{n}"}
        answer = await seed.api.post(LEASE, {**body, "productName": product.name})
        assert answer.status_code == 200, answer.text
        ids.append(answer.json()["leaseId"])
    return product, license, ids


async def test_rows_read_as_sqlalchemy_reads_them(seed: Seed) -> None:
    _sqlite(seed.database)
    _, license, ids = await _floating(seed, 3)
    tenant, now = seed.tenant.id, utc_now()
    compiled = CompiledStatements(seed.database.engine.dialect)
    reads = [
        (leases._RENEWING, {"lease_ids": ids[:1]}),
        (leases._RENEWING, {"lease_ids": sorted(ids)}),  # another length: another form
        (leases._RENEWING, {"lease_ids": ids[:1]}),  # the first form again
        (
            leases._CHECKING_OUT,
            {"tenant_keys": [(tenant, license.activation_key), (tenant, "NO-SUCH-KEY")]},
        ),
        (
            leases._DEVICE_LEASES,
            {"devices": [(license.id, "HW-0"), (license.id, "HW-2")], "now": now},
        ),
        (leases._LIVE_SEATS, {"license_ids": [license.id, license.id + 1000], "now": now}),
        (leases._NEXT_FREE_AT, {"license_id": license.id, "now": now}),
        (_FEATURES_OF_LICENSES, {"license_ids": [license.id]}),
    ]
    for statement, parameters in reads:
        async with seed.database.write() as session:
            expected = await SessionStatements(session).rows(statement, parameters)
        async with seed.database.sqlite_transaction() as connection:
            got = await SqliteStatements(connection, compiled).rows(statement, parameters)
        assert got == [tuple(row) for row in expected] and expected
        assert [row._fields for row in got] == [row._fields for row in expected]
    (renewing,) = got = await _rows(seed, compiled, leases._RENEWING, {"lease_ids": ids[:1]})
    assert renewing.lease_expires_at.tzinfo is not None  # aware UTC, as UTCDateTime reads it
    assert renewing.borrowed is False and renewing.status == license.status


async def _rows(seed: Seed, compiled: CompiledStatements, statement: Any, parameters: Any) -> Any:
    async with seed.database.sqlite_transaction() as connection:
        return await SqliteStatements(connection, compiled).rows(statement, parameters)


async def test_writes_change_what_sqlalchemy_reads_and_count_their_rows(seed: Seed) -> None:
    _sqlite(seed.database)
    _, license, ids = await _floating(seed, 2)
    compiled = CompiledStatements(seed.database.engine.dialect)
    now = utc_now()
    until = now + timedelta(hours=3)
    async with seed.database.read_session() as session:
        rows = {lease.lease_id: lease.id for lease in await session.scalars(select(Lease))}
    new = {
        "license_id": license.id,
        "lease_id": "l_new",
        "hardware_id": "HW-new",
        "expires_at": until,
        "ttl_seconds": 60,
        "borrowed": True,
        "last_heartbeat_at": None,
        "ended_at": None,
        "ended_by": None,
        "ip_address": "192.0.2.1",
        "client_version": "2.0",
        "created_at": now,
    }
    async with seed.database.sqlite_transaction() as connection:
        statements = SqliteStatements(connection, compiled)
        assert await statements.run(leases._NEW_LEASE, [new]) == 1
        renewals = [{"lease_row": rows[i], "until": until, "now": now} for i in ids]
        assert await statements.run(leases._RENEW, renewals) == 2
        ended = [{"lease_row": rows[ids[1]], "at": now, "by": "revoked"}]
        assert await statements.run(leases._END, ended) == 1
        assert await statements.run(leases._RENEW, renewals) == 1  # the ended one stays ended
        assert await statements.run(leases._END, []) == 0
    async with seed.database.read_session() as session:
        stored = {lease.lease_id: lease for lease in await session.scalars(select(Lease))}
    assert stored["l_new"].expires_at == until and stored["l_new"].borrowed is True
    assert (stored["l_new"].ip_address, stored["l_new"].created_at) == ("192.0.2.1", now)
    assert stored[ids[0]].expires_at == until and stored[ids[0]].last_heartbeat_at == now
    assert (stored[ids[1]].ended_at, stored[ids[1]].ended_by) == (now, "revoked")


async def test_an_error_rolls_the_transaction_back(seed: Seed) -> None:
    _sqlite(seed.database)
    _, _, ids = await _floating(seed, 1)
    compiled = CompiledStatements(seed.database.engine.dialect)
    async with seed.database.read_session() as session:
        lease = await session.scalar(select(Lease).where(Lease.lease_id == ids[0]))
    assert lease is not None
    with pytest.raises(OSError, match="disk gone"):
        async with seed.database.sqlite_transaction() as connection:
            renewal = {
                "lease_row": lease.id,
                "until": utc_now() + timedelta(days=9),
                "now": utc_now(),
            }
            assert await SqliteStatements(connection, compiled).run(leases._RENEW, renewal) == 1
            raise OSError("disk gone")
    async with seed.database.read_session() as session:
        assert await session.scalar(select(Lease.expires_at).where(Lease.id == lease.id)) == (
            lease.expires_at
        )


async def test_an_insert_missing_a_defaulted_column_is_refused(seed: Seed) -> None:
    """A column default is SQLAlchemy's to fill in: without it here the row would differ."""
    _sqlite(seed.database)
    compiled = CompiledStatements(seed.database.engine.dialect)
    async with seed.database.sqlite_transaction() as connection:
        with pytest.raises(ValueError, match="a column default"):
            await SqliteStatements(connection, compiled).run(
                leases._NEW_LEASE, {"license_id": 1, "lease_id": "l_x", "hardware_id": "HW"}
            )


async def test_lease_batches_run_on_them_once_the_key_is_kept(seed: Seed) -> None:
    """The first batch reads the tenant's key in a session; the next ones write no session
    (no write batch) and still renew the lease."""
    _sqlite(seed.database)
    _, _, ids = await _floating(seed, 1)
    write_batches = seed.database.write_batches
    assert write_batches is not None
    batcher = LeaseBatches(seed.database, seed.master_key)
    assert (await batcher.renew(seed.tenant.id, ids[0])).grant is not None
    before = write_batches.batches
    for _ in range(3):
        soon = utc_now() + timedelta(seconds=5)  # the TTL is 120 s: a renewal moves it on
        async with seed.database.write() as session:
            await session.execute(
                update(Lease).where(Lease.lease_id == ids[0]).values(expires_at=soon)
            )
        renewal = await batcher.renew(seed.tenant.id, ids[0])
        assert renewal.grant is not None and renewal.grant.lease.expires_at > soon
    assert write_batches.batches == before + 3  # the test's own writes
    async with seed.database.read_session() as session:
        stored = await session.scalar(select(Lease.expires_at).where(Lease.lease_id == ids[0]))
    assert stored == renewal.grant.lease.expires_at
