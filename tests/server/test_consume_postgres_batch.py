"""PostgreSQL's direct consume batches (api_keys/postgres_batch.py): the steady state decided as
the ORM path decides it, everything else left to that path, and no failure that spends."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select

from exisone_server.api_keys.batcher import ConsumeBatcher
from exisone_server.api_keys.consume import ConsumeCall, StaleDecision
from exisone_server.api_keys.postgres_batch import PostgresConsumes
from exisone_server.db import Database
from exisone_server.kit.time import utc_now
from exisone_server.models import ApiQuota, ApiUsageDay, License, WebhookEvent

from .helpers import subscribe
from .seeding import Seed


def _direct(database: Database) -> PostgresConsumes:
    if database.dialect != "postgresql":
        pytest.skip("SQLite: batches share the process's write transactions (group_commit.py)")
    return PostgresConsumes(database)


async def _key(seed: Seed, calls: int, name: str = "Api") -> License:
    """A key of an API product granted ``calls``, its quota row made by a first consume."""
    product = await seed.product(name, is_api_product=True, default_api_calls=calls)
    license = await seed.license(product)
    assert (
        await ConsumeBatcher(seed.database).consume(seed.tenant.id, license.activation_key, 1)
    ).allowed
    return license


async def _used(database: Database, license: License) -> tuple[int, int]:
    """The quota row's calls used, and the calls of its usage days."""
    async with database.read() as connection:
        used = await connection.scalar(
            select(ApiQuota.calls_used).where(ApiQuota.license_id == license.id)
        )
        days = await connection.scalar(
            select(func.sum(ApiUsageDay.calls)).where(ApiUsageDay.license_id == license.id)
        )
    return int(used), int(days)


async def test_a_steady_state_batch_is_decided_in_order_and_written(
    seed: Seed, database: Database
) -> None:
    direct = _direct(database)
    mine = await _key(seed, 100)
    other = await Seed.create(database, seed.master_key, seed.client)
    theirs = await _key(other, 100)
    calls = [
        ConsumeCall(seed.tenant.id, mine.activation_key, 30),
        ConsumeCall(seed.tenant.id, theirs.activation_key, 1),  # not this tenant's key
        ConsumeCall(other.tenant.id, theirs.activation_key, 5),
        ConsumeCall(seed.tenant.id, mine.activation_key, 70),  # 1 + 30 + 70 > 100
        ConsumeCall(seed.tenant.id, mine.activation_key, 40),
    ]
    outcomes = await direct.consume_many(calls, utc_now())
    assert outcomes is not None and direct.batches == 1
    assert [(o.found, o.reason, o.used) for o in outcomes] == [
        (True, None, 31),
        (False, None, 0),
        (True, None, 6),
        (True, "quota_exceeded", 31),
        (True, None, 71),
    ]
    assert await _used(database, mine) == (71, 71)
    assert await _used(database, theirs) == (6, 6)
    await direct.close()


async def test_first_uses_and_crossings_are_left_to_the_orm_path(
    seed: Seed, database: Database
) -> None:
    """Nothing is done (no row made, nothing spent); the batcher then takes the ORM path,
    which makes the row and queues the quota webhook."""
    direct = _direct(database)
    fresh = await seed.license(
        await seed.product("Fresh", is_api_product=True, default_api_calls=10)
    )
    now = utc_now()
    assert (
        await direct.consume_many([ConsumeCall(seed.tenant.id, fresh.activation_key, 1)], now)
        is None
    )
    async with database.read() as connection:
        rows = await connection.scalar(
            select(func.count()).select_from(ApiQuota).where(ApiQuota.license_id == fresh.id)
        )
    assert rows == 0
    unknown = ConsumeCall(seed.tenant.id, "NO-SUCH-KEY", 1)
    assert await direct.consume_many([unknown], now) is None

    await subscribe(database, seed.tenant.id, "license.quota.warning")
    near = await _key(seed, 10)  # used 1
    crossing = [ConsumeCall(seed.tenant.id, near.activation_key, 7)]  # 8 of 10: 80 %
    assert await direct.consume_many(crossing, now) is None
    assert await _used(database, near) == (1, 1)
    assert direct.batches == 0

    batcher = ConsumeBatcher(database)
    assert (await batcher.consume(seed.tenant.id, near.activation_key, 7)).used == 8
    async with database.read() as connection:
        events = await connection.scalar(
            select(func.count())
            .select_from(WebhookEvent)
            .where(
                WebhookEvent.tenant_id == seed.tenant.id,
                WebhookEvent.event_type == "license.quota.warning",
            )
        )
    assert events == 1
    await direct.close()


async def test_a_batch_that_fails_after_its_writes_spends_nothing(
    seed: Seed, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    direct = _direct(database)
    license = await _key(seed, 100)
    call = ConsumeCall(seed.tenant.id, license.activation_key, 5)
    write = PostgresConsumes._write

    async def fails_after_writing(self: PostgresConsumes, *args: Any) -> None:
        await write(self, *args)
        raise OSError("disk gone")

    monkeypatch.setattr(PostgresConsumes, "_write", fails_after_writing)
    with pytest.raises(OSError, match="disk gone"):
        await direct.consume_many([call], utc_now())
    assert await _used(database, license) == (1, 1)
    monkeypatch.undo()
    outcomes = await direct.consume_many([call], utc_now())  # on a new connection
    assert outcomes is not None and outcomes[0].used == 6
    assert await _used(database, license) == (6, 6)
    await direct.close()


async def test_the_write_refuses_to_pass_a_grant_and_keeps_the_connection(
    seed: Seed, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The UPDATE's condition holds whatever the decision (here the rule is broken on
    purpose): the batch is rolled back as stale, nothing is spent, the connection stays."""
    direct = _direct(database)
    license = await _key(seed, 3)
    one = ConsumeCall(seed.tenant.id, license.activation_key, 1)
    assert await direct.consume_many([one], utc_now()) is not None  # 2 of 3: no crossing
    connection = direct._connection
    monkeypatch.setattr("exisone_server.licenses.rules.consume_refusal", lambda *_: None)
    monkeypatch.setattr("exisone_server.licenses.rules.quota_crossings", lambda *_: [])
    too_many = ConsumeCall(seed.tenant.id, license.activation_key, 5)
    with pytest.raises(StaleDecision):
        await direct.consume_many([too_many], utc_now())
    assert await _used(database, license) == (2, 2)
    assert direct._connection is connection and connection is not None
    assert connection.info.transaction_status.name == "IDLE"
    await direct.close()


async def test_a_connection_the_server_closed_is_replaced_without_an_error(
    seed: Seed, database: Database
) -> None:
    """After a PostgreSQL restart (here: the backend terminated) the next batch goes on."""
    direct = _direct(database)
    license = await _key(seed, 100)
    call = ConsumeCall(seed.tenant.id, license.activation_key, 1)
    assert await direct.consume_many([call], utc_now()) is not None
    assert direct._connection is not None
    pid = direct._connection.info.backend_pid
    conninfo = database.engine.url.set(drivername="postgresql").render_as_string(False)
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as admin:
        await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    outcomes = await direct.consume_many([call], utc_now())
    assert outcomes is not None and outcomes[0].used == 3
    assert direct._connection is not None and direct._connection.info.backend_pid != pid
    await direct.close()
    assert direct._connection is None
