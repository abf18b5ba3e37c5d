"""The publisher's side of floating seats: plan settings, a license's floating switch, its live
leases, ending one (both databases)."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import assert_error
from .seeding import Seed

FLOATING = {
    "isFloating": True,
    "leaseTtlMinSeconds": 30,
    "leaseTtlMaxSeconds": 900,
    "leaseTtlDefaultSeconds": 120,
    "maxBorrowHours": 48,
    "graceDays": 7,
    "checkInDays": 14,
}


async def test_a_plan_keeps_its_floating_grace_and_check_in_settings(seed: Seed) -> None:
    created = await seed.api.post("/api/plan", {"name": "Floating", **FLOATING})
    assert created.status_code == 201, created.text
    plan = created.json()
    assert {key: plan[key] for key in FLOATING} == FLOATING

    updated = await seed.api.post(
        "/api/plan", {"id": plan["id"], "name": "Floating", "checkInDays": None}
    )

    assert "checkInDays" not in updated.json()  # absent: no check-in period
    assert updated.json()["graceDays"] == 7
    plain = (await seed.api.post("/api/plan", {"name": "Plain"})).json()
    assert (plain["isFloating"], plain["leaseTtlDefaultSeconds"], plain["maxBorrowHours"]) == (
        False,
        600,
        0,
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"leaseTtlMinSeconds": 0},
        {"leaseTtlMaxSeconds": 86_401},
        {"leaseTtlMinSeconds": 700},  # above the default 600
        {"leaseTtlMinSeconds": 100, "leaseTtlMaxSeconds": 50, "leaseTtlDefaultSeconds": 60},
        {"maxBorrowHours": -1},
        {"graceDays": 3651},
        {"checkInDays": 0},
        {"isFloating": "yes"},
    ],
)
async def test_bad_plan_settings_are_400(seed: Seed, fields: dict[str, Any]) -> None:
    assert_error(
        await seed.api.post("/api/plan", {"name": "Bad", **fields}), 400, "invalid_request"
    )


async def test_a_license_of_a_floating_plan_is_floating_and_can_be_switched(seed: Seed) -> None:
    product = (await seed.api.post("/api/product", {"name": "App"})).json()
    plan = (await seed.api.post("/api/plan", {"name": "Floating", **FLOATING})).json()
    key = (
        await seed.api.post(
            "/api/activationkey/generate",
            {"productName": "App", "email": "a@example.com", "planId": plan["id"]},
        )
    ).json()["activationKey"]
    assert product["name"] == "App"
    assert (await seed.api.get(f"/api/license/{key}")).json()["isFloating"] is True

    patched = await seed.api.client.patch(
        f"/api/license/{key}", json={"isFloating": False}, headers=seed.api.headers
    )

    assert patched.status_code == 200 and patched.json()["isFloating"] is False
    lease = {"activationKey": key, "hardwareId": "h", "productName": "App"}
    assert_error(await seed.api.post("/api/license/lease", lease), 409, "not_floating")


async def test_the_publisher_lists_live_leases_and_ends_one(seed: Seed) -> None:
    product = await seed.product("App")
    license = await seed.license(product, is_floating=True, is_corporate=True, max_seats=2)
    key = license.activation_key
    leases = []
    for device in ("alpha", "beta"):
        body = {"activationKey": key, "hardwareId": device, "productName": "App", "version": "1.2"}
        leases.append((await seed.api.post("/api/license/lease", body)).json())
    await seed.api.post("/api/license/lease/heartbeat", {"leaseId": leases[0]["leaseId"]})

    listed = (await seed.api.get(f"/api/license/{key}/leases")).json()

    assert [line["hardwareId"] for line in listed] == ["ALPHA", "BETA"]
    assert listed[0]["lastHeartbeatAt"] is not None and "lastHeartbeatAt" not in listed[1]
    assert listed[0]["clientVersion"] == "1.2" and listed[0]["since"].endswith("Z")
    ended = await seed.api.post(f"/api/license/{key}/leases/{leases[0]['leaseId']}/end")
    assert ended.status_code == 200 and ended.json()["leaseId"] == leases[0]["leaseId"]
    assert [
        line["hardwareId"] for line in (await seed.api.get(f"/api/license/{key}/leases")).json()
    ] == ["BETA"]
    assert_error(
        await seed.api.post("/api/license/lease/heartbeat", {"leaseId": leases[0]["leaseId"]}),
        404,
        "lease_not_found",
    )
    again = {"activationKey": key, "hardwareId": "gamma", "productName": "App"}
    assert (await seed.api.post("/api/license/lease", again)).status_code == 200
    assert_error(
        await seed.api.post(f"/api/license/{key}/leases/{leases[0]['leaseId']}/end"),
        404,
        "lease_not_found",
    )
    assert_error(
        await seed.api.get("/api/license/ZZZZ-9999-9999-9999/leases"), 404, "license_not_found"
    )
