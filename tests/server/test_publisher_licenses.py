"""The publisher's license API: listing (plain and paged, filters), detail, history, device
history, and the actions (revoke, suspend, resume, extend, free a device, update) with their
effect on /api/license/validate."""

from __future__ import annotations

from datetime import timedelta

import pytest

from exisone.protocol import parse_datetime
from exisone_server.auth import Permission
from exisone_server.kit.time import utc_now
from exisone_server.models import LicenseStatus

from .helpers import assert_error
from .publisher_helpers import activate, call, generate, other_tenant, validate_status
from .seeding import Seed

PERPETUAL = "2049-12-31T23:59:59Z"

LICENSE_FIELDS = {
    "activationKey",
    "email",
    "createdAt",
    "expirationDate",
    "isActive",
    "productId",
    "productName",
    "isCorporate",
    "currentSeats",
    "isOffline",
}


class TestListing:
    @pytest.mark.parametrize("path", ["/api/license/", "/api/license"])
    async def test_plain_array_newest_first(self, seed: Seed, path: str) -> None:
        product = await seed.product()
        first = await generate(seed)
        second = await generate(seed, validityDays=10)
        await activate(seed, first["activationKey"], "DEV-9")

        response = await seed.api.get(path)

        assert response.status_code == 200, response.text
        items = response.json()
        assert isinstance(items, list)
        assert [item["activationKey"] for item in items] == [
            second["activationKey"],
            first["activationKey"],
        ]
        for item in items:
            assert item.keys() >= LICENSE_FIELDS
            assert item["productId"] == product.id
            assert item["productName"] == "MyProduct"
        activated = items[1]
        assert activated["hardwareId"] == "DEV-9"
        assert activated["currentSeats"] == 1
        assert "activationDate" in activated
        assert activated["expirationDate"] == PERPETUAL
        assert "hardwareId" not in items[0]
        assert items[0]["currentSeats"] == 0

    async def test_paged_answer(self, seed: Seed) -> None:
        await seed.product()
        keys = [(await generate(seed))["activationKey"] for _ in range(5)]

        page1 = (await seed.api.get("/api/license", params={"page": 1, "pageSize": 2})).json()
        page3 = (await seed.api.get("/api/license", params={"page": 3, "pageSize": 2})).json()
        beyond = (await seed.api.get("/api/license", params={"page": 9, "pageSize": 2})).json()
        default_size = (await seed.api.get("/api/license", params={"page": 1})).json()

        assert page1["page"] == 1 and page1["pageSize"] == 2
        assert page1["totalCount"] == 5 and page1["totalPages"] == 3
        assert [i["activationKey"] for i in page1["items"]] == keys[::-1][:2]
        assert [i["activationKey"] for i in page3["items"]] == [keys[0]]
        assert beyond["items"] == [] and beyond["totalCount"] == 5
        assert default_size["pageSize"] == 50 and len(default_size["items"]) == 5

    @pytest.mark.parametrize(
        "params", [{"page": 0}, {"page": -1}, {"pageSize": 0}, {"pageSize": 101}, {"page": "x"}]
    )
    async def test_bad_paging_is_400(self, seed: Seed, params: dict[str, object]) -> None:
        assert_error(await seed.api.get("/api/license", params=params), 400, "invalid_request")

    async def test_filters(self, seed: Seed) -> None:
        alpha = await seed.product("Alpha")
        await seed.product("Beta")
        a1 = await generate(seed, "Alpha")
        a2 = await generate(seed, "Alpha", validityDays=1)
        b1 = (
            await seed.api.post(
                "/api/activationkey/generate", {"productName": "Beta", "email": "Boss@Corp.example"}
            )
        ).json()
        await activate(seed, a1["activationKey"], "Machine-7", "Alpha")
        await seed.update_license(
            await _license(seed, a2["activationKey"]), expires_at=utc_now() - timedelta(days=1)
        )
        await call(seed, "POST", f"/api/license/{b1['activationKey']}/suspend")
        await call(seed, "PATCH", f"/api/license/{a1['activationKey']}", {"note": "VIP 100%"})

        async def keys(**params: object) -> set[str]:
            response = await seed.api.get("/api/license/", params=params)
            assert response.status_code == 200, response.text
            return {item["activationKey"] for item in response.json()}

        assert await keys(productId=alpha.id) == {a1["activationKey"], a2["activationKey"]}
        assert await keys(productName="bet") == {b1["activationKey"]}
        assert await keys(email="boss@corp") == {b1["activationKey"]}
        assert await keys(status="active") == {a1["activationKey"]}
        assert await keys(status="expired") == {a2["activationKey"]}
        assert await keys(status="suspended") == {b1["activationKey"]}
        assert await keys(status="revoked") == set()
        assert await keys(hardwareId="machine-7") == {a1["activationKey"]}
        assert await keys(q="vip 100%") == {a1["activationKey"]}
        assert await keys(q="100_") == set()  # LIKE wildcards are literal
        assert await keys(q=b1["activationKey"].lower()) == {b1["activationKey"]}
        assert await keys(productId=alpha.id, status="expired") == {a2["activationKey"]}
        paged = await seed.api.get(
            "/api/license", params={"productName": "alpha", "page": 1, "pageSize": 1}
        )
        assert paged.json()["totalCount"] == 2
        assert_error(
            await seed.api.get("/api/license", params={"status": "weird"}), 400, "invalid_request"
        )


async def _license(seed: Seed, key: str):  # type: ignore[no-untyped-def]
    from exisone_server.licenses.service import get_license

    async with seed.database.read_session() as session:
        return await get_license(session, seed.tenant.id, key)


class TestDetailAndHistory:
    async def test_detail_has_features_and_activations(self, seed: Seed) -> None:
        await seed.product()
        plan = await seed.plan("P", features=("Pro",))
        key = (await generate(seed, planId=plan.id))["activationKey"]
        await activate(seed, key, "Dev-A")

        response = await seed.api.get(f"/api/license/{key.lower()}")

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["activationKey"] == key
        assert body["features"] == ["Pro"]
        assert body["status"] == "active"
        [activation] = body["activations"]
        assert activation["hardwareId"] == "DEV-A"
        assert activation["isActive"] is True
        assert activation["ipAddress"] == "127.0.0.1"

    async def test_unknown_key_is_404(self, seed: Seed) -> None:
        for method, path in [
            ("GET", "/api/license/AAAA-BBBB-CCCC-DDDD"),
            ("GET", "/api/license/AAAA-BBBB-CCCC-DDDD/history"),
            ("POST", "/api/license/AAAA-BBBB-CCCC-DDDD/revoke"),
            ("PATCH", "/api/license/AAAA-BBBB-CCCC-DDDD"),
        ]:
            body = {} if method == "PATCH" else None
            assert_error(await call(seed, method, path, body), 404, "license_not_found")

    async def test_history_newest_first(self, seed: Seed) -> None:
        await seed.product()
        key = (await generate(seed))["activationKey"]
        await activate(seed, key, "h1")
        await call(seed, "POST", f"/api/license/{key}/suspend", {"note": "unpaid"})

        response = await seed.api.get(f"/api/license/{key}/history")

        events = response.json()
        assert [e["action"] for e in events] == ["suspended", "activated", "created"]
        assert events[0]["note"] == "unpaid"
        assert events[1]["hardwareId"] == "H1"
        assert events[1]["ipAddress"] == "127.0.0.1"
        assert all({"id", "action", "timestamp"} <= e.keys() for e in events)
        assert len({e["id"] for e in events}) == 3  # random ids: distinct, in no order

    async def test_device_history(self, seed: Seed) -> None:
        await seed.product()
        keys = [(await generate(seed))["activationKey"] for _ in range(3)]
        for key in keys:
            await activate(seed, key, "Shared-Device")
        await call(
            seed, "POST", f"/api/license/{keys[0]}/free-device", {"hardwareId": "shared-device"}
        )
        await activate(seed, keys[0], "Other")

        page1 = await seed.api.get(
            "/api/license/device-history/shared-DEVICE", params={"page": 1, "pageSize": 3}
        )
        page2 = await seed.api.get(
            "/api/license/device-history/shared-DEVICE", params={"page": 2, "pageSize": 3}
        )
        default = await seed.api.get("/api/license/device-history/Shared-Device")

        first = page1.json()
        assert first["totalCount"] == 4 and first["totalPages"] == 2
        assert first["page"] == 1 and first["pageSize"] == 3
        assert [i["action"] for i in first["items"]] == ["deactivated", "activated", "activated"]
        assert first["items"][0]["activationKey"] == keys[0]
        assert first["items"][0]["productName"] == "MyProduct"
        assert [i["activationKey"] for i in page2.json()["items"]] == [keys[0]]
        assert default.json()["pageSize"] == 10 and len(default.json()["items"]) == 4
        assert_error(
            await seed.api.get("/api/license/device-history/x", params={"pageSize": 500}),
            400,
            "invalid_request",
        )


class TestActions:
    async def _activated(self, seed: Seed, **generate_body: object) -> str:
        await seed.product()
        key = (await generate(seed, **generate_body))["activationKey"]
        assert (await activate(seed, key)).status_code == 200
        assert await validate_status(seed, key) == "licensed"
        return str(key)

    async def test_suspend_then_resume(self, seed: Seed) -> None:
        key = await self._activated(seed)

        suspended = await call(seed, "POST", f"/api/license/{key}/suspend")
        assert suspended.status_code == 200, suspended.text
        assert suspended.json()["status"] == "suspended"
        assert suspended.json()["isActive"] is False
        validation = await seed.api.post(
            "/api/license/validate", {"activationKey": key, "hardwareId": "HW-1"}
        )
        assert validation.json()["status"] == "invalid"
        assert validation.json()["isValid"] is False
        assert_error(
            await call(seed, "POST", f"/api/license/{key}/suspend"), 409, "license_state_conflict"
        )

        resumed = await call(seed, "POST", f"/api/license/{key}/resume")
        assert resumed.json()["status"] == "active"
        assert await validate_status(seed, key) == "licensed"
        assert_error(
            await call(seed, "POST", f"/api/license/{key}/resume"), 409, "license_state_conflict"
        )

    async def test_revoke_is_final(self, seed: Seed) -> None:
        key = await self._activated(seed)

        revoked = await call(seed, "POST", f"/api/license/{key}/revoke", {"note": "chargeback"})

        assert revoked.json()["status"] == "revoked"
        assert await validate_status(seed, key) == "invalid"
        assert_error(await activate(seed, key, "HW-NEW"), 409, "license_revoked")
        for action in ("resume", "suspend", "revoke"):
            error = assert_error(
                await call(seed, "POST", f"/api/license/{key}/{action}"),
                409,
                "license_state_conflict",
            )
            assert "allowed from" in error["message"]
        assert_error(
            await call(seed, "POST", f"/api/license/{key}/extend", {"days": 3}),
            409,
            "license_state_conflict",
        )
        history = (await seed.api.get(f"/api/license/{key}/history")).json()
        assert history[0]["action"] == "revoked" and history[0]["note"] == "chargeback"

    async def test_extend_revives_an_expired_license(self, seed: Seed) -> None:
        key = await self._activated(seed, validityDays=5)
        await seed.update_license(
            await _license(seed, key), expires_at=utc_now() - timedelta(hours=1)
        )
        assert await validate_status(seed, key) == "expired"

        extended = await call(seed, "POST", f"/api/license/{key}/extend", {"days": 30})

        assert extended.status_code == 200, extended.text
        new_expiry = parse_datetime(extended.json()["expirationDate"])
        assert timedelta(days=29.9) < new_expiry - utc_now() <= timedelta(days=30)
        assert await validate_status(seed, key) == "licensed"
        event = (await seed.api.get(f"/api/license/{key}/history")).json()[0]
        assert event["action"] == "renewed" and "->" in event["note"]

    async def test_extend_adds_days_to_a_future_expiration(self, seed: Seed) -> None:
        key = await self._activated(seed, validityDays=10)
        before = parse_datetime(
            (await seed.api.get(f"/api/license/{key}")).json()["expirationDate"]
        )

        after = await call(seed, "POST", f"/api/license/{key}/extend", {"days": 5})

        assert parse_datetime(after.json()["expirationDate"]) - before == timedelta(days=5)

    async def test_extend_to_a_date_and_to_perpetual(self, seed: Seed) -> None:
        key = await self._activated(seed, validityDays=10)

        dated = await call(
            seed, "POST", f"/api/license/{key}/extend", {"expirationDate": "2031-06-30T12:00:00Z"}
        )
        assert dated.json()["expirationDate"] == "2031-06-30T12:00:00Z"
        past = await call(
            seed, "POST", f"/api/license/{key}/extend", {"expirationDate": "2020-01-01"}
        )
        assert past.json()["status"] == "expired"
        assert await validate_status(seed, key) == "expired"
        forever = await call(seed, "POST", f"/api/license/{key}/extend", {"perpetual": True})
        assert forever.json()["expirationDate"] == PERPETUAL
        assert await validate_status(seed, key) == "licensed"
        assert_error(
            await call(seed, "POST", f"/api/license/{key}/extend", {"days": 1}),
            409,
            "license_perpetual",
        )

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"days": 3, "perpetual": True},
            {"days": 0},
            {"days": -4},
            {"days": 100_000},
            {"expirationDate": "next week"},
            {"expirationDate": "2026-13-01"},
            {"expirationDate": "5000-01-01T00:00:00Z"},
        ],
    )
    async def test_bad_extend_is_400(self, seed: Seed, body: dict[str, object]) -> None:
        key = await self._activated(seed, validityDays=10)
        assert_error(
            await call(seed, "POST", f"/api/license/{key}/extend", body), 400, "invalid_request"
        )

    async def test_free_a_device_then_another_can_activate(self, seed: Seed) -> None:
        key = await self._activated(seed)
        assert_error(await activate(seed, key, "HW-2"), 409, "license_in_use")

        freed = await call(seed, "POST", f"/api/license/{key}/free-device", {"hardwareId": "hw-1"})

        assert freed.status_code == 200, freed.text
        assert freed.json()["currentSeats"] == 0
        assert freed.json()["activations"][0]["isActive"] is False
        assert await validate_status(seed, key, "HW-1") == "invalid"
        assert (await activate(seed, key, "HW-2")).status_code == 200
        assert await validate_status(seed, key, "HW-2") == "licensed"
        assert_error(
            await call(seed, "POST", f"/api/license/{key}/free-device", {"hardwareId": "HW-1"}),
            404,
            "device_not_found",
        )
        assert_error(
            await call(seed, "POST", f"/api/license/{key}/free-device", {"hardwareId": " "}),
            400,
            "invalid_request",
        )

    async def test_update_email_and_note(self, seed: Seed) -> None:
        key = await self._activated(seed)

        updated = await call(
            seed,
            "PATCH",
            f"/api/license/{key}",
            {"email": " new@example.com ", "note": "renewed by phone", "version": "2.0"},
        )

        body = updated.json()
        assert body["email"] == "new@example.com"
        assert body["note"] == "renewed by phone"
        assert body["version"] == "2.0"
        cleared = await call(seed, "PATCH", f"/api/license/{key}", {"note": None})
        assert "note" not in cleared.json()
        assert cleared.json()["email"] == "new@example.com"
        history = (await seed.api.get(f"/api/license/{key}/history")).json()
        assert history[0]["action"] == "updated" and history[0]["note"] == "changed: note"
        assert history[1]["note"] == "changed: email, note, version"
        assert_error(
            await call(seed, "PATCH", f"/api/license/{key}", {"email": "nope"}),
            400,
            "invalid_request",
        )
        assert_error(
            await call(seed, "PATCH", f"/api/license/{key}", {"email": None}),
            400,
            "invalid_request",
        )

    async def test_actions_on_the_database_state(self, seed: Seed) -> None:
        key = await self._activated(seed)
        await call(seed, "POST", f"/api/license/{key}/suspend")
        assert (await _license(seed, key)).status is LicenseStatus.SUSPENDED


async def test_tenant_isolation(seed: Seed) -> None:
    await seed.product()
    key = (await generate(seed))["activationKey"]
    await activate(seed, key, "Iso-Device")
    b = await other_tenant(seed)

    assert (await b.api.get("/api/license/")).json() == []
    assert (await b.api.get("/api/license", params={"page": 1})).json()["totalCount"] == 0
    assert_error(await b.api.get(f"/api/license/{key}"), 404, "license_not_found")
    assert_error(await b.api.get(f"/api/license/{key}/history"), 404, "license_not_found")
    device = await b.api.get("/api/license/device-history/Iso-Device")
    assert device.json()["items"] == [] and device.json()["totalCount"] == 0
    for action, body in [
        ("revoke", None),
        ("suspend", None),
        ("extend", {"days": 3}),
        ("free-device", {"hardwareId": "Iso-Device"}),
    ]:
        assert_error(
            await call(b, "POST", f"/api/license/{key}/{action}", body), 404, "license_not_found"
        )
    assert_error(
        await call(b, "PATCH", f"/api/license/{key}", {"note": "x"}), 404, "license_not_found"
    )
    assert await validate_status(seed, key, "Iso-Device") == "licensed"


async def test_permissions(seed: Seed) -> None:
    await seed.product()
    key = (await generate(seed))["activationKey"]
    reader = await seed.token(Permission.GENERATE, Permission.VERIFY)
    verifier = await seed.token(Permission.VERIFY, Permission.EMAIL)

    for path in ("/api/license/", f"/api/license/{key}", f"/api/license/{key}/history"):
        assert (await call(seed, "GET", path, token=reader)).status_code == 200
        assert_error(await call(seed, "GET", path, token=verifier), 403, "permission_denied")
        assert_error(await seed.client.get(path), 401, "missing_token")
    assert_error(
        await call(seed, "GET", "/api/license/device-history/x", token=verifier),
        403,
        "permission_denied",
    )
    for action in ("revoke", "suspend", "resume"):
        assert_error(
            await call(seed, "POST", f"/api/license/{key}/{action}", token=reader),
            403,
            "permission_denied",
        )
    assert_error(
        await call(seed, "PATCH", f"/api/license/{key}", {"note": "x"}, token=reader),
        403,
        "permission_denied",
    )
    expired = await seed.token(Permission.ADMIN, expires_in=timedelta(seconds=-1))
    assert_error(await call(seed, "GET", "/api/license/", token=expired), 401, "token_expired")
