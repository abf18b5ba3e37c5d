"""Bulk queries: validate-bulk, bulk-info, bulk-by-email, bulk-by-hardware."""

from __future__ import annotations

from typing import Any

import pytest

from exisone_server.auth import Permission

from .helpers import assert_error
from .publisher_helpers import activate, call, generate, other_tenant
from .seeding import Seed

RESULT_KEYS = {
    "activationKey",
    "hardwareId",
    "isValid",
    "status",
    "error",
    "expirationDate",
    "features",
}


class TestValidateBulk:
    async def test_mixed_batch(self, seed: Seed) -> None:
        await seed.product(trial_days=7)
        plan = await seed.plan("P", features=("Pro",))
        good = (await generate(seed, planId=plan.id))["activationKey"]
        await activate(seed, good, "DEV-1")
        suspended = (await generate(seed))["activationKey"]
        await activate(seed, suspended, "DEV-2")
        await call(seed, "POST", f"/api/license/{suspended}/suspend")

        response = await seed.api.post(
            "/api/license/validate-bulk",
            {
                "licenses": [
                    {"activationKey": good, "hardwareId": "dev-1"},
                    {"activationKey": good, "hardwareId": "DEV-OTHER"},
                    {"activationKey": suspended, "hardwareId": "DEV-2"},
                    {"activationKey": "ZZZZ-ZZZZ-ZZZZ-ZZZZ", "hardwareId": "DEV-1"},
                    {"hardwareId": "TRIAL-DEV", "productName": "MyProduct"},
                    {"activationKey": good},
                ]
            },
        )

        assert response.status_code == 200, response.text
        body = response.json()
        results = body["results"]
        assert all(set(result) == RESULT_KEYS for result in results)
        assert [(r["isValid"], r["status"]) for r in results] == [
            (True, "licensed"),
            (False, "invalid"),
            (False, "invalid"),
            (False, "invalid"),
            (True, "trial"),
            (False, "invalid"),
        ]
        assert results[0]["error"] is None
        assert results[0]["features"] == ["Pro"]
        assert results[0]["activationKey"] == good
        assert results[0]["expirationDate"] == "2049-12-31T23:59:59Z"
        assert results[1]["error"] == "not_activated"
        assert results[2]["error"] == "license_suspended"
        assert results[3]["error"] == "license_not_found"
        assert results[4]["activationKey"] == "" and results[4]["error"] is None
        assert "hardwareId" in results[5]["error"]
        assert body["totalProcessed"] == 6
        assert body["successCount"] == 2
        assert body["failureCount"] == 4

    async def test_matches_the_single_validate(self, seed: Seed) -> None:
        await seed.product()
        key = (await generate(seed, validityDays=3))["activationKey"]
        await activate(seed, key)
        single = (
            await seed.api.post(
                "/api/license/validate", {"activationKey": key, "hardwareId": "HW-1"}
            )
        ).json()

        bulk = await seed.api.post(
            "/api/license/validate-bulk",
            {"licenses": [{"activationKey": key, "hardwareId": "HW-1"}]},
        )

        [result] = bulk.json()["results"]
        for field in ("isValid", "status", "expirationDate", "features"):
            assert result[field] == single[field]

    async def test_empty_and_limits(self, seed: Seed) -> None:
        empty = await seed.api.post("/api/license/validate-bulk", {"licenses": []})
        assert empty.json() == {
            "results": [],
            "totalProcessed": 0,
            "successCount": 0,
            "failureCount": 0,
        }
        license = await seed.license(await seed.product())
        hundred = [{"activationKey": license.activation_key, "hardwareId": "X"}] * 100
        ok = await seed.api.post("/api/license/validate-bulk", {"licenses": hundred})
        assert ok.json()["totalProcessed"] == 100
        too_many = await seed.api.post(
            "/api/license/validate-bulk", {"licenses": [*hundred, hundred[0]]}
        )
        assert_error(too_many, 400, "too_many_items")
        assert_error(await seed.api.post("/api/license/validate-bulk", {}), 400, "invalid_request")
        assert_error(
            await seed.api.post("/api/license/validate-bulk", {"licenses": "x"}),
            400,
            "invalid_request",
        )

    async def test_needs_verify(self, seed: Seed) -> None:
        body = {"licenses": []}
        verifier = await seed.token(Permission.VERIFY)
        generator = await seed.token(Permission.GENERATE)
        assert (
            await call(seed, "POST", "/api/license/validate-bulk", body, token=verifier)
        ).status_code == 200
        assert_error(
            await call(seed, "POST", "/api/license/validate-bulk", body, token=generator),
            403,
            "permission_denied",
        )


async def _three_licenses(seed: Seed) -> dict[str, str]:
    await seed.product()
    keys = {}
    for name, email in [
        ("ann", "Ann@Example.com"),
        ("bob", "bob@example.com"),
        ("ann2", "ann@example.com"),
    ]:
        response = await seed.api.post(
            "/api/activationkey/generate", {"productName": "MyProduct", "email": email}
        )
        keys[name] = response.json()["activationKey"]
    await activate(seed, keys["ann"], "PC-1")
    await activate(seed, keys["bob"], "PC-1")
    await activate(seed, keys["ann2"], "PC-2")
    return keys


async def test_bulk_info(seed: Seed) -> None:
    keys = await _three_licenses(seed)

    response = await seed.api.post(
        "/api/license/bulk-info",
        {"activationKeys": [keys["bob"].lower(), "NOPE-NOPE-NOPE-NOPE", keys["ann"]]},
    )

    assert response.status_code == 200, response.text
    bob, missing, ann = response.json()["licenses"]
    assert bob["found"] is True and bob["activationKey"] == keys["bob"]
    assert bob["email"] == "bob@example.com"
    assert bob["productName"] == "MyProduct" and isinstance(bob["productId"], int)
    assert bob["hardwareId"] == "PC-1"
    assert missing == {"activationKey": "NOPE-NOPE-NOPE-NOPE", "found": False}
    assert ann["email"] == "Ann@Example.com"


async def test_bulk_by_email(seed: Seed) -> None:
    keys = await _three_licenses(seed)

    response = await seed.api.post(
        "/api/license/bulk-by-email", {"emails": ["ANN@example.com", "nobody@example.com"]}
    )

    ann, nobody = response.json()["results"]
    assert ann["email"] == "ANN@example.com"
    assert {item["activationKey"] for item in ann["licenses"]} == {keys["ann"], keys["ann2"]}
    assert nobody == {"email": "nobody@example.com", "licenses": []}


async def test_bulk_by_hardware(seed: Seed) -> None:
    keys = await _three_licenses(seed)
    await call(seed, "POST", f"/api/license/{keys['bob']}/free-device", {"hardwareId": "PC-1"})

    response = await seed.api.post(
        "/api/license/bulk-by-hardware", {"hardwareIds": ["pc-1", "PC-2", "PC-9"]}
    )

    pc1, pc2, pc9 = response.json()["results"]
    assert pc1["hardwareId"] == "pc-1"
    assert [item["activationKey"] for item in pc1["licenses"]] == [keys["ann"]]
    assert [item["activationKey"] for item in pc2["licenses"]] == [keys["ann2"]]
    assert pc9["licenses"] == []


@pytest.mark.parametrize(
    ("path", "field", "name"),
    [
        ("/api/license/bulk-info", "activationKeys", "ann"),
        ("/api/license/bulk-by-email", "emails", "ann@example.com"),
        ("/api/license/bulk-by-hardware", "hardwareIds", "PC-1"),
    ],
)
async def test_lookup_limits_isolation_and_permission(
    seed: Seed, path: str, field: str, name: str
) -> None:
    keys = await _three_licenses(seed)
    value = keys.get(name, name)  # entries that are found (failed ones count against limits)
    body: dict[str, Any] = {field: [value] * 100}
    assert (await seed.api.post(path, body)).status_code == 200
    assert_error(await seed.api.post(path, {field: [value] * 101}), 400, "too_many_items")
    assert_error(await seed.api.post(path, {field: "nope"}), 400, "invalid_request")
    verifier = await seed.token(Permission.VERIFY)
    assert_error(
        await call(seed, "POST", path, {field: [value]}, token=verifier), 403, "permission_denied"
    )
    assert_error(await seed.client.post(path, json={field: [value]}), 401, "missing_token")


async def test_lookups_are_tenant_scoped(seed: Seed) -> None:
    keys = await _three_licenses(seed)
    b = await other_tenant(seed)

    info = await b.api.post("/api/license/bulk-info", {"activationKeys": [keys["ann"]]})
    by_email = await b.api.post("/api/license/bulk-by-email", {"emails": ["ann@example.com"]})
    by_device = await b.api.post("/api/license/bulk-by-hardware", {"hardwareIds": ["PC-1"]})
    validated = await b.api.post(
        "/api/license/validate-bulk",
        {"licenses": [{"activationKey": keys["ann"], "hardwareId": "PC-1"}]},
    )

    assert info.json()["licenses"] == [{"activationKey": keys["ann"], "found": False}]
    assert by_email.json()["results"][0]["licenses"] == []
    assert by_device.json()["results"][0]["licenses"] == []
    assert validated.json()["results"][0]["error"] == "license_not_found"


def test_bulk_info_item_carries_every_license_field() -> None:
    from exisone_server.bulk.schemas import BulkInfoItem
    from exisone_server.publisher.schemas import LicenseRead

    assert set(LicenseRead.__struct_fields__) <= set(BulkInfoItem.__struct_fields__)
