"""POST /api/license/deactivate: licenseKey or activationKey, frees the seat, idempotent."""

from __future__ import annotations

from datetime import timedelta

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


async def _release_times(seed: Seed, license_id: int) -> list[tuple[str | None, object]]:
    async with seed.database.read_session() as session:
        rows = await session.execute(
            select(LicenseHistory.actor, LicenseHistory.created_at).where(
                LicenseHistory.license_id == license_id,
                LicenseHistory.action == HistoryAction.DEACTIVATED,
            )
        )
        return [(row.actor, row.created_at) for row in rows]


async def test_the_product_cooldown_applies_to_the_application(seed: Seed) -> None:
    """deactivationCooldownHours: the application's second release inside the cooldown is
    refused with 409 release_cooldown, the time it lifts (retryAt, Retry-After), and the seat
    kept; the publisher is not bound and its release does not start a cooldown."""
    product = await seed.product(deactivation_cooldown_hours=24)
    license = await seed.license(product)
    body = {"licenseKey": license.activation_key, "productName": product.name}
    await seed.api.post("/api/license/activate", activate_body(license, product, "HW-1"))
    first = await seed.api.post("/api/license/deactivate", {**body, "hardwareId": "HW-1"})
    assert first.status_code == 200, first.text
    await seed.api.post("/api/license/activate", activate_body(license, product, "HW-2"))

    second = await seed.api.post("/api/license/deactivate", {**body, "hardwareId": "HW-2"})

    assert_error(second, 409, "release_cooldown")
    [(actor, released_at)] = await _release_times(seed, license.id)
    assert actor == "application"
    lifts = released_at + timedelta(hours=24)  # type: ignore[operator]
    assert second.json()["retryAt"] == lifts.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert 86_000 < int(second.headers["Retry-After"]) <= 86_400
    assert lifts.strftime("%Y-%m-%d %H:%M UTC") in second.json()["message"]
    usage = await seed.api.post("/api/license/activate", activate_body(license, product, "HW-3"))
    assert_error(usage, 409, "license_in_use")  # HW-2 still holds the seat

    # The publisher is not bound, and its release does not count for the customer's rules.
    freed = await seed.api.post(
        f"/api/license/{license.activation_key}/free-device", {"hardwareId": "HW-2"}
    )
    assert freed.status_code == 200, freed.text
    assert sorted(actor or "" for actor, _ in await _release_times(seed, license.id)) == [
        "application",
        "publisher",
    ]
    await seed.api.post("/api/license/activate", activate_body(license, product, "HW-2"))

    # Once the last release is older than the cooldown, the application may release again.
    async with seed.database.write() as session:
        for entry in await session.scalars(
            select(LicenseHistory).where(LicenseHistory.license_id == license.id)
        ):
            entry.created_at -= timedelta(hours=25)
    third = await seed.api.post("/api/license/deactivate", {**body, "hardwareId": "HW-2"})
    assert third.status_code == 200, third.text


async def test_the_30_day_limit_applies_to_the_application(seed: Seed) -> None:
    product = await seed.product(max_releases_per_30_days=2)
    license = await seed.license(product, is_corporate=True, max_seats=5)
    body = {"licenseKey": license.activation_key, "productName": product.name}
    for device in ("HW-1", "HW-2", "HW-3"):
        await seed.api.post("/api/license/activate", activate_body(license, product, device))
    for device in ("HW-1", "HW-2"):
        done = await seed.api.post("/api/license/deactivate", {**body, "hardwareId": device})
        assert done.status_code == 200, done.text

    refused = await seed.api.post("/api/license/deactivate", {**body, "hardwareId": "HW-3"})

    assert_error(refused, 409, "release_limit_reached")
    times = sorted(at for _, at in await _release_times(seed, license.id))
    lifts = times[0] + timedelta(days=30)  # type: ignore[operator]
    assert refused.json()["retryAt"] == lifts.strftime("%Y-%m-%dT%H:%M:%SZ")
    # A device that holds no seat is still a success (nothing to refuse).
    again = await seed.api.post("/api/license/deactivate", {**body, "hardwareId": "HW-1"})
    assert again.status_code == 200 and again.json()["wasActive"] is False
