"""The portal's "Renew" link (in-process, both databases, the local fake Stripe over HTTPS):
shown only for a customer's renewable license when a payment provider is connected; through
Stripe the portal makes a Checkout session for that license, and the signed payment event
extends the same key (no new one); through Paddle, Lemon Squeezy or PayPal it is the
publisher's renewal address."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from sqlalchemy import func, select

from exisone_server.kit.time import utc_now
from exisone_server.models import (
    HistoryAction,
    License,
    LicenseHistory,
    LicenseStatus,
    MailMessage,
    PaymentEventStatus,
)
from exisone_server.payments.apps import AppForm, save_app
from exisone_server.payments.service import save_selling

from ..server.fake_providers import FakeProviders, stripe_headers
from ..server.payment_helpers import Shop, dumps, open_shop, stripe_checkout
from ..server.seeding import Seed
from .helpers import Browser, browser, csrf_of, open_portal, sign_in

_RENEW = re.compile(r'href="([^"]*)">Renew')


def _address() -> str:
    return f"renew-{uuid.uuid4().hex[:8]}@example.com"


def _renew_links(html: str) -> list[str]:
    return _RENEW.findall(html)


async def _license(seed: Seed, license_id: int) -> License:
    async with seed.database.read_session() as session:
        found = await session.get(License, license_id)
        assert found is not None
        return found


async def _license_count(seed: Seed) -> int:
    async with seed.database.read_session() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(License).where(License.tenant_id == seed.tenant.id)
            )
            or 0
        )


async def _priced_shop(seed: Seed) -> Shop:
    """An app per provider and a product sold at 49.00 for 365 days."""
    return await open_shop(seed, price=Decimal("49.00"))


async def test_renew_shows_only_for_renewable_licenses_of_a_connected_shop(
    app: Any, seed: Seed, fake: FakeProviders
) -> None:
    email = _address()
    bare = await seed.product(name="Unsold", default_license_days=30, price=Decimal("10"))
    before = await seed.license(bare, email=email, validity_days=30)
    base = await open_portal(seed)
    customer = await sign_in(app, seed, base, email)
    listing = await customer.client.get(f"{base}/licenses")
    assert _renew_links(listing.text) == []  # no payment provider connected
    page = await customer.client.get(f"{base}/licenses/{before.id}/renew")
    assert page.status_code == 404

    shop = await _priced_shop(seed)
    renewable = await seed.license(shop.product, email=email, validity_days=365)
    perpetual = await seed.license(shop.product, email=email)
    await seed.update_license(perpetual, expires_at=None)
    revoked = await seed.license(shop.product, email=email, validity_days=365)
    await seed.update_license(revoked, status=LicenseStatus.REVOKED)
    suspended = await seed.license(shop.product, email=email, validity_days=365)
    await seed.update_license(suspended, status=LicenseStatus.SUSPENDED)
    strangers = await seed.license(shop.product, email=_address(), validity_days=365)

    listing = await customer.client.get(f"{base}/licenses")
    renew = f"{base}/licenses/{renewable.id}/renew"
    assert sorted(_renew_links(listing.text)) == sorted(
        [renew, f"{base}/licenses/{before.id}/renew"]
    )
    detail = await customer.client.get(f"{base}/licenses/{renewable.id}")
    assert _renew_links(detail.text) == [renew]
    for other in (perpetual, revoked, suspended):
        shown = await customer.client.get(f"{base}/licenses/{other.id}")
        assert shown.status_code == 200 and _renew_links(shown.text) == []
    for refused in (perpetual, revoked, suspended, strangers):
        for method in ("GET", "POST"):
            token = csrf_of(listing.text)
            answer = await customer.client.request(
                method,
                f"{base}/licenses/{refused.id}/renew",
                data={"csrf_token": token} if method == "POST" else None,
            )
            assert answer.status_code == 404, (refused.id, method)
    assert fake.checkout_forms == []

    nobody = browser(app, base)
    assert (await nobody.client.get(renew)).status_code == 302
    forged = await customer.client.post(renew, data={"csrf_token": "not-the-token"})
    assert forged.status_code == 403
    assert fake.checkout_forms == []


async def _pay(customer: Browser, renew: str) -> str:
    """Open the renewal page, press its button; the address it sends the customer to."""
    page = await customer.client.get(renew)
    assert page.status_code == 200, page.text
    assert "form-action 'self' https:" in page.headers["content-security-policy"]
    sent = await customer.client.post(renew, data={"csrf_token": csrf_of(page.text)})
    assert sent.status_code == 303, sent.text
    return sent.headers["location"]


async def test_the_stripe_payment_renews_the_same_license(
    app: Any, seed: Seed, fake: FakeProviders
) -> None:
    shop = await _priced_shop(seed)
    email = _address()
    license = await seed.license(shop.product, email=email, is_corporate=True, max_seats=3)
    await seed.update_license(license, expires_at=utc_now() + timedelta(days=10))
    expires = (await _license(seed, license.id)).expires_at
    assert expires is not None
    base = await open_portal(seed)
    customer = await sign_in(app, seed, base, email)
    renew = f"{base}/licenses/{license.id}/renew"
    page = await customer.client.get(renew)
    assert "365 more days" in page.text and "Pay and renew" in page.text

    location = await _pay(customer, renew)
    assert location.startswith("https://checkout.stripe.test/pay/cs_test_")
    (form,) = fake.checkout_forms
    assert form["metadata[renewLicenseId]"] == str(license.id)
    assert form["payment_intent_data[metadata][renewLicenseId]"] == str(license.id)
    assert form["metadata[productId]"] == str(shop.product.id)
    assert form["metadata[quantity]"] == "1" and form["line_items[0][quantity]"] == "1"
    assert form["line_items[0][price_data][unit_amount]"] == "4900"
    assert form["line_items[0][price_data][product_data][name]"].endswith("(renewal)")
    assert form["customer_email"] == email
    back = f"https://licenses.example.com{base}/licenses/{license.id}"
    assert form["success_url"] == back + "?renewed=1" and form["cancel_url"] == back

    # Stripe's signed events for that session: the key is extended once, no key is made.
    metadata = {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")}
    payment = "pi_" + uuid.uuid4().hex
    paid = stripe_checkout(None, email=email, payment_intent=payment, extra_metadata=metadata)
    intent = {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": payment, "receipt_email": email, "metadata": metadata}},
    }
    before = await _license_count(seed)
    outcomes = []
    for event in (paid, intent, paid):
        body = dumps(event)
        answer = await shop.post("stripe", body, stripe_headers(body, shop.stripe_secret))
        assert answer.status_code == 200, answer.text
        outcomes.append(answer.json())
    assert outcomes[0]["status"] == "fulfilled" and outcomes[1]["status"] == "duplicate"
    assert outcomes[2]["duplicate"] is True
    assert await _license_count(seed) == before
    renewed = await _license(seed, license.id)
    assert renewed.expires_at == expires + timedelta(days=365)
    assert renewed.max_seats == 3 and renewed.activation_key == license.activation_key
    async with seed.database.read_session() as session:
        history = list(
            await session.scalars(
                select(LicenseHistory.action).where(LicenseHistory.license_id == license.id)
            )
        )
        mails = await session.scalar(
            select(func.count())
            .select_from(MailMessage)
            .where(MailMessage.tenant_id == seed.tenant.id, MailMessage.kind == "purchase")
        )
    assert history.count(HistoryAction.RENEWED) == 1
    assert mails == 0  # a renewal sends no purchase e-mail
    [event, *_] = await shop.events()
    assert event.status is PaymentEventStatus.FULFILLED and event.license_id == license.id

    thanks = await customer.client.get(f"{base}/licenses/{license.id}", params={"renewed": "1"})
    assert "The new expiry shows here" in thanks.text
    assert renewed.expires_at.strftime("%Y-%m-%d") in thanks.text


async def test_a_renewal_of_another_product_or_no_license_renews_nothing(
    seed: Seed, fake: FakeProviders
) -> None:
    shop = await _priced_shop(seed)
    other = await seed.product(name="Other", default_license_days=30)
    license = await seed.license(shop.product, email=_address(), validity_days=30)
    expires = (await _license(seed, license.id)).expires_at
    for metadata, words in (
        ({"productId": str(other.id), "renewLicenseId": str(license.id)}, "not the product"),
        ({"productId": str(shop.product.id), "renewLicenseId": "12345"}, "names no license"),
    ):
        body = dumps(stripe_checkout(None, extra_metadata=metadata))
        answer = await shop.post("stripe", body, stripe_headers(body, shop.stripe_secret))
        assert answer.json()["status"] == "failed", answer.text
        assert words in (await shop.events())[-1].outcome  # type: ignore[operator]
    assert (await _license(seed, license.id)).expires_at == expires


async def test_paddle_lemon_squeezy_and_paypal_show_the_publishers_address(
    app: Any, seed: Seed
) -> None:
    email = "renew+" + uuid.uuid4().hex[:6] + "@example.com"
    product = await seed.product(name="Sold at Paddle", default_license_days=365, price=Decimal(9))
    license = await seed.license(product, email=email, validity_days=365)
    base = await open_portal(seed)
    customer = await sign_in(app, seed, base, email)
    address = "https://buy.example.com/renew?license={licenseId}&email={email}"
    async with seed.database.write() as session:
        await save_selling(
            session,
            seed.tenant.id,
            product.id,
            quantity_means="seats",
            plan_id=None,
            renewal_url=address,
        )
    listing = await customer.client.get(f"{base}/licenses")
    assert _renew_links(listing.text) == []  # an address, but no provider connected

    async with seed.database.write() as session:
        await save_app(
            session,
            seed.tenant.id,
            seed.master_key,
            AppForm(provider="lemonsqueezy", name="Lemon", signing_secret="ls-" + uuid.uuid4().hex),
        )
    listing = await customer.client.get(f"{base}/licenses")
    expected = address.format(licenseId=license.id, email=quote(email, safe=""))
    assert _renew_links(listing.text) == [expected.replace("&", "&amp;")]
    assert (await customer.client.get(f"{base}/licenses/{license.id}/renew")).status_code == 404

    async with seed.database.write() as session:
        await save_selling(
            session, seed.tenant.id, product.id, quantity_means="seats", plan_id=None
        )
    assert _renew_links((await customer.client.get(f"{base}/licenses")).text) == []
