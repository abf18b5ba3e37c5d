"""/api/plan: upsert (create / update), features, corporate seats, product binding, delete."""

from __future__ import annotations

import pytest

from exisone_server.auth import Permission

from .helpers import assert_error
from .publisher_helpers import call, generate, other_tenant
from .seeding import Seed


async def test_create_with_the_documented_body(seed: Seed) -> None:
    response = await seed.api.post(
        "/api/plan", {"id": None, "name": "Monthly", "durationDays": 30, "isActive": True}
    )

    assert response.status_code == 201, response.text
    plan = response.json()
    assert plan["name"] == "Monthly"
    assert plan["durationDays"] == 30
    assert plan["isActive"] is True
    assert plan["isCorporate"] is False
    assert plan["features"] == []
    assert "maxSeats" not in plan and "productId" not in plan


async def test_update_keeps_fields_not_sent(seed: Seed) -> None:
    created = await seed.api.post(
        "/api/plan",
        {
            "name": "Team",
            "durationDays": 365,
            "isCorporate": True,
            "maxSeats": 10,
            "features": ["Export", "Pro", "Export", " Sync "],
        },
    )
    plan = created.json()
    assert plan["features"] == ["Export", "Pro", "Sync"]

    updated = await seed.api.post(
        "/api/plan", {"id": plan["id"], "name": "Team+", "durationDays": 30, "isActive": False}
    )

    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert body["id"] == plan["id"]
    assert body["name"] == "Team+"
    assert body["durationDays"] == 30
    assert body["isActive"] is False
    assert body["isCorporate"] is True
    assert body["maxSeats"] == 10
    assert body["features"] == ["Export", "Pro", "Sync"]

    replaced = await seed.api.post(
        "/api/plan", {"id": plan["id"], "name": "Team+", "features": ["Pro"], "maxSeats": None}
    )
    assert replaced.json()["features"] == ["Pro"]
    assert "maxSeats" not in replaced.json()


@pytest.mark.parametrize("path", ["/api/plan", "/api/plan/"])
async def test_list_and_read(seed: Seed, path: str) -> None:
    first = (await seed.api.post("/api/plan", {"name": "A", "features": ["X"]})).json()
    await seed.api.post("/api/plan", {"name": "B"})

    listing = await seed.api.get(path)
    assert [plan["name"] for plan in listing.json()] == ["A", "B"]
    one = await seed.api.get(f"/api/plan/{first['id']}")
    assert one.json() == first


async def test_product_binding_and_filter(seed: Seed) -> None:
    product = await seed.product("Bound")
    other = await seed.product("Other")
    await seed.api.post("/api/plan", {"name": "Only", "productId": product.id})
    await seed.api.post("/api/plan", {"name": "Any"})

    for_product = await seed.api.get("/api/plan", params={"productId": product.id})
    for_other = await seed.api.get("/api/plan", params={"productId": other.id})

    assert sorted(plan["name"] for plan in for_product.json()) == ["Any", "Only"]
    assert [plan["name"] for plan in for_other.json()] == ["Any"]


async def test_name_taken_is_409(seed: Seed) -> None:
    await seed.api.post("/api/plan", {"name": "Dup"})
    assert_error(await seed.api.post("/api/plan", {"name": "Dup"}), 409, "plan_exists")


@pytest.mark.parametrize(
    "body",
    [
        {"durationDays": 3},
        {"name": ""},
        {"name": "P", "durationDays": -1},
        {"name": "P", "durationDays": 40_000},
        {"name": "P", "maxSeats": -1},
        {"name": "P", "features": [""]},
        {"name": "P", "features": "Pro"},
        {"name": "P", "id": "one"},
        {"name": "P", "isActive": "yes"},
    ],
)
async def test_bad_input_is_400(seed: Seed, body: dict[str, object]) -> None:
    assert_error(await seed.api.post("/api/plan", body), 400, "invalid_request")


async def test_unknown_ids_are_404(seed: Seed) -> None:
    assert_error(
        await seed.api.post("/api/plan", {"id": 987654, "name": "X"}), 404, "plan_not_found"
    )
    assert_error(await seed.api.get("/api/plan/987654"), 404, "plan_not_found")
    assert_error(await call(seed, "DELETE", "/api/plan/987654"), 404, "plan_not_found")
    assert_error(
        await seed.api.post("/api/plan", {"name": "X", "productId": 987654}),
        404,
        "product_not_found",
    )


async def test_delete_keeps_licenses_made_from_it(seed: Seed) -> None:
    await seed.product()
    plan = (await seed.api.post("/api/plan", {"name": "P", "features": ["Pro"]})).json()
    generated = await generate(seed, planId=plan["id"])

    response = await call(seed, "DELETE", f"/api/plan/{plan['id']}")

    assert response.status_code == 204
    assert_error(await seed.api.get(f"/api/plan/{plan['id']}"), 404, "plan_not_found")
    license = (await seed.api.get(f"/api/license/{generated['activationKey']}")).json()
    assert license["features"] == ["Pro"]
    assert "planId" not in license


async def test_tenant_isolation(seed: Seed) -> None:
    plan = (await seed.api.post("/api/plan", {"name": "Mine"})).json()
    b = await other_tenant(seed)

    assert (await b.api.get("/api/plan")).json() == []
    assert_error(await b.api.get(f"/api/plan/{plan['id']}"), 404, "plan_not_found")
    assert_error(
        await b.api.post("/api/plan", {"id": plan["id"], "name": "Stolen"}), 404, "plan_not_found"
    )
    assert_error(await call(b, "DELETE", f"/api/plan/{plan['id']}"), 404, "plan_not_found")
    assert (await seed.api.get(f"/api/plan/{plan['id']}")).json()["name"] == "Mine"
    product_of_a = await seed.product("A-only")
    assert_error(
        await b.api.post("/api/plan", {"name": "X", "productId": product_of_a.id}),
        404,
        "product_not_found",
    )


async def test_permissions(seed: Seed) -> None:
    reader = await seed.token(Permission.GENERATE)
    verifier = await seed.token(Permission.VERIFY)

    assert (await call(seed, "GET", "/api/plan", token=reader)).status_code == 200
    assert_error(await call(seed, "GET", "/api/plan", token=verifier), 403, "permission_denied")
    assert_error(
        await call(seed, "POST", "/api/plan", {"name": "X"}, token=reader), 403, "permission_denied"
    )
    assert_error(await seed.client.post("/api/plan", json={"name": "X"}), 401, "missing_token")
