"""Floating seats over the API: checkout, heartbeat, release, borrowing, every refusal, the
signed lease token, and what validate and activate say of a floating key (both databases)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from exisone.protocol import parse_datetime, verify_lease_token
from exisone_server.kit.time import utc_now
from exisone_server.models import (
    Lease,
    License,
    LicenseStatus,
    Plan,
    Product,
    WebhookEndpoint,
    WebhookEvent,
)
from exisone_server.webhooks import WebhookSettings
from exisone_server.webhooks.scan import scan_leases

from .helpers import activate_body, assert_error, subscribe, validate_body
from .seeding import Seed

LEASE, HEARTBEAT, RELEASE = (
    "/api/license/lease",
    "/api/license/lease/heartbeat",
    "/api/license/lease/release",
)


async def _floating(
    seed: Seed, seats: int = 2, *, product_fields: dict[str, Any] | None = None, **plan_fields: Any
) -> tuple[Product, Plan, License]:
    product = await seed.product(version="2.0", **(product_fields or {}))
    plan_fields.setdefault("lease_ttl_min_seconds", 30)
    plan_fields.setdefault("lease_ttl_max_seconds", 900)
    plan_fields.setdefault("lease_ttl_default_seconds", 120)
    plan = await seed.plan(features=("Pro", "Export"), is_floating=True, **plan_fields)
    license = await seed.license(product, plan=plan, is_corporate=True, max_seats=seats)
    return product, plan, license


def _body(
    license: License, product: Product, hardware_id: str = "HW-1", **extra: Any
) -> dict[str, Any]:
    return {
        "activationKey": license.activation_key,
        "hardwareId": hardware_id,
        "productName": product.name,
        **extra,
    }


async def _public_keys(seed: Seed) -> Any:
    return (await seed.public_keys()).lease_keys


async def _set_lease(seed: Seed, lease_id: str, **values: Any) -> None:
    async with seed.database.write() as session:
        await session.execute(update(Lease).where(Lease.lease_id == lease_id).values(**values))


async def test_a_checkout_grants_a_signed_lease(seed: Seed) -> None:
    product, _, license = await _floating(seed)
    before = utc_now()

    response = await seed.api.post(LEASE, _body(license, product, "hw-1", version="2.0"))

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "leaseId",
        "expiresAt",
        "leaseToken",
        "seatsInUse",
        "maxSeats",
        "features",
        "borrowed",
        "ttlSeconds",
    }
    assert body["leaseId"].startswith("l_") and len(body["leaseId"]) == 24
    assert (body["seatsInUse"], body["maxSeats"], body["borrowed"], body["ttlSeconds"]) == (
        1,
        2,
        False,
        120,
    )
    assert body["features"] == ["Export", "Pro"]
    expires = parse_datetime(body["expiresAt"])
    assert before + timedelta(seconds=119) <= expires <= utc_now() + timedelta(seconds=121)
    token = verify_lease_token(body["leaseToken"], await _public_keys(seed))
    assert token.lease_id == body["leaseId"]
    assert (token.activation_key, token.hardware_id, token.product_name) == (
        license.activation_key,
        "HW-1",
        product.name,
    )
    assert token.tenant_id == seed.tenant.id
    assert token.features == ("Export", "Pro")
    assert token.expires_at == expires and not token.borrowed


async def test_the_same_device_again_renews_its_lease(seed: Seed) -> None:
    product, _, license = await _floating(seed)
    first = (await seed.api.post(LEASE, _body(license, product, ttlSeconds=60))).json()

    again = (await seed.api.post(LEASE, _body(license, product, ttlSeconds=600))).json()

    assert again["leaseId"] == first["leaseId"]
    assert again["seatsInUse"] == 1 and again["ttlSeconds"] == 600
    assert parse_datetime(again["expiresAt"]) > parse_datetime(first["expiresAt"])


async def test_a_full_license_says_when_the_first_lease_runs_out(seed: Seed) -> None:
    product, _, license = await _floating(seed)
    first = (await seed.api.post(LEASE, _body(license, product, "a", ttlSeconds=60))).json()
    assert (
        await seed.api.post(LEASE, _body(license, product, "b", ttlSeconds=600))
    ).status_code == 200

    body = assert_error(
        await seed.api.post(LEASE, _body(license, product, "c")), 409, "no_free_seat"
    )

    assert (body["seatsInUse"], body["maxSeats"]) == (2, 2)
    assert body["nextFreeAt"] == first["expiresAt"]


async def test_a_run_out_lease_frees_its_seat_at_once(seed: Seed) -> None:
    product, _, license = await _floating(seed, seats=1)
    first = (await seed.api.post(LEASE, _body(license, product, "a"))).json()
    assert_error(await seed.api.post(LEASE, _body(license, product, "b")), 409, "no_free_seat")

    await _set_lease(seed, first["leaseId"], expires_at=utc_now() - timedelta(milliseconds=1))
    taken = await seed.api.post(LEASE, _body(license, product, "b"))

    assert taken.status_code == 200 and taken.json()["seatsInUse"] == 1
    assert_error(
        await seed.api.post(HEARTBEAT, {"leaseId": first["leaseId"]}), 410, "lease_expired"
    )


async def test_heartbeat_extends_the_lease_by_its_ttl(seed: Seed) -> None:
    product, _, license = await _floating(seed)
    lease = (await seed.api.post(LEASE, _body(license, product, ttlSeconds=60))).json()
    await _set_lease(seed, lease["leaseId"], expires_at=utc_now() + timedelta(seconds=5))

    response = await seed.api.post(HEARTBEAT, {"leaseId": lease["leaseId"]})

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "leaseId",
        "expiresAt",
        "leaseToken",
        "seatsInUse",
        "maxSeats",
        "ttlSeconds",
    }
    assert body["leaseId"] == lease["leaseId"] and body["ttlSeconds"] == 60
    assert parse_datetime(body["expiresAt"]) > utc_now() + timedelta(seconds=55)
    token = verify_lease_token(body["leaseToken"], await _public_keys(seed))
    assert token.expires_at == parse_datetime(body["expiresAt"])
    async with seed.database.read_session() as session:
        stored = await session.scalar(select(Lease).where(Lease.lease_id == lease["leaseId"]))
    assert stored is not None and stored.last_heartbeat_at is not None


async def test_release_frees_the_seat_and_the_id_is_gone(seed: Seed) -> None:
    product, _, license = await _floating(seed, seats=1)
    lease = (await seed.api.post(LEASE, _body(license, product, "a"))).json()

    released = await seed.api.post(RELEASE, {"leaseId": lease["leaseId"]})

    assert released.status_code == 200
    assert released.json() == {"success": True, "leaseId": lease["leaseId"]}
    assert (await seed.api.post(LEASE, _body(license, product, "b"))).status_code == 200
    assert_error(
        await seed.api.post(RELEASE, {"leaseId": lease["leaseId"]}), 404, "lease_not_found"
    )
    assert_error(
        await seed.api.post(HEARTBEAT, {"leaseId": lease["leaseId"]}), 404, "lease_not_found"
    )


@pytest.mark.parametrize("path", [HEARTBEAT, RELEASE])
@pytest.mark.parametrize("lease_id", ["l_nope", "", "x" * 500, "l_" + "A" * 22])
async def test_an_unknown_lease_id_is_404(seed: Seed, path: str, lease_id: str) -> None:
    assert_error(await seed.api.post(path, {"leaseId": lease_id}), 404, "lease_not_found")


@pytest.mark.parametrize("path", [HEARTBEAT, RELEASE])
async def test_another_tenant_s_lease_is_404(seed: Seed, path: str) -> None:
    product, _, license = await _floating(seed)
    lease = (await seed.api.post(LEASE, _body(license, product))).json()
    other = await Seed.create(seed.database, seed.master_key, seed.client)

    assert_error(await other.api.post(path, {"leaseId": lease["leaseId"]}), 404, "lease_not_found")
    assert (await seed.api.post(HEARTBEAT, {"leaseId": lease["leaseId"]})).status_code == 200


@pytest.mark.parametrize(
    ("status", "code"),
    [(LicenseStatus.REVOKED, "license_revoked"), (LicenseStatus.SUSPENDED, "license_suspended")],
)
async def test_a_heartbeat_after_revoke_ends_the_lease(
    seed: Seed, status: LicenseStatus, code: str
) -> None:
    product, _, license = await _floating(seed, seats=1)
    lease = (await seed.api.post(LEASE, _body(license, product))).json()
    await seed.update_license(license, status=status)

    assert_error(await seed.api.post(HEARTBEAT, {"leaseId": lease["leaseId"]}), 409, code)

    assert_error(
        await seed.api.post(HEARTBEAT, {"leaseId": lease["leaseId"]}), 404, "lease_not_found"
    )
    async with seed.database.read_session() as session:
        stored = await session.scalar(select(Lease).where(Lease.lease_id == lease["leaseId"]))
    assert stored is not None and stored.ended_by == status.value


async def test_a_borrowed_seat_runs_for_its_hours_and_heartbeats_leave_it(seed: Seed) -> None:
    product, _, license = await _floating(seed, max_borrow_hours=72)
    before = utc_now()

    body = (await seed.api.post(LEASE, _body(license, product, borrowHours=48))).json()

    assert body["borrowed"] is True
    expires = parse_datetime(body["expiresAt"])
    assert before + timedelta(hours=48) - timedelta(seconds=1) <= expires
    assert expires <= utc_now() + timedelta(hours=48)
    assert verify_lease_token(body["leaseToken"], await _public_keys(seed)).borrowed
    beat = (await seed.api.post(HEARTBEAT, {"leaseId": body["leaseId"]})).json()
    assert beat["expiresAt"] == body["expiresAt"]
    assert (await seed.api.post(RELEASE, {"leaseId": body["leaseId"]})).status_code == 200


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        ({"ttlSeconds": 29}, "between 30 and 900"),
        ({"ttlSeconds": 901}, "between 30 and 900"),
        ({"borrowHours": 73}, "at most 72"),
        ({"borrowHours": 0}, "at most 72"),
        ({"borrowHours": -1}, "at most 72"),
    ],
)
async def test_ttl_and_borrow_outside_the_plan_s_bounds_are_400(
    seed: Seed, extra: dict[str, Any], names: str
) -> None:
    product, _, license = await _floating(seed, max_borrow_hours=72)

    body = assert_error(
        await seed.api.post(LEASE, _body(license, product, **extra)), 400, "invalid_request"
    )

    assert names in body["message"]


async def test_borrowing_is_refused_when_the_plan_allows_none(seed: Seed) -> None:
    product, _, license = await _floating(seed)
    body = assert_error(
        await seed.api.post(LEASE, _body(license, product, borrowHours=1)), 400, "invalid_request"
    )
    assert "borrowing" in body["message"]


@pytest.mark.parametrize("body", [{"ttlSeconds": "ten"}, {"hardwareId": ""}, {"borrowHours": "x"}])
async def test_bad_checkout_input_is_400(seed: Seed, body: dict[str, Any]) -> None:
    product, _, license = await _floating(seed)
    assert_error(
        await seed.api.post(LEASE, {**_body(license, product), **body}), 400, "invalid_request"
    )


async def test_a_license_that_is_not_floating_is_refused(seed: Seed) -> None:
    product = await seed.product()
    license = await seed.license(product, is_corporate=True, max_seats=5)

    assert_error(await seed.api.post(LEASE, _body(license, product)), 409, "not_floating")


async def test_the_activation_refusals_apply(seed: Seed) -> None:
    product, _, license = await _floating(
        seed, product_fields={"minimum_required_version": "2.0", "enforce_version_check": True}
    )
    assert_error(
        await seed.api.post(
            LEASE, {**_body(license, product), "activationKey": "ZZZZ-9999-9999-9999"}
        ),
        404,
        "license_not_found",
    )
    assert_error(
        await seed.api.post(LEASE, _body(license, product, productName="Other")),
        409,
        "product_mismatch",
    )
    assert_error(
        await seed.api.post(LEASE, _body(license, product, version="1.0")), 409, "version_outdated"
    )
    await seed.update_license(license, expires_at=utc_now() - timedelta(days=1))
    assert_error(await seed.api.post(LEASE, _body(license, product)), 409, "license_expired")
    for status, code in [
        (LicenseStatus.SUSPENDED, "license_suspended"),
        (LicenseStatus.REVOKED, "license_revoked"),
    ]:
        await seed.update_license(license, status=status, expires_at=None)
        assert_error(await seed.api.post(LEASE, _body(license, product)), 409, code)
    inactive = await seed.product("Off", is_active=False)
    off_license = await seed.license(inactive, is_floating=True)
    assert_error(await seed.api.post(LEASE, _body(off_license, inactive)), 409, "product_inactive")


async def test_a_single_device_floating_license_has_one_seat(seed: Seed) -> None:
    product = await seed.product()
    license = await seed.license(product, is_floating=True)

    first = (await seed.api.post(LEASE, _body(license, product, "a"))).json()

    assert (first["seatsInUse"], first["maxSeats"]) == (1, 1)
    assert_error(await seed.api.post(LEASE, _body(license, product, "b")), 409, "no_free_seat")


async def test_validate_answers_licensed_only_while_the_device_holds_a_lease(seed: Seed) -> None:
    product, _, license = await _floating(seed)
    assert (await seed.api.post("/api/license/validate", validate_body(license, "hw-1"))).json()[
        "reason"
    ] == "not_activated"
    lease = (await seed.api.post(LEASE, _body(license, product, "hw-1"))).json()

    answer = (await seed.api.post("/api/license/validate", validate_body(license, "hw-1"))).json()
    other = (await seed.api.post("/api/license/validate", validate_body(license, "hw-2"))).json()

    assert (answer["status"], answer["isValid"], answer["features"]) == (
        "licensed",
        True,
        ["Export", "Pro"],
    )
    assert other["reason"] == "not_activated"
    await seed.api.post(RELEASE, {"leaseId": lease["leaseId"]})
    after = (await seed.api.post("/api/license/validate", validate_body(license, "hw-1"))).json()
    assert after["reason"] == "not_activated"


async def test_validate_of_a_run_out_lease_is_not_activated(seed: Seed) -> None:
    product, _, license = await _floating(seed)
    lease = (await seed.api.post(LEASE, _body(license, product, "hw-1"))).json()
    await _set_lease(seed, lease["leaseId"], expires_at=utc_now() - timedelta(seconds=1))

    answer = (await seed.api.post("/api/license/validate", validate_body(license, "hw-1"))).json()

    assert answer["reason"] == "not_activated"


async def test_activating_a_floating_license_is_refused(seed: Seed) -> None:
    product, _, license = await _floating(seed)

    body = assert_error(
        await seed.api.post("/api/license/activate", activate_body(license, product)),
        409,
        "no_free_seat",
    )

    assert body["floating"] is True


async def test_a_lease_that_ran_out_is_announced_once(seed: Seed) -> None:
    product, _, license = await _floating(seed)
    ran_out = (await seed.api.post(LEASE, _body(license, product, "gone"))).json()
    released = (await seed.api.post(LEASE, _body(license, product, "returned"))).json()
    await subscribe(seed.database, seed.tenant.id, "lease.expired")
    ran_out_at = utc_now()  # after the endpoint was made: announced
    for lease in (ran_out, released):
        await _set_lease(seed, lease["leaseId"], expires_at=ran_out_at)
    await seed.api.post(RELEASE, {"leaseId": released["leaseId"]})
    settings = WebhookSettings()
    later = ran_out_at + timedelta(seconds=1)

    try:
        assert await scan_leases(seed.database, settings, later) == 1
        assert await scan_leases(seed.database, settings, later) == 0
        async with seed.database.read_session() as session:
            events = list(
                await session.scalars(
                    select(WebhookEvent).where(
                        WebhookEvent.tenant_id == seed.tenant.id,
                        WebhookEvent.event_type == "lease.expired",
                    )
                )
            )
    finally:
        async with seed.database.write() as session:
            await session.execute(
                delete(WebhookEndpoint).where(WebhookEndpoint.tenant_id == seed.tenant.id)
            )
    assert len(events) == 1
    data = json.loads(events[0].body)["data"]
    assert (data["leaseId"], data["hardwareId"], data["borrowed"]) == (
        ran_out["leaseId"],
        "GONE",
        False,
    )
    assert data["activationKey"] == license.activation_key and data["productName"] == product.name
