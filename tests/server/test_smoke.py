"""First end-to-end checks of the foundation (replaced by the detailed suites)."""

from __future__ import annotations

from .seeding import Seed


async def test_activate_then_validate(seed: Seed) -> None:
    product = await seed.product(trial_days=7, version="2.0")
    plan = await seed.plan(features=("Pro", "Export"))
    license = await seed.license(product, plan=plan)
    response = await seed.api.post(
        "/api/license/activate",
        {
            "activationKey": license.activation_key,
            "hardwareId": "hw-1",
            "productName": product.name,
            "email": "a@b.c",
        },
    )
    assert response.status_code == 200, response.text
    response = await seed.api.post(
        "/api/license/validate",
        {
            "activationKey": license.activation_key,
            "hardwareId": "HW-1",
            "productName": product.name,
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["isValid"] is True, body
    assert body["features"] == ["Export", "Pro"]
    assert body["expirationDate"] == "2049-12-31T23:59:59Z"
