"""Concurrent requests never break the seat and trial invariants (in-process, both databases)."""

from __future__ import annotations

import asyncio

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
