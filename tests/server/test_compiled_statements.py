"""Statements compiled once and run on the driver's connection
(exisone_server.compiled_statements, Database.driver_write): the rows and changes SQLAlchemy's
would be, in a transaction of their own that an error rolls back; the lease batches run on them
once the tenant's key is kept (both databases)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from exisone_server.kit.time import utc_now
from exisone_server.licenses import leases
from exisone_server.licenses.lease_batches import LeaseBatches
from exisone_server.licenses.service import _FEATURES_OF_LICENSES
from exisone_server.models import Lease
from exisone_server.statements import SessionStatements

from .seeding import Seed

LEASE = "/api/license/lease"


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
    _, license, ids = await _floating(seed, 3)
    tenant, now = seed.tenant.id, utc_now()
    reads = [
        (leases._RENEWING, {"lease_ids": ids[:1]}),
        (leases._RENEWING, {"lease_ids": sorted(ids)}),  # another length: another form
        (leases._RENEWING, {"lease_ids": ids[:1]}),  # the first form again
        (
            leases._CHECKING_OUT,
            {
                "activation_keys": [license.activation_key, "NO-SUCH-KEY"],
                "tenant_keys": [(tenant, license.activation_key), (tenant, "NO-SUCH-KEY")],
            },
        ),
        (
            leases._DEVICE_LEASES,
            {
                "device_licenses": [license.id],
                "hardware_ids": ["HW-0", "HW-2"],
                "devices": [(license.id, "HW-0"), (license.id, "HW-2")],
            },
        ),
        (leases._LIVE_SEATS, {"license_ids": [license.id, license.id + 1000], "now": now}),
        (leases._NEXT_FREE_AT, {"license_id": license.id, "now": now}),
        (_FEATURES_OF_LICENSES, {"license_ids": [license.id]}),
    ]
    for statement, parameters in reads:
        async with seed.database.write() as session:
            expected = await SessionStatements(session).rows(statement, parameters)
        async with seed.database.driver_write() as statements:
            got = await statements.rows(statement, parameters)
        assert got == [tuple(row) for row in expected] and expected
        assert [row._fields for row in got] == [row._fields for row in expected]
    async with seed.database.driver_write() as statements:
        (renewing,) = await statements.rows(leases._RENEWING, {"lease_ids": ids[:1]})
    assert renewing.lease_expires_at.tzinfo is not None  # aware UTC, as UTCDateTime reads it
    assert renewing.borrowed is False and renewing.status == license.status


async def test_writes_change_what_sqlalchemy_reads_and_count_their_rows(seed: Seed) -> None:
    _, license, ids = await _floating(seed, 2)
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
    async with seed.database.driver_write() as statements:
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
    _, _, ids = await _floating(seed, 1)
    async with seed.database.read_session() as session:
        lease = await session.scalar(select(Lease).where(Lease.lease_id == ids[0]))
    assert lease is not None
    with pytest.raises(OSError, match="disk gone"):
        async with seed.database.driver_write() as statements:
            renewal = {
                "lease_row": lease.id,
                "until": utc_now() + timedelta(days=9),
                "now": utc_now(),
            }
            assert await statements.run(leases._RENEW, renewal) == 1
            raise OSError("disk gone")
    async with seed.database.read_session() as session:
        assert await session.scalar(select(Lease.expires_at).where(Lease.id == lease.id)) == (
            lease.expires_at
        )


async def test_an_insert_missing_a_defaulted_column_is_refused(seed: Seed) -> None:
    """A column default is SQLAlchemy's to fill in: without it here the row would differ."""
    async with seed.database.driver_write() as statements:
        with pytest.raises(ValueError, match="a column default"):
            await statements.run(
                leases._NEW_LEASE, {"license_id": 1, "lease_id": "l_x", "hardware_id": "HW"}
            )


async def test_lease_batches_run_on_them_once_the_key_is_kept(
    seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first batch reads the tenant's key in a session; the next ones open none and still
    renew the lease."""
    database = seed.database
    _, _, ids = await _floating(seed, 1)
    batcher = LeaseBatches(database, seed.master_key)
    sessions = 0
    session_write = database.write

    def counted() -> Any:
        nonlocal sessions
        sessions += 1
        return session_write()

    monkeypatch.setattr(database, "write", counted)
    assert (await batcher.renew(seed.tenant.id, ids[0])).grant is not None
    assert sessions == 1  # the key read
    for _ in range(3):
        soon = utc_now() + timedelta(seconds=5)  # the TTL is 120 s: a renewal moves it on
        async with session_write() as session:
            await session.execute(
                update(Lease).where(Lease.lease_id == ids[0]).values(expires_at=soon)
            )
        renewal = await batcher.renew(seed.tenant.id, ids[0])
        assert renewal.grant is not None and renewal.grant.lease.expires_at > soon
    assert sessions == 1
    async with database.read_session() as session:
        stored = await session.scalar(select(Lease.expires_at).where(Lease.lease_id == ids[0]))
    assert stored == renewal.grant.lease.expires_at


async def test_sqlite_finds_a_checkout_batchs_rows_by_index(seed: Seed) -> None:
    """The batch's licenses by the activation keys' index and its devices' leases by the
    (license, device) index, not by scanning the tenant's licenses or the license's leases."""
    if seed.database.dialect != "sqlite":
        pytest.skip("SQLite's query plans")
    _, license, _ = await _floating(seed, 3)
    tenant, key = seed.tenant.id, license.activation_key
    lookups = [
        (
            leases._CHECKING_OUT,
            {"activation_keys": [key], "tenant_keys": [(tenant, key)]},
            "SEARCH licenses USING INDEX sqlite_autoindex_licenses_1 (activation_key=?)",
        ),
        (
            leases._DEVICE_LEASES,
            {
                "device_licenses": [license.id],
                "hardware_ids": ["HW-0", "HW-1"],
                "devices": [(license.id, "HW-0"), (license.id, "HW-1")],
            },
            "SEARCH leases USING INDEX ix_leases_license_id_hardware_id",
        ),
    ]
    for statement, parameters, search in lookups:
        form, filled = seed.database.compiled.of(statement, parameters).prepare(parameters)
        async with seed.database.read() as connection:
            plan = await connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {form.sql}", form.values(filled)
            )
            steps = [str(step[-1]) for step in plan]
        assert any(step.startswith(search) for step in steps), steps


def test_a_sqlite_only_condition_is_true_on_postgresql() -> None:
    """The lists beside the pairs serve SQLite's planner; PostgreSQL's read every lease of a
    license for them, so they are not sent there."""
    compiled = {
        name: str(leases._DEVICE_LEASES.compile(dialect=dialect))
        for name, dialect in (("sqlite", sqlite.dialect()), ("postgresql", postgresql.dialect()))
    }
    assert "leases.license_id IN (__[POSTCOMPILE_device_licenses]) AND" in compiled["sqlite"]
    assert "device_licenses" not in compiled["postgresql"]
    assert "hardware_ids" not in compiled["postgresql"]
    assert (
        "WHERE true AND true AND (leases.license_id, leases.hardware_id) IN"
        in (compiled["postgresql"])
    )


async def test_lists_of_any_length_share_a_few_forms_and_read_the_same(seed: Seed) -> None:
    """Lists are padded to a power of two (by their last value), so a process keeps few forms
    however its batches vary; a set is a list too, and the rows are those asked for."""
    _, _, ids = await _floating(seed, 5)
    compiled = seed.database.compiled.of(leases._RENEWING, {"lease_ids": ids})
    async with seed.database.driver_write() as statements:
        for count in range(1, 6):
            wanted = set(ids[:count]) | {"l_no-such-lease"}
            rows = await statements.rows(leases._RENEWING, {"lease_ids": wanted})
            assert sorted(row.lease_id for row in rows) == sorted(ids[:count])
    assert len(compiled._forms) == 3  # 2, 4 and 8 values
    for count in range(1, 300):
        compiled.prepare({"lease_ids": [f"l_{n}" for n in range(count)]})
    assert len(compiled._forms) <= 10


async def test_a_bind_takes_the_callers_value_else_the_statements_own(seed: Seed) -> None:
    _, _, ids = await _floating(seed, 3)
    limit = (
        select(Lease.lease_id)
        .where(Lease.lease_id.in_(bindparam("ids", expanding=True)))
        .order_by(Lease.id)
        .limit(bindparam("most", value=1))
    )
    async with seed.database.driver_write() as statements:
        assert [row.lease_id for row in await statements.rows(limit, {"ids": ids})] == ids[:1]
        assert [
            row.lease_id for row in await statements.rows(limit, {"ids": ids, "most": 2})
        ] == ids[:2]
        assert [row.lease_id for row in await statements.rows(limit, {"ids": ids})] == ids[:1]
