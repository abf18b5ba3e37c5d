"""Offline codes: issuing (service), verifying with the published key, validate accepts them."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from exisone.protocol import load_public_keys, verify_offline_code
from exisone_server.crypto.service import rotate_crypto_key
from exisone_server.errors import ApiError
from exisone_server.kit.time import utc_now
from exisone_server.licenses.offline import OfflineActivation, issue_offline_activation
from exisone_server.licenses.service import count_active_seats, find_license
from exisone_server.models import License, LicenseStatus, Product

from .helpers import activate_body
from .seeding import Seed

PAYLOAD_KEYS = [
    "productId",
    "productName",
    "hardwareId",
    "expirationDate",
    "email",
    "features",
    "tenantId",
    "version",
    "activationKey",
    "issuedAt",
    "kid",  # the signing key's fingerprint (key rotation; docs/resilience.md)
]


async def _issue(seed: Seed, license: License, hardware_id: str = "Dev-1") -> OfflineActivation:
    async with seed.database.write() as session:
        locked = await find_license(session, seed.tenant.id, license.activation_key, lock=True)
        assert locked is not None
        return await issue_offline_activation(session, locked, hardware_id, seed.master_key)


async def _licensed(seed: Seed, **license_fields: object) -> tuple[Product, License]:
    product = await seed.product(version="1.0.0")
    plan = await seed.plan(features=("Pro", "Export"))
    license = await seed.license(product, plan=plan, **license_fields)
    return product, license


async def test_code_verifies_with_the_published_public_key(seed: Seed) -> None:
    product, license = await _licensed(seed)

    issued = await _issue(seed, license)
    pem = (await seed.api.get("/api/crypto/keys/public")).text

    verified = verify_offline_code(issued.code, load_public_keys(pem))
    assert list(verified.payload) == PAYLOAD_KEYS
    assert verified.payload["productId"] == product.id
    assert verified.payload["productName"] == product.name
    assert verified.payload["hardwareId"] == "DEV-1"
    assert verified.payload["expirationDate"] == "2049-12-31T23:59:59Z"
    assert verified.payload["features"] == ["Export", "Pro"]
    assert verified.payload["tenantId"] == seed.tenant.id
    assert verified.payload["version"] == "1.0.0"
    assert verified.payload["activationKey"] == license.activation_key
    assert issued.seat_taken is True


async def test_issuing_takes_the_seat_and_is_stored(seed: Seed) -> None:
    product, license = await _licensed(seed)
    issued = await _issue(seed, license)

    async with seed.database.read_session() as session:
        row = await session.get(License, license.id)
        assert row is not None
        assert row.is_offline is True and row.offline_code == issued.code
        assert await count_active_seats(session, license.id) == 1
    other = await seed.api.post("/api/license/activate", activate_body(license, product, "dev-2"))
    assert other.status_code == 409


async def test_issuing_follows_the_activation_rules(seed: Seed) -> None:
    _, license = await _licensed(seed)
    await _issue(seed, license, "dev-1")
    again = await _issue(seed, license, "DEV-1")
    assert again.seat_taken is False

    with pytest.raises(ApiError) as refused:
        await _issue(seed, license, "dev-2")
    assert refused.value.code == "license_in_use"


class TestValidateWithCode:
    async def test_valid_code_is_licensed(self, seed: Seed) -> None:
        _, license = await _licensed(seed)
        issued = await _issue(seed, license)

        response = await seed.api.post(
            "/api/license/validate", {"activationKey": issued.code, "hardwareId": "dev-1"}
        )

        assert response.status_code == 200
        body = response.json()
        assert (body["isValid"], body["status"]) == (True, "licensed")
        assert body["features"] == ["Export", "Pro"]
        assert body["serverVersion"] == "1.0.0"

    async def test_other_device_is_invalid(self, seed: Seed) -> None:
        _, license = await _licensed(seed)
        issued = await _issue(seed, license)

        body = (
            await seed.api.post(
                "/api/license/validate", {"activationKey": issued.code, "hardwareId": "dev-9"}
            )
        ).json()

        assert (body["isValid"], body["reason"]) == (False, "hardware_mismatch")

    async def test_tampered_code_is_invalid_not_an_error(self, seed: Seed) -> None:
        _, license = await _licensed(seed)
        issued = await _issue(seed, license)
        symbols = issued.code.replace("-", "")
        middle = len(symbols) // 2
        tampered = (
            symbols[:middle] + ("0" if symbols[middle] != "0" else "1") + symbols[middle + 1 :]
        )

        for code in (tampered, "A" * 60, issued.code[:-10]):
            response = await seed.api.post(
                "/api/license/validate", {"activationKey": code, "hardwareId": "dev-1"}
            )
            assert response.status_code == 200
            assert (response.json()["isValid"], response.json()["reason"]) == (
                False,
                "offline_code_invalid",
            )

    async def test_code_of_another_tenant_is_invalid(self, seed: Seed) -> None:
        _, license = await _licensed(seed)
        issued = await _issue(seed, license)
        other = await Seed.create(seed.database, seed.master_key, seed.client)

        body = (
            await other.api.post(
                "/api/license/validate", {"activationKey": issued.code, "hardwareId": "dev-1"}
            )
        ).json()

        assert body["reason"] == "offline_code_invalid"

    async def test_current_license_state_wins(self, seed: Seed) -> None:
        _, license = await _licensed(seed)
        issued = await _issue(seed, license)
        await seed.update_license(license, status=LicenseStatus.REVOKED)

        body = (
            await seed.api.post(
                "/api/license/validate", {"activationKey": issued.code, "hardwareId": "dev-1"}
            )
        ).json()

        assert (body["isValid"], body["reason"]) == (False, "license_revoked")

    async def test_expired_code(self, seed: Seed) -> None:
        _, license = await _licensed(seed, validity_days=10)
        issued = await _issue(seed, license)
        await seed.update_license(license, expires_at=utc_now() - timedelta(days=1))

        body = (
            await seed.api.post(
                "/api/license/validate", {"activationKey": issued.code, "hardwareId": "dev-1"}
            )
        ).json()

        assert (body["isValid"], body["status"]) == (False, "expired")

    async def test_codes_signed_before_a_key_rotation_still_validate(self, seed: Seed) -> None:
        _, license = await _licensed(seed)
        issued = await _issue(seed, license)
        old_pem = (await seed.api.get("/api/crypto/keys/public")).text
        async with seed.database.write() as session:
            await rotate_crypto_key(session, seed.tenant.id, seed.master_key)

        body = (
            await seed.api.post(
                "/api/license/validate", {"activationKey": issued.code, "hardwareId": "dev-1"}
            )
        ).json()
        listing = (await seed.api.get("/api/crypto/keys")).json()

        assert body["status"] == "licensed"
        assert (await seed.api.get("/api/crypto/keys/public")).text != old_pem
        rsa = [key for key in listing if key["algorithm"] == "rsa"]
        assert [key["isCurrent"] for key in rsa] == [True, False]
        assert rsa[1]["publicKey"] == old_pem
        assert "retiredAt" in rsa[1]
        assert json.dumps(listing).count("PRIVATE") == 0


async def test_an_application_cannot_free_a_seat_that_backs_an_offline_code(
    seed: Seed,
) -> None:
    """A released offline seat would leave its signed code valid on the first device while a
    second one takes the seat: only the publisher frees it (rules.may_release)."""
    product, license = await _licensed(seed)
    issued = await _issue(seed, license)

    for key in (issued.code, license.activation_key):  # the code, or the key behind it
        refused = await seed.api.post(
            "/api/license/deactivate", {"licenseKey": key, "hardwareId": "dev-1"}
        )
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"] == "offline_seat"
    second = activate_body(license, product)
    second["hardwareId"] = "dev-2"
    taken = await seed.api.post("/api/license/activate", second)
    validated = await seed.api.post(
        "/api/license/validate", {"activationKey": issued.code, "hardwareId": "dev-1"}
    )

    assert taken.status_code == 409 and taken.json()["error"] == "license_in_use"
    assert validated.json()["status"] == "licensed"
    async with seed.database.read_session() as session:
        assert await count_active_seats(session, license.id) == 1


async def test_an_offline_code_makes_an_online_seat_offline_bound(seed: Seed) -> None:
    product, license = await _licensed(seed)
    body = activate_body(license, product)
    assert (await seed.api.post("/api/license/activate", body)).status_code == 200
    await _issue(seed, license, body["hardwareId"])

    refused = await seed.api.post(
        "/api/license/deactivate",
        {"licenseKey": license.activation_key, "hardwareId": body["hardwareId"]},
    )

    assert refused.status_code == 409 and refused.json()["error"] == "offline_seat"


async def test_a_code_whose_seat_the_publisher_freed_fails_online(seed: Seed) -> None:
    product, license = await _licensed(seed)
    issued = await _issue(seed, license)

    freed = await seed.api.post(
        f"/api/license/{license.activation_key}/free-device", {"hardwareId": "dev-1"}
    )
    validated = await seed.api.post(
        "/api/license/validate", {"activationKey": issued.code, "hardwareId": "dev-1"}
    )
    second = activate_body(license, product)
    second["hardwareId"] = "dev-2"
    moved = await seed.api.post("/api/license/activate", second)
    repeated = await seed.api.post(
        "/api/license/deactivate", {"licenseKey": issued.code, "hardwareId": "dev-1"}
    )

    assert freed.status_code == 200, freed.text
    assert (validated.json()["status"], validated.json()["reason"]) == ("invalid", "not_activated")
    assert moved.status_code == 200, moved.text
    assert repeated.status_code == 200  # the code still names its key; no seat to free
    assert repeated.json()["wasActive"] is False
