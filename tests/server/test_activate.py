"""POST /api/license/activate: binding, idempotency, seats, versions, license states, history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from exisone_server.kit.time import utc_now
from exisone_server.models import Activation, HistoryAction, LicenseHistory, LicenseStatus

from .helpers import activate_body, assert_error
from .seeding import Seed


class TestSingleDevice:
    async def test_first_activation_binds_the_device(self, seed: Seed) -> None:
        product = await seed.product(version="2.0")
        plan = await seed.plan(features=("Pro", "Export"))
        license = await seed.license(product, plan=plan)

        response = await seed.api.post("/api/license/activate", activate_body(license, product))

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["success"] is True
        assert body["activationKey"] == license.activation_key
        assert body["hardwareId"] == "HW-1"
        assert body["features"] == ["Export", "Pro"]
        assert body["expirationDate"] == "2049-12-31T23:59:59Z"
        assert body["serverVersion"] == "2.0"
        assert body["alreadyActivated"] is False
        assert "minimumRequiredVersion" not in body

    async def test_same_device_again_is_idempotent(self, seed: Seed) -> None:
        product = await seed.product()
        license = await seed.license(product)
        first = await seed.api.post("/api/license/activate", activate_body(license, product))
        again = await seed.api.post(
            "/api/license/activate", activate_body(license, product, hardware_id=" hw-1 ")
        )

        assert first.status_code == again.status_code == 200
        assert again.json()["alreadyActivated"] is True
        async with seed.database.read_session() as session:
            rows = (
                await session.scalars(select(Activation).where(Activation.license_id == license.id))
            ).all()
        assert len(rows) == 1

    async def test_another_device_is_refused(self, seed: Seed) -> None:
        product = await seed.product()
        license = await seed.license(product)
        await seed.api.post("/api/license/activate", activate_body(license, product, "HW-1"))

        response = await seed.api.post(
            "/api/license/activate", activate_body(license, product, "HW-2")
        )

        assert_error(response, 409, "license_in_use")

    async def test_key_is_case_insensitive(self, seed: Seed) -> None:
        product = await seed.product()
        license = await seed.license(product)
        body = activate_body(license, product)
        body["activationKey"] = f"  {license.activation_key.lower()} "

        response = await seed.api.post("/api/license/activate", body)

        assert response.status_code == 200, response.text

    async def test_records_history_with_hardware_id_and_ip(self, seed: Seed) -> None:
        product = await seed.product()
        license = await seed.license(product)
        await seed.api.post("/api/license/activate", activate_body(license, product, "abc-def"))

        async with seed.database.read_session() as session:
            events = (
                await session.scalars(
                    select(LicenseHistory)
                    .where(LicenseHistory.license_id == license.id)
                    .order_by(LicenseHistory.seq)
                )
            ).all()
        assert [event.action for event in events] == [
            HistoryAction.CREATED,
            HistoryAction.ACTIVATED,
        ]
        activated = events[1]
        assert activated.hardware_id == "ABC-DEF"
        assert activated.ip_address == "127.0.0.1"
        assert activated.access_token_id is not None
        assert abs(activated.created_at - utc_now()) < timedelta(minutes=1)


class TestCorporate:
    async def test_one_seat_per_distinct_device_up_to_max_seats(self, seed: Seed) -> None:
        product = await seed.product()
        license = await seed.license(product, is_corporate=True, max_seats=2)

        responses = [
            await seed.api.post("/api/license/activate", activate_body(license, product, hw))
            for hw in ("A", "B", "a", "C")
        ]

        assert [r.status_code for r in responses[:3]] == [200, 200, 200]
        assert [r.json()["currentSeats"] for r in responses[:3]] == [1, 2, 2]
        assert responses[0].json()["maxSeats"] == 2
        body = assert_error(responses[3], 409, "seat_limit_reached")
        assert body["currentSeats"] == 2 and body["maxSeats"] == 2

    async def test_unlimited_when_max_seats_is_null(self, seed: Seed) -> None:
        product = await seed.product()
        license = await seed.license(product, is_corporate=True, max_seats=None)

        for index in range(6):
            response = await seed.api.post(
                "/api/license/activate", activate_body(license, product, f"D{index}")
            )
            assert response.status_code == 200, response.text
        assert "maxSeats" not in response.json()
        assert response.json()["currentSeats"] == 6

    async def test_deactivation_frees_a_seat(self, seed: Seed) -> None:
        product = await seed.product()
        license = await seed.license(product, is_corporate=True, max_seats=1)
        await seed.api.post("/api/license/activate", activate_body(license, product, "A"))
        refused = await seed.api.post("/api/license/activate", activate_body(license, product, "B"))
        assert_error(refused, 409, "seat_limit_reached")

        freed = await seed.api.post(
            "/api/license/deactivate",
            {"licenseKey": license.activation_key, "hardwareId": "A", "productName": product.name},
        )
        accepted = await seed.api.post(
            "/api/license/activate", activate_body(license, product, "B")
        )

        assert freed.status_code == 200
        assert accepted.status_code == 200, accepted.text


class TestRefusals:
    async def test_unknown_key(self, seed: Seed) -> None:
        product = await seed.product()
        body = {
            "activationKey": "AAAA-BBBB-CCCC-DDDD",
            "hardwareId": "HW",
            "productName": product.name,
            "email": "x@example.com",
        }
        assert_error(await seed.api.post("/api/license/activate", body), 404, "license_not_found")

    async def test_product_mismatch(self, seed: Seed) -> None:
        product = await seed.product("One")
        other = await seed.product("Two")
        license = await seed.license(product)

        response = await seed.api.post("/api/license/activate", activate_body(license, other))

        assert_error(response, 409, "product_mismatch")

    @pytest.mark.parametrize(
        ("status", "code"),
        [
            pytest.param(LicenseStatus.REVOKED, "license_revoked", id="revoked"),
            pytest.param(LicenseStatus.SUSPENDED, "license_suspended", id="suspended"),
        ],
    )
    async def test_blocked_license(self, seed: Seed, status: LicenseStatus, code: str) -> None:
        product = await seed.product()
        license = await seed.license(product)
        await seed.update_license(license, status=status)

        response = await seed.api.post("/api/license/activate", activate_body(license, product))

        assert_error(response, 409, code)

    async def test_expired_license(self, seed: Seed) -> None:
        product = await seed.product()
        license = await seed.license(product, validity_days=30)
        await seed.update_license(license, expires_at=utc_now() - timedelta(seconds=1))

        response = await seed.api.post("/api/license/activate", activate_body(license, product))

        assert_error(response, 409, "license_expired")

    async def test_inactive_product(self, seed: Seed) -> None:
        product = await seed.product(is_active=False)
        license = await seed.license(product)

        response = await seed.api.post("/api/license/activate", activate_body(license, product))

        assert_error(response, 409, "product_inactive")

    async def test_blank_hardware_id_is_a_bad_request(self, seed: Seed) -> None:
        product = await seed.product()
        license = await seed.license(product)

        response = await seed.api.post(
            "/api/license/activate", activate_body(license, product, "   ")
        )

        assert_error(response, 400, "invalid_request")

    async def test_missing_fields_are_a_bad_request(self, seed: Seed) -> None:
        response = await seed.api.post("/api/license/activate", {"activationKey": "X"})
        body = assert_error(response, 400, "invalid_request")
        assert "hardwareId" in body["message"]


class TestVersionEnforcement:
    @pytest.mark.parametrize(
        ("client_version", "allowed"),
        [
            pytest.param("1.9", False, id="1.9<1.10"),
            pytest.param("1.9.99", False, id="1.9.99<1.10"),
            pytest.param("1.10", True, id="equal"),
            pytest.param("1.10.0", True, id="trailing-zero"),
            pytest.param("1.11", True, id="newer"),
            pytest.param("2", True, id="major"),
        ],
    )
    async def test_numeric_comparison(self, seed: Seed, client_version: str, allowed: bool) -> None:
        product = await seed.product(
            version="1.12", minimum_required_version="1.10", enforce_version_check=True
        )
        license = await seed.license(product)

        response = await seed.api.post(
            "/api/license/activate", activate_body(license, product, version=client_version)
        )

        if allowed:
            assert response.status_code == 200, response.text
        else:
            body = assert_error(response, 409, "version_outdated")
            assert body["serverVersion"] == "1.12"
            assert body["minimumRequiredVersion"] == "1.10"

    async def test_not_enforced_when_the_product_says_so(self, seed: Seed) -> None:
        product = await seed.product(minimum_required_version="3.0", enforce_version_check=False)
        license = await seed.license(product)

        response = await seed.api.post(
            "/api/license/activate", activate_body(license, product, version="1.0")
        )

        assert response.status_code == 200, response.text
        assert response.json()["minimumRequiredVersion"] == "3.0"

    async def test_a_client_without_version_is_not_refused(self, seed: Seed) -> None:
        product = await seed.product(minimum_required_version="3.0", enforce_version_check=True)
        license = await seed.license(product)

        response = await seed.api.post("/api/license/activate", activate_body(license, product))

        assert response.status_code == 200, response.text
