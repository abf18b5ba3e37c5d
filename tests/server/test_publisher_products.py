"""/api/product: listing (with and without trailing slash), CRUD, validation, isolation, auth."""

from __future__ import annotations

import re

import pytest

from exisone_server.auth import Permission

from .helpers import assert_error
from .publisher_helpers import call, generate, other_tenant
from .seeding import Seed

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.mark.parametrize("path", ["/api/product/", "/api/product"])
async def test_list_has_the_mcp_product_fields(seed: Seed, path: str) -> None:
    await seed.product("Alpha", version="1.2", trial_days=14, minimum_required_version="1.0")
    await seed.product("Beta")

    response = await seed.api.get(path)

    assert response.status_code == 200, response.text
    products = response.json()
    assert [p["name"] for p in products] == ["Alpha", "Beta"]
    alpha = products[0]
    for field in (
        "id",
        "name",
        "version",
        "description",
        "isActive",
        "price",
        "trialDays",
        "defaultLicenseDays",
        "enforceVersionCheck",
        "sendPurchaseEmail",
        "sendRenewalReminders",
        "createdAt",
    ):
        assert field in alpha, field
    assert alpha["version"] == "1.2"
    assert alpha["trialDays"] == 14
    assert alpha["minimumRequiredVersion"] == "1.0"
    assert alpha["price"] == 0
    assert DATE.match(alpha["createdAt"])
    assert products[1]["version"] == ""  # a string even when none is announced


async def test_create_read_update(seed: Seed) -> None:
    created = await seed.api.post(
        "/api/product",
        {
            "name": "  Editor  ",
            "version": "3.1",
            "price": 49.99,
            "trialDays": 30,
            "defaultLicenseDays": 365,
            "enforceVersionCheck": True,
            "minimumRequiredVersion": "3.0",
            "renewalReminderDays": 7,
            "deactivationCooldownHours": 24,
        },
    )
    assert created.status_code == 201, created.text
    product = created.json()
    assert product["name"] == "Editor"
    assert product["price"] == 49.99
    assert product["isActive"] is True
    assert product["deactivationCooldownHours"] == 24
    assert "updatedAt" not in product

    read = await seed.api.get(f"/api/product/{product['id']}")
    assert read.json() == product

    patched = await call(
        seed, "PATCH", f"/api/product/{product['id']}", {"trialDays": 7, "version": None}
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["trialDays"] == 7
    assert body["version"] == ""
    assert body["price"] == 49.99  # untouched
    assert DATE.match(body["updatedAt"])

    put = await call(seed, "PUT", f"/api/product/{product['id']}", {"isActive": False})
    assert put.status_code == 200
    assert put.json()["isActive"] is False


async def test_product_settings_drive_the_client_endpoints(seed: Seed) -> None:
    """A product made over the API is the one clients activate against (trial days here)."""
    created = await seed.api.post("/api/product", {"name": "Trialware", "trialDays": 5})
    assert created.status_code == 201

    response = await seed.api.post(
        "/api/license/validate", {"hardwareId": "DEV", "productName": "Trialware"}
    )

    assert response.json()["status"] == "trial"
    assert response.json()["remainingDays"] == 5


async def test_duplicate_name_is_409(seed: Seed) -> None:
    await seed.product("Same")
    response = await seed.api.post("/api/product", {"name": "Same"})
    assert_error(response, 409, "product_exists")

    other = await seed.api.post("/api/product", {"name": "Other"})
    renamed = await call(seed, "PATCH", f"/api/product/{other.json()['id']}", {"name": "Same"})
    assert_error(renamed, 409, "product_exists")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 201},
        {"name": "P", "trialDays": -1},
        {"name": "P", "defaultLicenseDays": 10**9},
        {"name": "P", "price": -5},
        {"name": "P", "price": "free"},
        {"name": "P", "trialDays": None},
        {"name": "P", "renewalReminderDays": -2},
        {"name": 5},
    ],
)
async def test_bad_input_is_400(seed: Seed, body: dict[str, object]) -> None:
    response = await seed.api.post("/api/product", body)
    assert_error(response, 400, "invalid_request")


async def test_malformed_json_is_400(seed: Seed) -> None:
    response = await seed.client.post(
        "/api/product",
        content=b"{not json",
        headers={**seed.api.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_json", "invalid_request")
    assert response.json()["message"]


async def test_default_plan_must_be_the_tenants(seed: Seed) -> None:
    plan = await seed.plan("Gold")
    ok = await seed.api.post("/api/product", {"name": "P", "defaultPlanId": plan.id})
    assert ok.status_code == 201
    assert ok.json()["defaultPlanId"] == plan.id

    b = await other_tenant(seed)
    foreign = await b.plan("Foreign")
    response = await seed.api.post("/api/product", {"name": "Q", "defaultPlanId": foreign.id})
    assert_error(response, 404, "plan_not_found")


async def test_missing_product_is_404(seed: Seed) -> None:
    assert_error(await seed.api.get("/api/product/999999"), 404, "product_not_found")
    assert_error(
        await call(seed, "PATCH", "/api/product/999999", {"trialDays": 1}),
        404,
        "product_not_found",
    )
    assert_error(await call(seed, "DELETE", "/api/product/999999"), 404, "product_not_found")
    assert_error(await seed.api.get("/api/product/abc"), 404, "not_found")


async def test_delete_without_licenses(seed: Seed) -> None:
    product = await seed.product("Gone")
    response = await call(seed, "DELETE", f"/api/product/{product.id}")
    assert response.status_code == 204
    assert_error(await seed.api.get(f"/api/product/{product.id}"), 404, "product_not_found")


async def test_delete_with_licenses_is_refused_deactivate_instead(seed: Seed) -> None:
    product = await seed.product()
    generated = await generate(seed)

    response = await call(seed, "DELETE", f"/api/product/{product.id}")
    assert_error(response, 409, "product_has_licenses")

    await call(seed, "PATCH", f"/api/product/{product.id}", {"isActive": False})
    validation = await seed.api.post(
        "/api/license/validate",
        {"activationKey": generated["activationKey"], "hardwareId": "HW-1"},
    )
    assert validation.json()["isValid"] is False


async def test_tenant_isolation(seed: Seed) -> None:
    product = await seed.product("Secret")
    b = await other_tenant(seed)

    listing = await b.api.get("/api/product/")
    assert listing.json() == []
    assert_error(await b.api.get(f"/api/product/{product.id}"), 404, "product_not_found")
    assert_error(
        await call(b, "PATCH", f"/api/product/{product.id}", {"name": "Mine"}),
        404,
        "product_not_found",
    )
    assert_error(await call(b, "DELETE", f"/api/product/{product.id}"), 404, "product_not_found")
    # B may use the same name: names are unique per tenant only.
    assert (await b.api.post("/api/product", {"name": "Secret"})).status_code == 201


async def test_permissions(seed: Seed) -> None:
    product = await seed.product()
    reader = await seed.token(Permission.GENERATE)
    verifier = await seed.token(Permission.VERIFY, Permission.EMAIL)

    assert (await call(seed, "GET", "/api/product/", token=reader)).status_code == 200
    assert_error(await call(seed, "GET", "/api/product/", token=verifier), 403, "permission_denied")
    assert_error(
        await call(seed, "POST", "/api/product", {"name": "X"}, token=reader),
        403,
        "permission_denied",
    )
    assert_error(
        await call(seed, "DELETE", f"/api/product/{product.id}", token=reader),
        403,
        "permission_denied",
    )
    assert_error(await seed.client.get("/api/product/"), 401, "missing_token")
    assert_error(
        await seed.client.get(
            "/api/product/", headers={"Authorization": "ExisOneApi exo_at_nope_nope"}
        ),
        401,
        "invalid_token",
    )
