"""Paddle Billing, Lemon Squeezy and PayPal (both databases): each provider's documented
signature, its purchase making one key whose e-mail reaches a real SMTP server, replays making
nothing new, and what each needs of the provider's API (local HTTPS stand-ins)."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

from paddle_billing.Notifications import Secret
from paddle_billing.Notifications.PaddleSignature import PaddleSignature

from exisone_server.crypto.master_key import MasterKey
from exisone_server.db import Database
from exisone_server.mail import MailSettings, MailWorker
from exisone_server.models import LicenseStatus, PaymentEventStatus

from .fake_providers import (
    PAYPAL_WEBHOOK_ID,
    FakeProviders,
    lemonsqueezy_headers,
    paddle_headers,
)
from .helpers import assert_error
from .payment_helpers import (
    Shop,
    dumps,
    event_count,
)
from .seeding import Seed
from .smtp_server import MailServer


async def _mail_arrives(
    shop: Shop, smtp: MailServer, database: Database, master_key: MasterKey, to: str
) -> None:
    (license,) = await shop.licenses()
    assert license.email == to
    await MailWorker(database, master_key, MailSettings.from_env()).run_once()
    arrived = [item for item in smtp.wait_for(1) if item.rcpt_tos == [to]]
    assert len(arrived) == 1
    text = (arrived[0].message.get_body(("plain",)) or arrived[0].message).get_content()
    assert license.activation_key in text


# -- Paddle Billing -------------------------------------------------------------------------------


def paddle_transaction(product_id: int | None, *, customer: str, **data: object) -> dict:
    custom = {"productId": str(product_id)} if product_id is not None else None
    return {
        "event_id": f"evt_{uuid.uuid4().hex}",
        "event_type": "transaction.completed",
        "occurred_at": "2026-01-01T00:00:00Z",
        "notification_id": f"ntf_{uuid.uuid4().hex}",
        "data": {
            "id": f"txn_{uuid.uuid4().hex}",
            "status": "completed",
            "origin": "web",
            "customer_id": customer,
            "subscription_id": None,
            "custom_data": custom,
            "items": [{"price": {"id": "pri_01", "product_id": "pro_01"}, "quantity": 1}],
            **data,
        },
    }


async def test_paddle_purchase_looks_the_customer_up_and_mails_the_key(
    shop: Shop, fake: FakeProviders, smtp: MailServer, database: Database, master_key: MasterKey
) -> None:
    customer, to = f"ctm_{uuid.uuid4().hex[:8]}", f"paddle-{uuid.uuid4().hex[:6]}@example.com"
    fake.customers[customer] = to
    body = dumps(paddle_transaction(shop.product.id, customer=customer))
    answer = await shop.post("paddle", body, paddle_headers(body, shop.paddle_secret))
    assert answer.status_code == 200 and answer.json()["status"] == "fulfilled", answer.text
    assert f"GET /customers/{customer}" in fake.calls
    await _mail_arrives(shop, smtp, database, master_key, to)
    again = await shop.post("paddle", body, paddle_headers(body, shop.paddle_secret))
    assert again.json()["duplicate"] is True and len(await shop.licenses()) == 1


async def test_paddle_signature_scheme_and_tolerance(shop: Shop, database: Database) -> None:
    body = dumps(paddle_transaction(shop.product.id, customer="ctm_x"))
    headers = paddle_headers(body, shop.paddle_secret)
    # Paddle's own SDK accepts the header this test signs (the documented scheme).
    assert PaddleSignature().verify(
        headers["Paddle-Signature"], body.decode(), Secret(shop.paddle_secret)
    )
    before = await event_count(database)
    old = paddle_headers(body, shop.paddle_secret, timestamp=int(time.time()) - 6)
    assert_error(await shop.post("paddle", body, old), 400, "invalid_signature")
    wrong = paddle_headers(body, "another-secret")
    assert_error(await shop.post("paddle", body, wrong), 400, "invalid_signature")
    assert await event_count(database) == before


async def test_paddle_renewal_and_cancel(shop: Shop, seed: Seed, fake: FakeProviders) -> None:
    fake.customers["ctm_sub"] = "sub@example.com"
    subscription = f"sub_{uuid.uuid4().hex}"
    plan = await seed.plan(f"Yearly {uuid.uuid4().hex[:4]}", duration_days=365)
    purchase = paddle_transaction(shop.product.id, customer="ctm_sub", subscription_id=subscription)
    purchase["data"]["custom_data"]["planId"] = str(plan.id)
    body = dumps(purchase)
    assert (await shop.post("paddle", body, paddle_headers(body, shop.paddle_secret))).json()[
        "status"
    ] == "fulfilled"
    (license,) = await shop.licenses()
    bought = license.expires_at
    assert bought is not None
    renewal = paddle_transaction(
        None, customer="ctm_sub", subscription_id=subscription, origin="subscription_recurring"
    )
    body = dumps(renewal)
    answer = await shop.post("paddle", body, paddle_headers(body, shop.paddle_secret))
    assert answer.json()["status"] == "fulfilled"
    (license,) = await shop.licenses()
    assert license.expires_at == bought + timedelta(days=365)
    cancel = {
        "event_id": f"evt_{uuid.uuid4().hex}",
        "event_type": "subscription.canceled",
        "data": {"id": subscription},
    }
    body = dumps(cancel)
    assert (await shop.post("paddle", body, paddle_headers(body, shop.paddle_secret))).json()[
        "status"
    ] == "fulfilled"
    (license,) = await shop.licenses()
    assert license.status is LicenseStatus.SUSPENDED


# -- Lemon Squeezy --------------------------------------------------------------------------------


def ls_order(product_id: int | None, email: str, order_id: str | None = None) -> dict:
    return {
        "meta": {
            "event_name": "order_created",
            "custom_data": {"productId": str(product_id)} if product_id else None,
        },
        "data": {
            "type": "orders",
            "id": order_id or str(uuid.uuid4().int % 10**9),
            "attributes": {
                "status": "paid",
                "user_email": email,
                "first_order_item": {"variant_id": 4242, "product_id": 77, "quantity": 1},
            },
        },
    }


async def test_lemonsqueezy_purchase_mails_the_key_and_replays_do_nothing(
    shop: Shop, smtp: MailServer, database: Database, master_key: MasterKey
) -> None:
    to = f"lemon-{uuid.uuid4().hex[:6]}@example.com"
    body = dumps(ls_order(shop.product.id, to))
    answer = await shop.post(
        "lemonsqueezy", body, lemonsqueezy_headers(body, shop.lemonsqueezy_secret)
    )
    assert answer.status_code == 200 and answer.json()["status"] == "fulfilled", answer.text
    await _mail_arrives(shop, smtp, database, master_key, to)
    again = await shop.post(
        "lemonsqueezy", body, lemonsqueezy_headers(body, shop.lemonsqueezy_secret)
    )
    assert again.json()["duplicate"] is True and len(await shop.licenses()) == 1
    tampered = body.replace(to.encode(), b"thief@example.com")
    refused = await shop.post(
        "lemonsqueezy", tampered, lemonsqueezy_headers(body, shop.lemonsqueezy_secret)
    )
    assert_error(refused, 400, "invalid_signature")


async def test_lemonsqueezy_checkout_naming_a_key_renews_it(shop: Shop, seed: Seed) -> None:
    """A renewal address's checkout with ``renewLicenseId`` in its custom data extends that key
    once (the order is claimed) and makes no new one."""
    email = f"renew-{uuid.uuid4().hex[:6]}@example.com"
    license = await seed.license(shop.product, email=email, validity_days=30)
    expires = license.expires_at
    assert expires is not None
    order = ls_order(shop.product.id, email)
    order["meta"]["custom_data"]["renewLicenseId"] = str(license.id)
    body = dumps(order)
    answers = [
        (
            await shop.post(
                "lemonsqueezy", body, lemonsqueezy_headers(body, shop.lemonsqueezy_secret)
            )
        ).json()
        for _ in range(2)
    ]
    assert answers[0]["status"] == "fulfilled" and answers[1]["duplicate"] is True, answers
    [renewed] = await shop.licenses()
    assert renewed.id == license.id and renewed.expires_at == expires + timedelta(days=365)


async def test_lemonsqueezy_subscription_links_then_renews(shop: Shop, seed: Seed) -> None:
    plan = await seed.plan(f"Monthly {uuid.uuid4().hex[:4]}", duration_days=30)
    order_id, subscription = str(uuid.uuid4().int % 10**9), str(uuid.uuid4().int % 10**9)
    order = ls_order(shop.product.id, "ls-sub@example.com", order_id)
    order["meta"]["custom_data"]["planId"] = str(plan.id)
    created = {
        "meta": {"event_name": "subscription_created", "custom_data": order["meta"]["custom_data"]},
        "data": {
            "type": "subscriptions",
            "id": subscription,
            "attributes": {
                "order_id": int(order_id),
                "user_email": "ls-sub@example.com",
                "updated_at": "t1",
            },
        },
    }
    renewal = {
        "meta": {"event_name": "subscription_payment_success"},
        "data": {
            "type": "subscription-invoices",
            "id": "9001" + subscription,
            "attributes": {
                "billing_reason": "renewal",
                "subscription_id": int(subscription),
                "updated_at": "t2",
            },
        },
    }
    statuses = []
    for payload in (order, created, renewal):
        body = dumps(payload)
        answer = await shop.post(
            "lemonsqueezy", body, lemonsqueezy_headers(body, shop.lemonsqueezy_secret)
        )
        statuses.append(answer.json()["status"])
    assert statuses == ["fulfilled", "duplicate", "fulfilled"]
    (license,) = await shop.licenses()
    assert license.expires_at is not None
    assert license.expires_at - license.created_at >= timedelta(days=59)


# -- PayPal ---------------------------------------------------------------------------------------


def paypal_order(product_id: int, email: str | None, order_id: str | None = None) -> dict:
    order = order_id or f"5O{uuid.uuid4().hex[:15].upper()}"
    return {
        "id": f"WH-{uuid.uuid4().hex[:20].upper()}",
        "event_type": "CHECKOUT.ORDER.COMPLETED",
        "resource_type": "checkout-order",
        "resource": {
            "id": order,
            "status": "COMPLETED",
            "payer": {"email_address": email} if email else {},
            "purchase_units": [
                {
                    "custom_id": f"productId={product_id};quantity=1",
                    "payments": {"captures": [{"id": f"CAP{uuid.uuid4().hex[:10].upper()}"}]},
                }
            ],
        },
    }


def _webhook_id(shop: Shop) -> str:
    return f"{PAYPAL_WEBHOOK_ID}{shop.seed.tenant.id}"


async def test_paypal_order_verified_with_the_certificate_mails_the_key(
    shop: Shop, fake: FakeProviders, smtp: MailServer, database: Database, master_key: MasterKey
) -> None:
    to = f"paypal-{uuid.uuid4().hex[:6]}@example.com"
    body = dumps(paypal_order(shop.product.id, to))
    answer = await shop.post("paypal", body, fake.paypal_headers(body, _webhook_id(shop)))
    assert answer.status_code == 200 and answer.json()["status"] == "fulfilled", answer.text
    assert "GET /v1/notifications/certs/test" in fake.calls
    await _mail_arrives(shop, smtp, database, master_key, to)
    again = await shop.post("paypal", body, fake.paypal_headers(body, _webhook_id(shop)))
    assert again.json()["duplicate"] is True and len(await shop.licenses()) == 1


async def test_paypal_refusals(shop: Shop, fake: FakeProviders, database: Database) -> None:
    body = dumps(paypal_order(shop.product.id, "x@example.com"))
    before = await event_count(database)
    cases = [
        fake.paypal_headers(body, "ANOTHERWEBHOOK"),  # signed for another webhook
        fake.paypal_headers(body, _webhook_id(shop), cert_url="https://api.evil.example/cert"),
        fake.paypal_headers(
            body, _webhook_id(shop), cert_url=fake.cert_url.replace("https", "http")
        ),
        fake.paypal_headers(
            body, _webhook_id(shop), sent_at=datetime.now(timezone.utc) - timedelta(minutes=6)
        ),
    ]
    for headers in cases:
        assert_error(await shop.post("paypal", body, headers), 400, "invalid_signature")
    tampered = body.replace(b"x@example.com", b"y@example.com")
    headers = fake.paypal_headers(body, _webhook_id(shop))
    assert_error(await shop.post("paypal", tampered, headers), 400, "invalid_signature")
    assert await event_count(database) == before


async def test_paypal_capture_looks_the_payer_up_and_the_order_event_is_a_duplicate(
    shop: Shop, fake: FakeProviders
) -> None:
    order = f"5O{uuid.uuid4().hex[:15].upper()}"
    fake.orders[order] = "captured@example.com"
    capture = {
        "id": f"WH-{uuid.uuid4().hex[:20].upper()}",
        "event_type": "PAYMENT.CAPTURE.COMPLETED",
        "resource": {
            "id": "CAP1",
            "custom_id": str(shop.product.id),
            "supplementary_data": {"related_ids": {"order_id": order}},
        },
    }
    body = dumps(capture)
    answer = await shop.post("paypal", body, fake.paypal_headers(body, _webhook_id(shop)))
    assert answer.json()["status"] == "fulfilled"
    assert "POST /v1/oauth2/token" in fake.calls
    (license,) = await shop.licenses()
    assert license.email == "captured@example.com"
    body = dumps(paypal_order(shop.product.id, "captured@example.com", order))
    answer = await shop.post("paypal", body, fake.paypal_headers(body, _webhook_id(shop)))
    assert answer.json()["status"] == "duplicate" and len(await shop.licenses()) == 1
    refund = {
        "id": f"WH-{uuid.uuid4().hex[:20].upper()}",
        "event_type": "PAYMENT.CAPTURE.REFUNDED",
        "resource": {
            "id": "REF1",
            "links": [{"rel": "up", "href": "https://api/v2/payments/captures/CAP1"}],
        },
    }
    body = dumps(refund)
    answer = await shop.post("paypal", body, fake.paypal_headers(body, _webhook_id(shop)))
    assert answer.json()["status"] == "fulfilled"
    (license,) = await shop.licenses()
    assert license.status is LicenseStatus.SUSPENDED


async def test_an_event_without_the_address_waits(shop: Shop, fake: FakeProviders) -> None:
    """A PayPal capture whose order the API does not know: the event waits (pending)."""
    capture = {
        "id": f"WH-{uuid.uuid4().hex[:20].upper()}",
        "event_type": "PAYMENT.CAPTURE.COMPLETED",
        "resource": {
            "id": "CAP2",
            "custom_id": str(shop.product.id),
            "supplementary_data": {"related_ids": {"order_id": "UNKNOWN"}},
        },
    }
    body = dumps(capture)
    answer = await shop.post("paypal", body, fake.paypal_headers(body, _webhook_id(shop)))
    assert answer.json()["status"] == "pending"
    (event,) = await shop.events()
    assert event.status is PaymentEventStatus.PENDING and "404" in (event.outcome or "")
    assert await shop.licenses() == []
