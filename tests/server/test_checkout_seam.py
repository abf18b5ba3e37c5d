"""Lease checkouts in the seam (ahead of the framework) answer exactly as the framework's route.

Each refusal goes to the seam, then to the framework's route (the seam switched off): the same
status, headers and bytes. A granted checkout is compared by what must differ (its lease id,
expiry and token) and by what the database holds afterwards.
"""

from __future__ import annotations

import json

from sqlalchemy import func, select

from exisone.protocol import verify_lease_token
from exisone_server.app import ExisOneApp
from exisone_server.auth import Permission
from exisone_server.models import Lease, License, LicenseStatus

from .helpers import comparable, seam_and_route
from .seeding import Seed

PATH = "/api/license/lease"


async def _floating(seed: Seed, seats: int = 1) -> License:
    product = await seed.product("Float", version="2.0", minimum_required_version="1.5")
    plan = await seed.floating_plan(max_borrow_hours=0)
    return await seed.license(product, plan=plan, is_corporate=True, max_seats=seats)


def _body(license: License, hardware_id: str, **extra: object) -> bytes:
    body = {"activationKey": license.activation_key, "hardwareId": hardware_id}
    return json.dumps({**body, "productName": "Float", **extra}).encode()


async def test_refusals_are_byte_for_byte_the_route_s(seed: Seed, app: ExisOneApp) -> None:
    license = await _floating(seed)
    token = {"Authorization": f"ExisOneApi {seed.api.token}"}
    taken = await seed.api.client.post(
        PATH, content=_body(license, "HW-HOLDER"), headers={**token, **_JSON}
    )
    assert taken.status_code == 200, taken.text
    email_only = {"Authorization": f"ExisOneApi {await seed.token(Permission.EMAIL)}"}
    unknown = json.dumps(
        {"activationKey": "NOPE-0000-0000-0000", "hardwareId": "HW", "productName": "Float"}
    ).encode()
    cases = [
        (_body(license, "HW-2"), token),  # 409 no_free_seat, with nextFreeAt
        (_body(license, "HW-2", ttlSeconds=5), token),  # 400 outside the plan's bounds
        (_body(license, "HW-2", borrowHours=2), token),  # 400 the plan allows no borrowing
        (_body(license, "HW-2", version="1.0"), token),  # version below the minimum
        (_body(license, "HW-2", productName="Other"), token),  # another product's name
        (_body(license, ""), token),  # 400 hardware ID
        (unknown, token),  # 404
        (_body(license, "HW-2"), {}),  # 401 missing token
        (_body(license, "HW-2"), email_only),  # 403 permission
        (_body(license, "HW-2"), {**token, "X-Tenant": "999999"}),  # 403 tenant
        (b'{"activationKey": ', token),  # not JSON: the framework in both lanes
        (b"{}", token),
    ]
    for content, headers in cases:
        seam, route = await seam_and_route(seed.client, app, PATH, content, headers)
        assert comparable(seam) == comparable(route), (content, headers, seam.text)
        assert seam.status_code >= 400, seam.text
    await seed.update_license(license, status=LicenseStatus.REVOKED)
    seam, route = await seam_and_route(seed.client, app, PATH, _body(license, "HW-2"), token)
    assert comparable(seam) == comparable(route)
    assert seam.json()["error"] == "license_revoked"


_JSON = {"Content-Type": "application/json"}


async def test_a_checkout_in_the_seam_takes_a_seat_and_signs_it(
    seed: Seed, app: ExisOneApp
) -> None:
    license = await _floating(seed, seats=2)
    token = {"Authorization": f"ExisOneApi {seed.api.token}"}

    seam, route = await seam_and_route(seed.client, app, PATH, _body(license, "HW-A"), token)

    assert seam.status_code == route.status_code == 200, seam.text
    same = ("maxSeats", "features", "borrowed", "ttlSeconds")
    assert {k: seam.json()[k] for k in same} == {k: route.json()[k] for k in same}
    assert (seam.json()["seatsInUse"], route.json()["seatsInUse"]) == (1, 1)  # one device
    async with seed.database.read_session() as session:
        stored = await session.scalar(
            select(func.count()).select_from(Lease).where(Lease.license_id == license.id)
        )
    assert stored == 1  # the route renewed the seam's lease of the same device
    claims = verify_lease_token(seam.json()["leaseToken"], (await seed.public_keys()).lease_keys)
    assert claims.lease_id == seam.json()["leaseId"] == route.json()["leaseId"]
    assert claims.hardware_id == "HW-A" and list(claims.features) == ["Pro"]
