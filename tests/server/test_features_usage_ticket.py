"""features/csv, seat usage, support tickets, public key endpoint."""

from __future__ import annotations

from sqlalchemy import select

from exisone_server.auth import Permission
from exisone_server.models import SupportTicket

from .helpers import activate_body, assert_error
from .seeding import Seed


class TestFeaturesCsv:
    async def test_comma_separated_sorted(self, seed: Seed) -> None:
        product = await seed.product()
        plan = await seed.plan(features=("Pro", "Export", "Cloud"))
        license = await seed.license(product, plan=plan)
        api = seed.api_with(await seed.token(Permission.EMAIL))  # any valid token

        response = await api.post(
            "/api/license/features/csv", {"activationKey": license.activation_key.lower()}
        )

        assert response.status_code == 200
        assert response.json() == {"features": "Cloud,Export,Pro"}

    async def test_no_features_is_an_empty_string(self, seed: Seed) -> None:
        product = await seed.product()
        license = await seed.license(product)

        response = await seed.api.post(
            "/api/license/features/csv", {"activationKey": license.activation_key}
        )

        assert response.json() == {"features": ""}

    async def test_unknown_key(self, seed: Seed) -> None:
        response = await seed.api.post(
            "/api/license/features/csv", {"activationKey": "AAAA-AAAA-AAAA-AAAA"}
        )
        assert_error(response, 404, "license_not_found")


class TestSeatUsage:
    async def test_counts_active_seats(self, seed: Seed) -> None:
        product = await seed.product()
        license = await seed.license(product, is_corporate=True, max_seats=3)
        for hardware_id in ("a", "b"):
            await seed.api.post(
                "/api/license/activate", activate_body(license, product, hardware_id)
            )

        response = await seed.api.get(f"/api/license/{license.activation_key}/usage")

        assert response.status_code == 200
        assert response.json() == {
            "currentSeats": 2,
            "maxSeats": 3,
            "hasCapacity": True,
            "isUnlimited": False,
        }

    async def test_full(self, seed: Seed) -> None:
        product = await seed.product()
        license = await seed.license(product, is_corporate=True, max_seats=1)
        await seed.api.post("/api/license/activate", activate_body(license, product))

        body = (await seed.api.get(f"/api/license/{license.activation_key}/usage")).json()

        assert body["hasCapacity"] is False and body["currentSeats"] == 1

    async def test_unlimited(self, seed: Seed) -> None:
        product = await seed.product()
        license = await seed.license(product, is_corporate=True)

        body = (await seed.api.get(f"/api/license/{license.activation_key}/usage")).json()

        assert body == {
            "currentSeats": 0,
            "maxSeats": None,
            "hasCapacity": True,
            "isUnlimited": True,
        }

    async def test_single_device_license_is_404(self, seed: Seed) -> None:
        product = await seed.product()
        license = await seed.license(product)

        response = await seed.api.get(f"/api/license/{license.activation_key}/usage")

        assert_error(response, 404, "not_corporate")

    async def test_unknown_key_is_404(self, seed: Seed) -> None:
        response = await seed.api.get("/api/license/AAAA-AAAA-AAAA-AAAA/usage")
        assert_error(response, 404, "license_not_found")


class TestSupportTicket:
    async def test_stores_the_ticket(self, seed: Seed) -> None:
        product = await seed.product()
        api = seed.api_with(await seed.token(Permission.EMAIL))

        response = await api.post(
            "/api/support/ticket",
            {
                "productName": product.name,
                "email": "user@example.com",
                "subject": "Help",
                "message": "It does not start.",
            },
        )

        assert response.status_code == 200, response.text
        ticket_id = response.json()["ticketId"]
        async with seed.database.read_session() as session:
            ticket = await session.scalar(
                select(SupportTicket).where(SupportTicket.id == ticket_id)
            )
        assert ticket is not None
        assert ticket.tenant_id == seed.tenant.id
        assert ticket.product_id == product.id
        assert (ticket.email, ticket.subject, ticket.message) == (
            "user@example.com",
            "Help",
            "It does not start.",
        )

    async def test_blank_fields_are_400(self, seed: Seed) -> None:
        response = await seed.api.post(
            "/api/support/ticket",
            {"productName": "p", "email": "e@x", "subject": " ", "message": "m"},
        )
        error = assert_error(response, 400, "invalid_request")
        assert "subject" in error["message"]


async def test_public_key_is_pem_text(seed: Seed) -> None:
    response = await seed.api.get("/api/crypto/keys/public")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.startswith("-----BEGIN PUBLIC KEY-----")
    assert response.text.rstrip().endswith("-----END PUBLIC KEY-----")
