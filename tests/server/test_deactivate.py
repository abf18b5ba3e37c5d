"""POST /api/license/deactivate: licenseKey or activationKey, frees the seat, idempotent."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from exisone_server.models import Activation, HistoryAction, LicenseHistory

from .helpers import activate_body, assert_error
from .seeding import Seed


@pytest.mark.parametrize("key_field", ["licenseKey", "activationKey"])
async def test_frees_the_seat(seed: Seed, key_field: str) -> None:
    product = await seed.product()
    license = await seed.license(product)
    await seed.api.post("/api/license/activate", activate_body(license, product, "HW-1"))

    response = await seed.api.post(
        "/api/license/deactivate",
        {key_field: license.activation_key, "hardwareId": "hw-1", "productName": product.name},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True and body["wasActive"] is True and body["currentSeats"] == 0
    moved = await seed.api.post("/api/license/activate", activate_body(license, product, "HW-2"))
    assert moved.status_code == 200, moved.text


async def test_repeated_deactivation_is_a_success(seed: Seed) -> None:
    product = await seed.product()
    license = await seed.license(product)
    await seed.api.post("/api/license/activate", activate_body(license, product))
    body = {"licenseKey": license.activation_key, "hardwareId": "HW-1", "productName": product.name}

    first = await seed.api.post("/api/license/deactivate", body)
    second = await seed.api.post("/api/license/deactivate", body)

    assert first.status_code == second.status_code == 200
    assert second.json()["wasActive"] is False
    async with seed.database.read_session() as session:
        actions = (
            await session.scalars(
                select(LicenseHistory.action).where(LicenseHistory.license_id == license.id)
            )
        ).all()
    assert actions.count(HistoryAction.DEACTIVATED) == 1


async def test_keeps_the_activation_row_as_history(seed: Seed) -> None:
    product = await seed.product()
    license = await seed.license(product)
    await seed.api.post("/api/license/activate", activate_body(license, product))
    await seed.api.post(
        "/api/license/deactivate", {"licenseKey": license.activation_key, "hardwareId": "HW-1"}
    )
    await seed.api.post("/api/license/activate", activate_body(license, product))

    async with seed.database.read_session() as session:
        rows = (
            await session.scalars(select(Activation).where(Activation.license_id == license.id))
        ).all()
    assert len(rows) == 2
    assert sum(row.deactivated_at is None for row in rows) == 1


async def test_unknown_key_is_404(seed: Seed) -> None:
    response = await seed.api.post(
        "/api/license/deactivate", {"licenseKey": "AAAA-AAAA-AAAA-AAAA", "hardwareId": "HW"}
    )
    assert_error(response, 404, "license_not_found")


async def test_missing_key_is_404(seed: Seed) -> None:
    response = await seed.api.post("/api/license/deactivate", {"hardwareId": "HW"})
    assert_error(response, 404, "license_not_found")


async def test_wrong_product_is_refused(seed: Seed) -> None:
    product = await seed.product("One")
    other = await seed.product("Two")
    license = await seed.license(product)
    await seed.api.post("/api/license/activate", activate_body(license, product))

    response = await seed.api.post(
        "/api/license/deactivate",
        {"licenseKey": license.activation_key, "hardwareId": "HW-1", "productName": other.name},
    )

    assert_error(response, 409, "product_mismatch")


async def test_needs_no_special_permission(seed: Seed) -> None:
    from exisone_server.auth import Permission

    product = await seed.product()
    license = await seed.license(product)
    api = seed.api_with(await seed.token(Permission.EMAIL))
    await api.post("/api/license/activate", activate_body(license, product))

    response = await api.post(
        "/api/license/deactivate", {"licenseKey": license.activation_key, "hardwareId": "HW-1"}
    )

    assert response.status_code == 200
    assert response.json()["wasActive"] is True
