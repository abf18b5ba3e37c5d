"""Every portal route of a signed-in customer, tried by everyone else (in-process, both
databases): another customer of the same portal, the same address signed in to another
tenant's portal, a browser that tried an expired or an already used link, and no session.
None of them sees or changes the owner's license; the owner can do everything."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from exisone_server.kit.time import utc_now
from exisone_server.models import Activation, AuditEvent, HistoryAction, LicenseHistory, PortalLink
from exisone_server.payments.apps import AppForm, save_app

from ..server.fake_providers import FakeProviders
from ..server.helpers import activate_body
from ..server.seeding import Seed
from .helpers import Browser, browser, csrf_of, form_token, link_tokens, open_portal, sign_in


@pytest.fixture
async def scene(app: Any, seed: Seed, fake: FakeProviders) -> dict[str, Any]:
    """The owner's license with a device (renewable through Stripe), and every kind of caller."""
    owner_email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    product = await seed.product(name="Studio", price=Decimal(20), default_license_days=365)
    license = await seed.license(
        product, email=owner_email, is_corporate=True, max_seats=3, validity_days=365
    )
    async with seed.database.write() as session:
        await save_app(
            session,
            seed.tenant.id,
            seed.master_key,
            AppForm(
                provider="stripe",
                name="Stripe",
                secret_key="sk_test_" + uuid.uuid4().hex,
                signing_secret="whsec_" + uuid.uuid4().hex,
            ),
        )
    await seed.api.post("/api/license/activate", activate_body(license, product, "OWNER-PC"))
    async with seed.database.read_session() as session:
        device = await session.scalar(
            select(Activation.id).where(Activation.license_id == license.id)
        )
    base = await open_portal(seed)

    other_email = f"other-{uuid.uuid4().hex[:8]}@example.com"
    await seed.license(product, email=other_email)
    other_customer = await sign_in(app, seed, base, other_email)

    elsewhere = await Seed.create(seed.database, seed.master_key, seed.client)
    await elsewhere.license(await elsewhere.product(), email=owner_email)
    elsewhere_base = await open_portal(elsewhere)
    other_tenant = await sign_in(app, elsewhere, elsewhere_base, owner_email)
    foreign_cookie = next(
        c.value for c in other_tenant.client.cookies.jar if c.name == "exisone_portal"
    )
    other_tenant_here = browser(app, base)
    other_tenant_here.client.cookies.set("exisone_portal", foreign_cookie)

    expired, reused = browser(app, base), browser(app, base)
    await expired.form_post(f"{base}/sign-in", {"email": owner_email})
    await expired.form_post(f"{base}/sign-in", {"email": owner_email})
    late_token, used_token = await link_tokens(seed, owner_email)
    async with seed.database.write() as session:
        first = await session.scalar(
            select(PortalLink)
            .where(PortalLink.email == owner_email, PortalLink.tenant_id == seed.tenant.id)
            .order_by(PortalLink.id)
            .limit(1)
        )
        assert first is not None
        first.expires_at = utc_now() - timedelta(seconds=1)
    owner = browser(app, base)
    shown = await owner.client.get(f"{base}/link", params={"token": used_token})
    first_use = await owner.client.post(
        f"{base}/link", data={"csrf_token": csrf_of(shown.text), "token": used_token}
    )
    assert first_use.status_code == 302
    for client, token in ((expired, late_token), (reused, used_token)):
        page = await client.client.get(f"{base}/link", params={"token": token})
        used = await client.client.post(
            f"{base}/link", data={"csrf_token": form_token(client), "token": token}
        )
        assert page.status_code == used.status_code == 410, token
    return {
        "base": base,
        "license": license,
        "device": device,
        "owner": owner,
        "callers": {
            "another customer": other_customer,
            "another tenant's session": other_tenant_here,
            "an expired link": expired,
            "a reused link": reused,
            "no session": browser(app, base),
        },
    }


Route = Callable[[Browser, str, Any, int], Awaitable[httpx.Response]]


async def _csrf(customer: Browser, base: str) -> str:
    page = await customer.client.get(f"{base}/licenses")
    return csrf_of(page.text) if page.status_code == 200 else "no-session"


def _post(suffix: str, **data: str) -> Route:
    async def call(customer: Browser, base: str, license: Any, device: int) -> httpx.Response:
        fields = {key: value.format(device=device) for key, value in data.items()}
        fields["csrf_token"] = await _csrf(customer, base)
        return await customer.client.post(
            f"{base}/licenses/{license.id}{suffix}" if suffix else base, data=fields
        )

    return call


def _get(suffix: str) -> Route:
    async def call(customer: Browser, base: str, license: Any, device: int) -> httpx.Response:
        return await customer.client.get(f"{base}/licenses{suffix.format(id=license.id)}")

    return call


ROUTES: dict[str, Route] = {
    "GET licenses": _get(""),
    "GET license": _get("/{id}"),
    "POST reveal": _post("/reveal"),
    "POST release": _post("/release", device="{device}"),
    "POST offline-code": _post("/offline-code", hardware_id="INTRUDER-PC"),
    "GET renew": _get("/{id}/renew"),
    "POST renew": _post("/renew"),
}


async def test_nobody_else_reaches_the_owners_license(
    scene: dict[str, Any], seed: Seed, fake: FakeProviders
) -> None:
    base, license, device = scene["base"], scene["license"], scene["device"]
    for who, caller in scene["callers"].items():
        for name, route in ROUTES.items():
            answer = await route(caller, base, license, device)
            signed_in = who == "another customer"
            if not signed_in:
                assert answer.status_code == 302, (who, name)
                assert answer.headers["location"] == base, (who, name)
            elif name == "GET licenses":
                assert answer.status_code == 200
                assert f"/licenses/{license.id}" not in answer.text
            else:
                assert answer.status_code in (302, 404), (who, name)
                followed = (
                    await caller.client.get(answer.headers["location"])
                    if answer.status_code == 302
                    else answer
                )
                assert followed.status_code == 404, (who, name)
                assert "No such license of yours." in followed.text, (who, name)
        for suffix in ("/sign-out", "/sign-out-everywhere"):
            shown = await caller.client.get(f"{base}/licenses")
            token = csrf_of(shown.text) if shown.status_code == 200 else "none"
            await caller.client.post(f"{base}{suffix}", data={"csrf_token": token})

    async with seed.database.read_session() as session:
        still = await session.scalar(
            select(Activation.deactivated_at).where(Activation.id == device)
        )
        history = list(
            await session.scalars(
                select(LicenseHistory.action).where(LicenseHistory.license_id == license.id)
            )
        )
        audits = list(
            await session.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.target == license.activation_key,
                    AuditEvent.actor_type == "customer",
                )
            )
        )
    assert still is None
    assert HistoryAction.DEACTIVATED not in history
    assert HistoryAction.OFFLINE_CODE_ISSUED not in history
    assert audits == []
    assert fake.checkout_forms == []

    # The owner's session survived everyone's sign-outs, and the owner can do it all.
    owner = scene["owner"]
    for name, route in ROUTES.items():
        answer = await route(owner, base, license, device)
        assert answer.status_code in (200, 302, 303), name
        if answer.status_code == 303:
            assert answer.headers["location"].startswith("https://checkout.stripe.test/"), name
        if answer.status_code == 302:
            assert answer.headers["location"] == f"{base}/licenses/{license.id}", name
    async with seed.database.read_session() as session:
        audits = list(
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.target == license.activation_key)
                .order_by(AuditEvent.seq)
            )
        )
    assert audits == ["portal.key_reveal", "portal.release", "portal.offline_code"]
    [renewal] = fake.checkout_forms
    assert renewal["metadata[renewLicenseId]"] == str(license.id)
