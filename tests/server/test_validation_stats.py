"""Validation counts per tenant and day: in memory per process, added up in the database."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from exisone_server.db import Database
from exisone_server.licenses import validation_stats as validation_stats_module
from exisone_server.licenses.validation_stats import ValidationStats, validation_stats
from exisone_server.models import Activation, ValidationCount

from .seeding import Seed


async def _counts(database: Database) -> dict[tuple[int, str], int]:
    async with database.read_session() as session:
        rows = await session.execute(
            select(ValidationCount.tenant_id, ValidationCount.day, ValidationCount.count)
        )
        return {(tenant, day.isoformat()): count for tenant, day, count in rows}


async def test_processes_add_up_and_nothing_is_written_twice(seed: Seed) -> None:
    first, second = ValidationStats(seed.database), ValidationStats(seed.database)  # 2 processes
    other = await Seed.create(seed.database, seed.master_key, seed.client)
    for _ in range(5):
        first.count(seed.tenant.id)
    for _ in range(2):
        second.count(seed.tenant.id)
    second.count(other.tenant.id)

    await first.flush()
    await second.flush()
    await first.flush()  # nothing new: no double counting

    today = time.strftime("%Y-%m-%d", time.gmtime())
    counts = await _counts(seed.database)
    assert counts[seed.tenant.id, today] == 7
    assert counts[other.tenant.id, today] == 1


async def test_a_failed_write_keeps_the_counts_for_the_next_one(
    seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    stats = ValidationStats(seed.database)
    stats.count(seed.tenant.id)
    stats.count(seed.tenant.id)

    def broken_write() -> None:
        raise ConnectionError("database down")

    with monkeypatch.context() as patch:
        patch.setattr(seed.database, "write", broken_write)
        with pytest.raises(ConnectionError):
            await stats.flush()
    await stats.flush()

    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert (await _counts(seed.database))[seed.tenant.id, today] == 2


async def test_each_validation_answered_is_counted_once(seed: Seed) -> None:
    product = await seed.product()
    license = await seed.license(product)
    body = {
        "activationKey": license.activation_key,
        "hardwareId": "COUNT-1",
        "productName": product.name,
    }
    assert (await seed.api.post("/api/license/activate", body)).status_code == 200
    stats = validation_stats(seed.database)
    await stats.flush()
    before = sum((await _counts(seed.database)).values())

    for _ in range(4):
        assert (await seed.api.post("/api/license/validate", body)).status_code == 200
    refused = await seed.api_with("exo_at_nope_nope").post("/api/license/validate", body)
    assert refused.status_code == 401  # refused requests are not validations of a tenant
    await stats.flush()

    assert sum((await _counts(seed.database)).values()) - before == 4


async def _last_seen(database: Database, license_id: int) -> dict[str, object]:
    async with database.read_session() as session:
        rows = await session.execute(
            select(Activation.hardware_id, Activation.last_seen_at).where(
                Activation.license_id == license_id
            )
        )
        return {device: seen for device, seen in rows}


async def test_a_licensed_validation_marks_its_device_seen(seed: Seed) -> None:
    """The device's last_seen_at follows its licensed validations (written at the flush, only
    forward); an unbound device or another key's device is not marked."""
    product = await seed.product()
    license = await seed.license(product)
    other = await seed.license(product)
    for key, device in ((license, "SEEN-1"), (other, "SEEN-3")):  # SEEN-2: never activated
        body = {
            "activationKey": key.activation_key,
            "hardwareId": device,
            "productName": product.name,
        }
        assert (await seed.api.post("/api/license/activate", body)).status_code == 200
    stats = validation_stats(seed.database)
    await stats.flush()
    body = {"activationKey": license.activation_key.lower(), "hardwareId": " seen-1 "}
    before = time.time()
    assert (await seed.api.post("/api/license/validate", body)).json()["status"] == "licensed"
    unbound = {"activationKey": license.activation_key, "hardwareId": "SEEN-2"}
    assert (await seed.api.post("/api/license/validate", unbound)).json()["isValid"] is False
    assert (await _last_seen(seed.database, license.id))["SEEN-1"] is None  # not yet written

    await stats.flush()

    seen = await _last_seen(seed.database, license.id)
    assert isinstance(seen["SEEN-1"], datetime)
    assert seen["SEEN-1"].timestamp() >= int(before)
    assert (await _last_seen(seed.database, other.id)) == {"SEEN-3": None}
    # An older moment noted by a slower process never moves it back.
    late = ValidationStats(seed.database)
    late._seen[seed.tenant.id, license.activation_key, "SEEN-1"] = seen["SEEN-1"] - timedelta(
        hours=1
    )
    await late.flush()
    assert (await _last_seen(seed.database, license.id))["SEEN-1"] == seen["SEEN-1"]


async def test_many_devices_seen_are_written_in_slices_and_a_failure_keeps_the_rest(
    seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Devices seen are written SEEN_ROWS_PER_WRITE at a time; when a slice fails, it and the
    slices after it wait for the next flush, and the slices before it stay written."""
    monkeypatch.setattr(validation_stats_module, "SEEN_ROWS_PER_WRITE", 2)
    product = await seed.product()
    license = await seed.license(product, is_corporate=True, max_seats=10)
    devices = [f"SLICE-{n}" for n in range(5)]
    for device in devices:
        body = {
            "activationKey": license.activation_key,
            "hardwareId": device,
            "productName": product.name,
        }
        assert (await seed.api.post("/api/license/activate", body)).status_code == 200
    moment = datetime.now().astimezone() - timedelta(minutes=1)
    stats = ValidationStats(seed.database)
    for device in devices:
        stats._seen[seed.tenant.id, license.activation_key, device] = moment
    writes = 0
    real_write = seed.database.write

    def failing_second_write() -> Any:
        nonlocal writes
        writes += 1
        if writes == 2:
            raise RuntimeError("the database went away")
        return real_write()

    monkeypatch.setattr(seed.database, "write", failing_second_write)
    with pytest.raises(RuntimeError):
        await stats.flush()
    seen = await _last_seen(seed.database, license.id)
    assert [device for device in devices if seen[device] is not None] == devices[:2]
    assert len(stats._seen) == 3

    monkeypatch.setattr(seed.database, "write", real_write)
    await stats.flush()

    seen = await _last_seen(seed.database, license.id)
    assert all(seen[device] is not None for device in devices)
