"""Activate in the seam (ahead of the framework) answers exactly as the framework's route.

Each case goes to the seam, then to the framework's route (the seam switched off): the same
status, headers and bytes. A case that takes a seat is compared by what must differ (the
route's answer is the idempotent repeat) and by what the database holds afterwards.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from exisone_server.app import ExisOneApp
from exisone_server.auth import Permission
from exisone_server.kit.time import utc_now
from exisone_server.licenses import endpoints
from exisone_server.models import Activation, HistoryAction, LicenseHistory, LicenseStatus

from .helpers import activate_body, comparable, seam_and_route
from .seeding import Seed

PATH = "/api/license/activate"


@pytest.fixture
def route_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How often the activation core (shared by the seam and the route) ran."""
    calls: list[int] = []
    real = endpoints.activate_device

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return await real(*args, **kwargs)

    monkeypatch.setattr(endpoints, "activate_device", counted)
    return calls


async def test_refusals_are_byte_for_byte_the_route_s(seed: Seed, app: ExisOneApp) -> None:
    product = await seed.product(
        "Desk", version="2.0", minimum_required_version="1.5", enforce_version_check=True
    )
    single = await seed.license(product)
    full = await seed.license(product, is_corporate=True, max_seats=1)
    revoked = await seed.license(product)
    await seed.update_license(revoked, status=LicenseStatus.REVOKED)
    expired = await seed.license(product)
    await seed.update_license(expired, expires_at=utc_now() - timedelta(days=2))
    floating = await seed.license(product, is_floating=True, max_seats=2)
    other = await seed.license(await seed.product("Other"))
    token = {"Authorization": f"ExisOneApi {seed.api.token}"}
    for license in (single, full):  # each holds a seat for another device
        taken = await seed.api.post(PATH, activate_body(license, product, "HW-OWNER"))
        assert taken.status_code == 200, taken.text

    def body(license: Any, **fields: Any) -> bytes:
        return json.dumps(activate_body(license, product, **fields)).encode()

    cases = [
        (body(single, hardware_id="HW-2"), token),  # 409 license_in_use
        (body(full, hardware_id="HW-2"), token),  # 409 seat_limit_reached
        (body(single, hardware_id="HW-OWNER"), token),  # idempotent repeat: nothing written
        (body(revoked), token),  # 409 license_revoked
        (body(expired), token),  # 409 license_expired
        (body(floating), token),  # 409 no_free_seat (floating)
        (body(other), token),  # 409 product_mismatch
        (body(single, hardware_id="HW-OWNER", version="1.0"), token),  # 409 version_outdated
        (body(single, hardware_id="  "), token),  # 400 hardwareId
        (body(single, hardware_id="H" * 300), token),  # 400 too long
        (body(single, activationKey="AAAA-BBBB-CCCC-DDDD"), token),  # 404
        (body(single, activationKey="a\u0000b"), token),  # 404 (NUL cannot be stored)
        (body(single), {}),  # 401 missing token
        (body(single), {"Authorization": "ExisOneApi exo_at_nope_nope"}),  # 401
        (body(single), {**token, "X-Tenant": "999999"}),  # 403 tenant
        (b'{"activationKey": ', token),  # not JSON: the framework in both lanes
        (b"[]", token),
        (json.dumps({"hardwareId": "X", "productName": "Desk"}).encode(), token),  # no key
        (body(single, email="e" * 400), token),  # too long an e-mail
    ]
    for content, headers in cases:
        seam, route = await seam_and_route(seed.client, app, PATH, content, headers)
        assert comparable(seam) == comparable(route), (content, headers, seam.text)


async def test_a_new_device_in_the_seam_takes_one_seat(
    seed: Seed, app: ExisOneApp, route_calls: list[int]
) -> None:
    product = await seed.product("Desk")
    license = await seed.license(product, is_corporate=True, max_seats=5)
    email_token = {"Authorization": f"ExisOneApi {await seed.token(Permission.EMAIL)}"}
    content = json.dumps(activate_body(license, product, "HW-NEW", version="1.2")).encode()

    seam, route = await seam_and_route(seed.client, app, PATH, content, email_token)

    assert seam.status_code == route.status_code == 200, seam.text
    first, repeat = seam.json(), route.json()
    assert (first["message"], first["alreadyActivated"]) == ("Activated.", False)
    assert (repeat["message"], repeat["alreadyActivated"]) == (
        "Already activated on this device.",
        True,
    )
    same = ("currentSeats", "maxSeats", "hardwareId", "activationKey", "features")
    assert {k: first[k] for k in same} == {k: repeat[k] for k in same}
    assert first["currentSeats"] == 1 and first["maxSeats"] == 5
    assert route_calls == [1, 1]  # the seam and the route share the handler's core
    async with seed.database.read_session() as session:
        seats = await session.scalar(
            select(func.count()).where(
                Activation.license_id == license.id, Activation.deactivated_at.is_(None)
            )
        )
        device = await session.scalar(select(Activation).where(Activation.license_id == license.id))
        history = list(
            await session.scalars(
                select(LicenseHistory.action).where(LicenseHistory.license_id == license.id)
            )
        )
    assert seats == 1
    assert device is not None
    assert (device.hardware_id, device.client_version, device.email) == (
        "HW-NEW",
        "1.2",
        "user@example.com",
    )
    assert history.count(HistoryAction.ACTIVATED) == 1


async def test_a_value_the_database_cannot_store_is_the_route_s_400(
    seed: Seed, app: ExisOneApp, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite stores a string of any length in any column")
    product = await seed.product("Desk")
    license = await seed.license(product, is_corporate=True, max_seats=5)
    token = {"Authorization": f"ExisOneApi {seed.api.token}"}
    content = json.dumps(activate_body(license, product, "HW-LONG-IP")).encode()
    # The client's address as a trusted proxy may pass it: longer than its column (64).
    transport = httpx.ASGITransport(app=app, client=("2001:db8::" + "1" * 80, 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        seam, route = await seam_and_route(client, app, PATH, content, token)

    assert comparable(seam) == comparable(route)
    assert seam.status_code == 400 and seam.json()["error"] == "invalid_request"
    async with seed.database.read_session() as session:
        seats = await session.scalar(
            select(func.count()).where(Activation.license_id == license.id)
        )
    assert seats == 0
