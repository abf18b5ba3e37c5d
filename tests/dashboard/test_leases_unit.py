"""The dashboard's floating-seat screens in-process: the plan form's settings, a key's leases
and its "End lease" and floating buttons, checked in the database (both databases)."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from exisone_server.models import Lease, License, Plan

from ..server.seeding import Seed
from .helpers import login
from .test_pages_unit import _message, _post


async def test_the_plan_form_saves_the_floating_grace_and_check_in_settings(
    seed: Seed, client: httpx.AsyncClient
) -> None:
    await login(client, seed.database, seed.tenant.id)
    fields = {
        "name": "Floating",
        "duration_days": "365",
        "is_active": "1",
        "is_floating": "1",
        "lease_ttl_min_seconds": "30",
        "lease_ttl_max_seconds": "900",
        "lease_ttl_default_seconds": "120",
        "max_borrow_hours": "48",
        "grace_days": "7",
        "check_in_days": "14",
    }
    answer = await _post(client, "/dashboard/plans", "/dashboard/plans", **fields)
    assert answer.status_code == 302
    async with seed.database.read_session() as session:
        plan = await session.scalar(select(Plan).where(Plan.tenant_id == seed.tenant.id))
    assert plan is not None
    assert (plan.is_floating, plan.lease_ttl_min_seconds, plan.lease_ttl_max_seconds) == (
        True,
        30,
        900,
    )
    assert (plan.lease_ttl_default_seconds, plan.max_borrow_hours) == (120, 48)
    assert (plan.grace_days, plan.check_in_days) == (7, 14)
    edit = f"/dashboard/plans/{plan.id}"
    assert (
        'id="plan_floating" name="is_floating" type="checkbox" value="1" checked'
        in (await client.get(edit)).text
    )

    bad = await _post(
        client,
        edit,
        "/dashboard/plans",
        **{**fields, "id": str(plan.id), "lease_ttl_min_seconds": "901"},
    )
    assert "leaseTtlMinSeconds" in _message((await client.get(bad.headers["location"])).text)


async def test_a_key_page_lists_leases_and_ends_one(seed: Seed, client: httpx.AsyncClient) -> None:
    product = await seed.product("App")
    license = await seed.license(product, is_floating=True, is_corporate=True, max_seats=3)
    body = {"activationKey": license.activation_key, "hardwareId": "laptop-7", "productName": "App"}
    lease = (await seed.api.post("/api/license/lease", body)).json()
    await login(client, seed.database, seed.tenant.id)
    page = f"/dashboard/keys/{license.activation_key}"

    shown = (await client.get(page)).text
    assert "LAPTOP-7" in shown and "End lease" in shown

    ended = await _post(client, page, f"{page}/end-lease", lease_id=lease["leaseId"])
    assert ended.status_code == 302
    assert (
        _message((await client.get(page)).text) == "ok: Lease of LAPTOP-7 ended: its seat is free."
    )
    async with seed.database.read_session() as session:
        stored = await session.scalar(select(Lease).where(Lease.lease_id == lease["leaseId"]))
    assert stored is not None and stored.ended_by == "publisher"
    assert "No device holds a lease now." in (await client.get(page)).text


async def test_the_floating_button_switches_a_key(seed: Seed, client: httpx.AsyncClient) -> None:
    product = await seed.product("App")
    license = await seed.license(product)
    await login(client, seed.database, seed.tenant.id)
    page = f"/dashboard/keys/{license.activation_key}"

    await _post(client, page, f"{page}/floating", is_floating="1")
    async with seed.database.read_session() as session:
        assert (await session.get(License, license.id)).is_floating  # type: ignore[union-attr]
    await _post(client, page, f"{page}/floating")
    async with seed.database.read_session() as session:
        assert not (await session.get(License, license.id)).is_floating  # type: ignore[union-attr]
