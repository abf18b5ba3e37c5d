"""POST /api/license/validate with an online key: always 200, isValid + status + reason."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from exisone_server.auth import Permission
from exisone_server.kit.time import utc_now
from exisone_server.models import License, LicenseStatus, Product

from .helpers import activate_body, assert_error, validate_body
from .seeding import Seed


async def _activated(seed: Seed, **product_fields: Any) -> tuple[Product, License]:
    product = await seed.product(**product_fields)
    plan = await seed.plan(features=("Pro", "Export"), duration_days=30)
    license = await seed.license(product, plan=plan)
    assert license.expires_at is not None
    response = await seed.api.post("/api/license/activate", activate_body(license, product))
    assert response.status_code == 200, response.text
    return product, license


async def test_activated_device_is_licensed(seed: Seed) -> None:
    product, license = await _activated(seed)

    response = await seed.api.post(
        "/api/license/validate", validate_body(license, "hw-1", productName=product.name)
    )

    assert response.status_code == 200
    body = response.json()
    assert body["isValid"] is True
    assert body["status"] == "licensed"
    assert body["features"] == ["Export", "Pro"]
    assert license.expires_at is not None
    assert body["expirationDate"] == license.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert abs(license.expires_at - utc_now() - timedelta(days=30)) < timedelta(minutes=1)
    assert "serverVersion" not in body and "minimumRequiredVersion" not in body


async def test_needs_the_verify_permission(seed: Seed) -> None:
    _, license = await _activated(seed)
    api = seed.api_with(await seed.token(Permission.GENERATE, Permission.EMAIL))

    response = await api.post("/api/license/validate", validate_body(license))

    assert_error(response, 403, "permission_denied")


async def test_product_name_is_optional_for_keys(seed: Seed) -> None:
    _, license = await _activated(seed)

    response = await seed.api.post("/api/license/validate", validate_body(license))

    assert response.json()["status"] == "licensed"


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        pytest.param({"status": LicenseStatus.REVOKED}, "invalid", "license_revoked", id="revoked"),
        pytest.param(
            {"status": LicenseStatus.SUSPENDED}, "invalid", "license_suspended", id="suspended"
        ),
        pytest.param(
            {"expires_at": utc_now() - timedelta(days=1)},
            "expired",
            "license_expired",
            id="expired",
        ),
    ],
)
async def test_license_states(
    seed: Seed, change: dict[str, object], status: str, reason: str
) -> None:
    _, license = await _activated(seed)
    await seed.update_license(license, **change)

    response = await seed.api.post("/api/license/validate", validate_body(license))

    assert response.status_code == 200
    body = response.json()
    assert (body["isValid"], body["status"], body["reason"]) == (False, status, reason)
    assert body["features"] == []
    assert body["expirationDate"]


async def test_expired_license_reports_its_expiration_date(seed: Seed) -> None:
    _, license = await _activated(seed)
    expired_at = utc_now().replace(microsecond=0) - timedelta(days=2)
    await seed.update_license(license, expires_at=expired_at)

    body = (await seed.api.post("/api/license/validate", validate_body(license))).json()

    assert body["expirationDate"] == expired_at.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_unknown_key_is_invalid_not_an_error(seed: Seed) -> None:
    response = await seed.api.post(
        "/api/license/validate", {"activationKey": "ZZZZ-ZZZZ-ZZZZ-ZZZZ", "hardwareId": "HW"}
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["isValid"], body["status"], body["reason"]) == (
        False,
        "invalid",
        "license_not_found",
    )
    assert body["expirationDate"].endswith("Z")
    assert body["features"] == []


async def test_other_device_is_invalid(seed: Seed) -> None:
    _, license = await _activated(seed)

    body = (await seed.api.post("/api/license/validate", validate_body(license, "HW-2"))).json()

    assert (body["isValid"], body["status"], body["reason"]) == (False, "invalid", "not_activated")


async def test_wrong_product_is_invalid(seed: Seed) -> None:
    _, license = await _activated(seed)
    other = await seed.product("Other")

    body = (
        await seed.api.post("/api/license/validate", validate_body(license, productName=other.name))
    ).json()

    assert (body["isValid"], body["reason"]) == (False, "product_mismatch")


async def test_deactivated_device_is_invalid(seed: Seed) -> None:
    product, license = await _activated(seed)
    await seed.api.post(
        "/api/license/deactivate",
        {"licenseKey": license.activation_key, "hardwareId": "HW-1", "productName": product.name},
    )

    body = (await seed.api.post("/api/license/validate", validate_body(license))).json()

    assert body["reason"] == "not_activated"


class TestVersions:
    @pytest.mark.parametrize(
        ("client_version", "status"),
        [
            pytest.param("1.9", "version_outdated", id="1.9<1.10"),
            pytest.param("1.10", "licensed", id="1.10"),
            pytest.param("1.10.1", "licensed", id="1.10.1"),
            pytest.param(None, "licensed", id="no-version"),
        ],
    )
    async def test_numeric_comparison(
        self, seed: Seed, client_version: str | None, status: str
    ) -> None:
        product = await seed.product(
            version="1.12", minimum_required_version="1.10", enforce_version_check=True
        )
        license = await seed.license(product)
        await seed.api.post(
            "/api/license/activate", activate_body(license, product, version="1.12")
        )
        extra = {"version": client_version} if client_version else {}

        body = (
            await seed.api.post("/api/license/validate", validate_body(license, **extra))
        ).json()

        assert body["status"] == status
        assert body["isValid"] is (status == "licensed")
        assert body["serverVersion"] == "1.12"
        assert body["minimumRequiredVersion"] == "1.10"
