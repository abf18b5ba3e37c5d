"""Stripe (both databases): events signed with Stripe's own library become licenses, once;
renewals extend, cancellations and refunds suspend; the purchase e-mail reaches a real SMTP
server; refused signatures store nothing."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import timedelta

import pytest
import stripe
from sqlalchemy import select

from exisone_server.crypto.master_key import MasterKey
from exisone_server.db import Database
from exisone_server.mail import MailSettings, MailWorker
from exisone_server.models import (
    LicenseStatus,
    MailStatus,
    PaymentEventStatus,
    WebhookEvent,
)
from exisone_server.payments import PaymentSettings, PaymentWorker
from exisone_server.payments.apps import AppForm, save_app
from exisone_server.payments.providers.stripe import StripeProvider
from exisone_server.payments.receiver import REFUSALS
from exisone_server.webhooks import WebhookSettings
from exisone_server.webhooks import service as webhook_service

from .fake_providers import FakeProviders, stripe_headers
from .helpers import assert_error
from .payment_helpers import (
    Shop,
    dumps,
    event_count,
    open_shop,
    stripe_checkout,
    stripe_event,
)
from .seeding import Seed
from .smtp_server import MailServer


async def _send(shop: Shop, payload: dict, **kwargs: object):  # type: ignore[no-untyped-def]
    body = dumps(payload)
    return await shop.post("stripe", body, stripe_headers(body, shop.stripe_secret, **kwargs))  # type: ignore[arg-type]


async def _deliver_mail(database: Database, master_key: MasterKey) -> None:
    await MailWorker(database, master_key, MailSettings.from_env()).run_once()


async def test_checkout_makes_one_key_and_the_purchase_mail_arrives(
    shop: Shop, smtp: MailServer, database: Database, master_key: MasterKey
) -> None:
    """The issue's "done when": a Stripe-signed checkout.session.completed for a product with
    Auto Email makes exactly one key, and a real SMTP server receives the e-mail with it."""
    to = f"buyer-{uuid.uuid4().hex[:6]}@example.com"
    answer = await _send(shop, stripe_checkout(shop.product.id, email=to))
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "fulfilled"
    (license,) = await shop.licenses()
    assert license.email == to and not license.is_corporate
    assert license.expires_at is not None  # the product's 365 default days
    assert timedelta(days=364) < license.expires_at - license.created_at <= timedelta(days=365)
    (event,) = await shop.events()
    assert event.status is PaymentEventStatus.FULFILLED and event.license_id == license.id
    assert license.activation_key in (event.outcome or "")

    await _deliver_mail(database, master_key)
    received = [item for item in smtp.wait_for(1) if item.rcpt_tos == [to]]
    assert len(received) == 1
    text = (received[0].message.get_body(("plain",)) or received[0].message).get_content()
    assert license.activation_key in text


async def test_replays_and_the_backup_event_make_nothing_new(shop: Shop) -> None:
    checkout = stripe_checkout(shop.product.id, payment_intent="pi_" + uuid.uuid4().hex)
    assert (await _send(shop, checkout)).json()["status"] == "fulfilled"
    again = await _send(shop, checkout)  # the same event once more (a new signature)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    intent = checkout["data"]["object"]["payment_intent"]
    backup = stripe_event(
        "payment_intent.succeeded",
        {
            "id": intent,
            "object": "payment_intent",
            "receipt_email": "buyer@example.com",
            "metadata": {"productId": str(shop.product.id)},
        },
    )
    answer = await _send(shop, backup)
    assert answer.json()["status"] == "duplicate"
    assert len(await shop.licenses()) == 1
    statuses = [event.status for event in await shop.events()]
    assert statuses == [PaymentEventStatus.FULFILLED, PaymentEventStatus.DUPLICATE]


async def test_the_same_event_twice_at_once_makes_one_license(shop: Shop) -> None:
    body = dumps(stripe_checkout(shop.product.id))
    headers = stripe_headers(body, shop.stripe_secret)
    answers = await asyncio.gather(*(shop.post("stripe", body, headers) for _ in range(5)))
    assert [answer.status_code for answer in answers] == [200] * 5
    assert len(await shop.licenses()) == 1 and len(await shop.events()) == 1


async def test_payment_intent_before_checkout_licenses_once(shop: Shop) -> None:
    intent = "pi_" + uuid.uuid4().hex
    backup = stripe_event(
        "payment_intent.succeeded",
        {
            "id": intent,
            "receipt_email": "first@example.com",
            "metadata": {"productId": str(shop.product.id), "quantity": "1"},
        },
    )
    assert (await _send(shop, backup)).json()["status"] == "fulfilled"
    checkout = stripe_checkout(shop.product.id, payment_intent=intent)
    assert (await _send(shop, checkout)).json()["status"] == "duplicate"
    assert len(await shop.licenses()) == 1


@pytest.mark.parametrize(
    ("case", "status_code"),
    [("missing", 400), ("wrong secret", 400), ("tampered", 400), ("too old", 400), ("future", 400)],
)
async def test_refused_signatures_store_nothing(
    shop: Shop,
    database: Database,
    case: str,
    status_code: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = dumps(stripe_checkout(shop.product.id))
    secret, timestamp = shop.stripe_secret, int(time.time())
    if case == "wrong secret":
        secret = "whsec_" + uuid.uuid4().hex
    if case == "too old":
        timestamp -= 301
    if case == "future":
        timestamp += 301
    headers = stripe_headers(body, secret, timestamp=timestamp)
    if case == "missing":
        del headers["Stripe-Signature"]
    if case == "tampered":
        body = body.replace(b"buyer@", b"thief@")
    before, refusals = await event_count(database), REFUSALS[("stripe", "signature")]
    answer = await shop.post("stripe", body, headers)
    body_json = assert_error(answer, status_code, "invalid_signature")
    assert body_json["message"] == (
        "The webhook signature is missing, does not match any app, or is too old."
    )
    assert await event_count(database) == before and await shop.licenses() == []
    assert REFUSALS[("stripe", "signature")] == refusals + 1
    [logged] = [r for r in caplog.records if r.name == "exisone_server.payments"]
    assert logged.levelname == "WARNING"
    assert logged.getMessage().startswith("refused a Stripe webhook delivery: signature")
    for secret_part in (shop.stripe_secret, "buyer@", "thief@", headers.get("Stripe-Signature")):
        assert not secret_part or secret_part not in caplog.text


async def test_our_verification_agrees_with_stripes_library(shop: Shop) -> None:
    """Every verdict of the server's verification is stripe.WebhookSignature's too."""
    body = dumps({"id": "evt_x", "type": "ping"})
    now = int(time.time())
    good = stripe_headers(body, shop.stripe_secret, timestamp=now)["Stripe-Signature"]
    other = stripe_headers(body, "whsec_other", timestamp=now)["Stripe-Signature"]
    v1 = good.split("v1=")[1]
    cases = [
        good,
        other,
        f"t={now},v1={v1},v0=ignored",
        f"t={now},v1=deadbeef,v1={v1}",  # a second signature (secret rotation)
        f"t={now},v0={v1}",
        f"t={now - 400},v1={v1}",
        "garbage",
        f"v1={v1}",
    ]
    provider = StripeProvider()
    keys = (await _keys(shop))["stripe"]
    for header in cases:
        check = await provider.signature_check(
            {"stripe-signature": header}, body, PaymentSettings(), time.time()
        )
        ours = check is not None and check(keys)
        try:
            theirs = stripe.WebhookSignature.verify_header(body, header, shop.stripe_secret, 300)
        except stripe.SignatureVerificationError:
            theirs = False
        assert ours is bool(theirs), header


async def _keys(shop: Shop):  # type: ignore[no-untyped-def]
    from exisone_server.payments.apps import app_keys

    return {name: app_keys(shop.seed.master_key, app) for name, app in shop.apps.items()}


async def test_not_json_and_unknown_events(shop: Shop) -> None:
    body = b"this is not json"
    assert_error(
        await shop.post("stripe", body, stripe_headers(body, shop.stripe_secret)),
        400,
        "invalid_json",
    )
    body = dumps([1, 2, 3])
    assert_error(
        await shop.post("stripe", body, stripe_headers(body, shop.stripe_secret)),
        400,
        "invalid_event",
    )
    answer = await _send(shop, stripe_event("customer.created", {"id": "cus_1"}))
    assert answer.status_code == 200 and answer.json()["status"] == "ignored"
    (event,) = await shop.events()
    assert event.status is PaymentEventStatus.IGNORED and event.event_type == "customer.created"


async def test_unmatched_is_kept_and_retried_after_the_mapping(shop: Shop, seed: Seed) -> None:
    """A subscription's first invoice naming an unmapped price is unmatched (200, so Stripe
    stops); once the price is mapped, the replay makes the license."""
    subscription, price = "sub_" + uuid.uuid4().hex, "price_" + uuid.uuid4().hex
    invoice = stripe_event(
        "invoice.paid",
        {
            "id": "in_1",
            "billing_reason": "subscription_create",
            "customer_email": "sub@example.com",
            "subscription": subscription,
            "lines": {"data": [{"price": {"id": price}}]},
        },
    )
    answer = await _send(shop, invoice)
    assert answer.status_code == 200 and answer.json()["status"] == "unmatched"
    (event,) = await shop.events()
    assert price in (event.outcome or "")
    replay = await seed.api.post(f"/api/payments/events/{event.id}/replay")
    assert replay.json()["status"] == "unmatched"

    from exisone_server.payments.service import save_mapping

    async with seed.database.write() as session:
        await save_mapping(
            session,
            seed.tenant.id,
            provider="stripe",
            external_ref=price,
            product_id=shop.product.id,
        )
    replay = await seed.api.post(f"/api/payments/events/{event.id}/replay")
    assert replay.status_code == 200 and replay.json()["status"] == "fulfilled"
    (license,) = await shop.licenses()
    assert replay.json()["activationKey"] == license.activation_key
    assert_error(
        await seed.api.post(f"/api/payments/events/{event.id}/replay"), 409, "payment_event_done"
    )
    listed = await seed.api.get("/api/payments/events?status=fulfilled")
    assert [row["id"] for row in listed.json()] == [event.id]


async def test_renewal_extends_and_waits_for_its_purchase(
    shop: Shop, seed: Seed, database: Database, master_key: MasterKey
) -> None:
    plan = await seed.plan(f"Monthly {uuid.uuid4().hex[:4]}", duration_days=30)
    subscription = "sub_" + uuid.uuid4().hex
    renewal = stripe_event(
        "invoice.paid",
        {"id": "in_2", "billing_reason": "subscription_cycle", "subscription": subscription},
    )
    answer = await _send(shop, renewal)  # before its purchase: waits
    assert answer.json()["status"] == "pending"
    checkout = stripe_checkout(
        shop.product.id, subscription=subscription, extra_metadata={"planId": str(plan.id)}
    )
    assert (await _send(shop, checkout)).json()["status"] == "fulfilled"
    (license,) = await shop.licenses()
    assert license.plan_id == plan.id and license.expires_at is not None
    bought_until = license.expires_at

    pending = next(e for e in await shop.events() if e.status is PaymentEventStatus.PENDING)
    assert pending.next_attempt_at is not None
    worker = PaymentWorker(database, master_key, PaymentSettings.from_env())
    assert await worker.run_once(now=pending.next_attempt_at) >= 1
    (license,) = await shop.licenses()
    assert license.expires_at == bought_until + timedelta(days=30)
    again = await _send(shop, renewal)
    assert again.json()["duplicate"] is True
    (license,) = await shop.licenses()
    assert license.expires_at == bought_until + timedelta(days=30)  # applied once


async def test_cancel_and_refund_suspend(shop: Shop, seed: Seed) -> None:
    subscription = "sub_" + uuid.uuid4().hex
    await _send(shop, stripe_checkout(shop.product.id, subscription=subscription))
    answer = await _send(shop, stripe_event("customer.subscription.deleted", {"id": subscription}))
    assert answer.json()["status"] == "fulfilled"
    (license,) = await shop.licenses()
    assert license.status is LicenseStatus.SUSPENDED

    intent = "pi_" + uuid.uuid4().hex
    await _send(shop, stripe_checkout(shop.product.id, payment_intent=intent))
    partial = stripe_event(
        "charge.refunded", {"id": "ch_1", "payment_intent": intent, "refunded": False}
    )
    assert (await _send(shop, partial)).json()["status"] == "ignored"
    full = stripe_event(
        "charge.refunded", {"id": "ch_1", "payment_intent": intent, "refunded": True}
    )
    assert (await _send(shop, full)).json()["status"] == "fulfilled"
    assert [item.status for item in await shop.licenses()] == [LicenseStatus.SUSPENDED] * 2


async def test_refunds_may_leave_licenses_alone(shop: Shop, seed: Seed) -> None:
    async with seed.database.write() as session:
        await save_app(
            session,
            seed.tenant.id,
            seed.master_key,
            AppForm(provider="stripe", name="Stripe test", suspend_on_refund=False),
            app_id=shop.apps["stripe"].id,
        )
    intent = "pi_" + uuid.uuid4().hex
    await _send(shop, stripe_checkout(shop.product.id, payment_intent=intent))
    dispute = stripe_event("charge.dispute.created", {"id": "dp_1", "payment_intent": intent})
    assert (await _send(shop, dispute)).json()["status"] == "ignored"
    assert [item.status for item in await shop.licenses()] == [LicenseStatus.ACTIVE]


async def test_quantity_means_seats_or_keys(shop: Shop, seed: Seed) -> None:
    from exisone_server.payments.service import save_selling

    await _send(shop, stripe_checkout(shop.product.id, quantity=5))
    (corporate,) = await shop.licenses()
    assert corporate.is_corporate and corporate.max_seats == 5
    async with seed.database.write() as session:
        await save_selling(
            session, seed.tenant.id, shop.product.id, quantity_means="keys", plan_id=None
        )
    await _send(shop, stripe_checkout(shop.product.id, quantity=3))
    licenses = await shop.licenses()
    assert len(licenses) == 4 and not any(item.is_corporate for item in licenses[1:])
    bad = await _send(shop, stripe_checkout(shop.product.id, quantity=0))
    assert bad.json()["status"] == "failed"  # kept, shown, retried by hand


async def test_days_follow_exisones_rules(seed: Seed, fake: FakeProviders) -> None:
    perpetual = await open_shop(seed, default_license_days=0)
    await _send(perpetual, stripe_checkout(perpetual.product.id, extra_metadata={"days": "10"}))
    (license,) = await perpetual.licenses()
    assert license.expires_at is None  # a perpetual product overrides incoming days


async def test_a_customer_address_that_is_not_one(shop: Shop) -> None:
    answer = await _send(shop, stripe_checkout(shop.product.id, email="not an address"))
    assert answer.json()["status"] == "fulfilled"
    (license,) = await shop.licenses()
    (message,) = await shop.messages()
    assert message.license_id == license.id and message.status is MailStatus.UNDELIVERABLE


async def test_license_created_names_the_payment(
    shop: Shop, seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with seed.database.write() as session:
        await webhook_service.create_endpoint(
            session,
            seed.tenant.id,
            seed.master_key,
            WebhookSettings(allow_http_loopback=True),
            url="http://127.0.0.1:9/hook",
            events=["license.created"],
        )
    checkout = stripe_checkout(shop.product.id, payment_intent="pi_" + uuid.uuid4().hex)
    await _send(shop, checkout)
    async with seed.database.read_session() as session:
        body = await session.scalar(
            select(WebhookEvent.body).where(WebhookEvent.tenant_id == seed.tenant.id)
        )
    payment = json.loads(body or "{}")["data"]["payment"]
    assert payment == {
        "provider": "stripe",
        "orderId": checkout["data"]["object"]["payment_intent"],
        "eventId": checkout["id"],
    }


async def test_diagnostics_and_checkout_session(
    shop: Shop, seed: Seed, fake: FakeProviders
) -> None:
    diagnostics = (await seed.api.get("/api/stripe/diagnostics")).json()
    (app,) = diagnostics["apps"]
    assert app["status"] == "Ready" and app["hasSecret"] and app["hasWebhookSigningSecret"]
    assert "whsec" not in json.dumps(diagnostics) and "sk_test" not in json.dumps(diagnostics)

    no_price = await seed.api.post(
        "/api/stripe/checkout/session",
        {
            "productId": shop.product.id,
            "successUrl": "https://s.example/ok",
            "cancelUrl": "https://s.example/no",
        },
    )
    assert_error(no_price, 409, "product_not_priced")
    async with seed.database.write() as session:
        from exisone_server.models import Product

        row = await session.get(Product, shop.product.id)
        assert row is not None
        from decimal import Decimal

        row.price = Decimal("19.99")
    created = await seed.api.post(
        "/api/stripe/checkout/session",
        {
            "productId": shop.product.id,
            "quantity": 2,
            "successUrl": "https://s.example/ok",
            "cancelUrl": "https://s.example/no",
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["url"].startswith("https://checkout.stripe.test/pay/cs_test_")
    (form,) = fake.checkout_forms
    assert form["metadata[productId]"] == str(shop.product.id) and form["metadata[quantity]"] == "2"
    assert form["line_items[0][price_data][unit_amount]"] == "1999"
    assert form["line_items[0][price_data][currency]"] == "usd"
    assert form["payment_intent_data[metadata][productId]"] == str(shop.product.id)
