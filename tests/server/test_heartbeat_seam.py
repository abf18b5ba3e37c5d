"""Lease heartbeats in the seam (ahead of the framework) answer exactly as the framework's route.

Each case goes to the seam, then to the framework's route (the seam switched off): the same
status, headers and bytes. A renewal is compared by what must differ (its new expiry and
token) and by what the database holds afterwards.
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select, update

from exisone.protocol import verify_lease_token
from exisone_server.app import ExisOneApp
from exisone_server.auth import Permission
from exisone_server.kit.time import utc_now
from exisone_server.models import Lease, License, LicenseStatus

from .helpers import comparable, seam_and_route
from .seeding import Seed

LEASE, PATH = "/api/license/lease", "/api/license/lease/heartbeat"


async def _floating(seed: Seed) -> License:
    product = await seed.product("Float")
    plan = await seed.floating_plan()
    return await seed.license(product, plan=plan, is_corporate=True, max_seats=3)


async def _checkout(seed: Seed, license: License, hardware_id: str = "HW-1") -> str:
    body = {"activationKey": license.activation_key, "hardwareId": hardware_id}
    checked_out = await seed.api.post(LEASE, {**body, "productName": "Float"})
    assert checked_out.status_code == 200, checked_out.text
    return str(checked_out.json()["leaseId"])


async def test_refusals_are_byte_for_byte_the_route_s(seed: Seed, app: ExisOneApp) -> None:
    license = await _floating(seed)
    lease_id, run_out = await _checkout(seed, license), await _checkout(seed, license, "HW-2")
    async with seed.database.write() as session:
        await session.execute(
            update(Lease)
            .where(Lease.lease_id == run_out)
            .values(expires_at=utc_now() - timedelta(seconds=5))
        )
    token = {"Authorization": f"ExisOneApi {seed.api.token}"}
    email_only = {"Authorization": f"ExisOneApi {await seed.token(Permission.EMAIL)}"}

    def body(lease: str) -> bytes:
        return json.dumps({"leaseId": lease}).encode()

    cases = [
        (body(run_out), token),  # 410 lease_expired
        (body("l_nope"), token),  # 404
        (body("x" * 80), token),  # 404: cannot exist
        (body(lease_id), {}),  # 401 missing token
        (body(lease_id), email_only),  # 403 permission
        (body(lease_id), {**token, "X-Tenant": "999999"}),  # 403 tenant
        (b'{"leaseId": ', token),  # not JSON: the framework in both lanes
        (b"{}", token),
    ]
    for content, headers in cases:
        seam, route = await seam_and_route(seed.client, app, PATH, content, headers)
        assert comparable(seam) == comparable(route), (content, headers, seam.text)
    await seed.update_license(license, status=LicenseStatus.SUSPENDED)
    seam, route = await seam_and_route(seed.client, app, PATH, body(lease_id), token)
    assert (seam.status_code, seam.json()["error"]) == (409, "license_suspended")
    assert (route.status_code, route.json()["error"]) == (404, "lease_not_found")  # it ended


async def test_a_renewal_in_the_seam_extends_the_lease_and_signs_it(
    seed: Seed, app: ExisOneApp
) -> None:
    license = await _floating(seed)
    lease_id = await _checkout(seed, license)
    token = {"Authorization": f"ExisOneApi {seed.api.token}"}
    content = json.dumps({"leaseId": lease_id}).encode()
    before = utc_now()

    seam, route = await seam_and_route(seed.client, app, PATH, content, token)

    assert seam.status_code == route.status_code == 200, seam.text
    same = ("leaseId", "seatsInUse", "maxSeats", "ttlSeconds")
    assert {k: seam.json()[k] for k in same} == {k: route.json()[k] for k in same}
    assert seam.json()["seatsInUse"] == 1 and seam.json()["ttlSeconds"] == 120
    async with seed.database.read_session() as session:
        stored = await session.scalar(select(Lease).where(Lease.lease_id == lease_id))
    assert stored is not None and stored.last_heartbeat_at is not None
    assert stored.expires_at >= before + timedelta(seconds=119)
    claims = verify_lease_token(seam.json()["leaseToken"], (await seed.public_keys()).lease_keys)
    assert claims.lease_id == lease_id and claims.activation_key == license.activation_key
    # the route renewed it again after the seam, maybe in the next second (times are whole)
    assert 0 <= (stored.expires_at - claims.expires_at).total_seconds() <= 1
