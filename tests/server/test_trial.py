"""Trial mode: no key + productName. One trial per product and device, never reset."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from exisone.protocol import parse_datetime
from exisone_server.kit.time import utc_now
from exisone_server.models import Trial

from .helpers import activate_body
from .seeding import Seed


@pytest.mark.parametrize(
    "key_field",
    [
        pytest.param({}, id="missing"),
        pytest.param({"activationKey": None}, id="null"),
        pytest.param({"activationKey": ""}, id="empty"),
        pytest.param({"activationKey": "   "}, id="blank"),
    ],
)
async def test_first_visit_starts_the_trial(seed: Seed, key_field: dict[str, object]) -> None:
    product = await seed.product(trial_days=14, version="3.1")

    response = await seed.api.post(
        "/api/license/validate", {"hardwareId": "dev-1", "productName": product.name, **key_field}
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["isValid"], body["status"], body["reason"]) == (True, "trial", "trial_active")
    assert body["remainingDays"] == 14
    assert body["features"] == []
    assert body["serverVersion"] == "3.1"
    expires = parse_datetime(body["expirationDate"])
    assert abs(expires - (utc_now() + timedelta(days=14))) < timedelta(minutes=1)


async def test_same_device_keeps_its_expiry(seed: Seed) -> None:
    product = await seed.product(trial_days=14)
    body = {"hardwareId": "dev-1", "productName": product.name}
    first = (await seed.api.post("/api/license/validate", body)).json()
    async with seed.database.write() as session:
        await session.execute(
            update(Trial)
            .where(Trial.product_id == product.id)
            .values(expires_at=utc_now() + timedelta(days=3, hours=2))
        )

    again = (await seed.api.post("/api/license/validate", {**body, "hardwareId": "DEV-1"})).json()

    assert again["remainingDays"] == 4  # partial days round up
    assert again["expirationDate"] != first["expirationDate"]
    async with seed.database.read_session() as session:
        trials = (await session.scalars(select(Trial).where(Trial.product_id == product.id))).all()
    assert len(trials) == 1


async def test_ended_trial_is_expired_and_never_restarts(seed: Seed) -> None:
    product = await seed.product(trial_days=7)
    body = {"hardwareId": "dev-1", "productName": product.name}
    await seed.api.post("/api/license/validate", body)
    async with seed.database.write() as session:
        await session.execute(
            update(Trial)
            .where(Trial.product_id == product.id)
            .values(expires_at=utc_now() - timedelta(hours=1))
        )

    for _ in range(2):
        answer = (await seed.api.post("/api/license/validate", body)).json()
        assert (answer["isValid"], answer["status"], answer["reason"]) == (
            False,
            "expired",
            "trial_expired",
        )
        assert answer["remainingDays"] == 0


async def test_trials_are_per_device_and_product(seed: Seed) -> None:
    first = await seed.product("First", trial_days=5)
    second = await seed.product("Second", trial_days=9)

    a = await seed.api.post("/api/license/validate", {"hardwareId": "d", "productName": first.name})
    b = await seed.api.post(
        "/api/license/validate", {"hardwareId": "d", "productName": second.name}
    )
    c = await seed.api.post("/api/license/validate", {"hardwareId": "e", "productName": first.name})

    assert [r.json()["remainingDays"] for r in (a, b, c)] == [5, 9, 5]


async def test_a_device_ever_activated_gets_no_trial_even_after_deactivation(seed: Seed) -> None:
    product = await seed.product(trial_days=30)
    license = await seed.license(product)
    await seed.api.post("/api/license/activate", activate_body(license, product, "dev-1"))
    await seed.api.post(
        "/api/license/deactivate",
        {"licenseKey": license.activation_key, "hardwareId": "dev-1", "productName": product.name},
    )

    body = (
        await seed.api.post(
            "/api/license/validate", {"hardwareId": "DEV-1", "productName": product.name}
        )
    ).json()

    assert (body["isValid"], body["status"], body["reason"]) == (
        False,
        "invalid",
        "device_previously_activated",
    )


async def test_trial_then_deactivation_does_not_reset_it(seed: Seed) -> None:
    product = await seed.product(trial_days=30)
    body = {"hardwareId": "dev-1", "productName": product.name}
    first = (await seed.api.post("/api/license/validate", body)).json()
    # "reinstalling" = deactivate calls with no seat + a new validate: same trial record
    license = await seed.license(product)
    await seed.api.post(
        "/api/license/deactivate",
        {"licenseKey": license.activation_key, "hardwareId": "dev-1", "productName": product.name},
    )

    again = (await seed.api.post("/api/license/validate", body)).json()

    assert again["expirationDate"] == first["expirationDate"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param({"hardwareId": "d"}, "product_name_required", id="no-product"),
        pytest.param({"hardwareId": "d", "productName": "Nope"}, "product_not_found", id="unknown"),
    ],
)
async def test_unusable_requests_are_invalid(seed: Seed, body: dict[str, str], reason: str) -> None:
    response = await seed.api.post("/api/license/validate", body)

    assert response.status_code == 200
    answer = response.json()
    assert (answer["isValid"], answer["status"], answer["reason"]) == (False, "invalid", reason)
    assert answer["expirationDate"].endswith("Z")


async def test_product_without_trial(seed: Seed) -> None:
    product = await seed.product(trial_days=0)

    answer = (
        await seed.api.post(
            "/api/license/validate", {"hardwareId": "d", "productName": product.name}
        )
    ).json()

    assert (answer["isValid"], answer["reason"]) == (False, "trial_not_available")


async def test_outdated_version_during_trial(seed: Seed) -> None:
    product = await seed.product(
        trial_days=3, version="2.0", minimum_required_version="1.10", enforce_version_check=True
    )

    answer = (
        await seed.api.post(
            "/api/license/validate",
            {"hardwareId": "d", "productName": product.name, "version": "1.9"},
        )
    ).json()

    assert (answer["isValid"], answer["status"]) == (False, "version_outdated")
    assert answer["minimumRequiredVersion"] == "1.10"
