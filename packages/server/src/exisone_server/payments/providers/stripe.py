"""Stripe: ``Stripe-Signature`` verification and the events that make, renew and stop licenses.

Signature (Stripe's documented scheme): ``Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=…]``
where ``v1`` is HMAC-SHA256 under the endpoint's signing secret (``whsec_…``) of
``"<t>." + raw body``; a ``t`` further than the tolerance (300 s) from now is refused. Other
schemes (``v0``) are ignored, so Stripe's API-version changes never break verification.

Events (``data.object``):

* ``checkout.session.completed`` / ``checkout.session.async_payment_succeeded`` (paid):
  purchase; the order is the subscription (mode ``subscription``), else the payment intent.
* ``payment_intent.succeeded`` with ``productId`` metadata: purchase of the same order (a
  Checkout payment is never licensed twice); without it, or for an invoice's payment, ignored.
  With ``renewLicenseId`` metadata too (a renewal's checkout), either of them renews that
  license instead (:mod:`..fulfilment`).
* ``invoice.paid``: ``subscription_create`` is the subscription's purchase, ``subscription_cycle``
  a renewal.
* ``customer.subscription.deleted``: the subscription ended (cancel).
* ``charge.refunded`` (fully refunded) and ``charge.dispute.created``: refund.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..event import Action, PaymentEvent, metadata_text, sale_metadata
from ..settings import PaymentSettings
from .base import (
    Provider,
    SignatureCheck,
    parse_timed_signatures,
    timed_hmac_check,
)

__all__ = ["StripeProvider", "parse_signature_header"]


def parse_signature_header(header: str) -> tuple[int, list[str]] | None:
    """``(timestamp, v1 signatures)`` of a ``Stripe-Signature`` value, or None."""
    return parse_timed_signatures(header, ",", "t", "v1")


def _object(payload: dict[str, Any]) -> dict[str, Any]:
    data = payload.get("data")
    found = data.get("object") if isinstance(data, dict) else None
    return found if isinstance(found, dict) else {}


def _text(value: Any) -> str | None:
    if isinstance(value, dict):  # an expanded object
        value = value.get("id")
    return value.strip() if isinstance(value, str) and value.strip() else None


class StripeProvider(Provider):
    name = "stripe"
    label = "Stripe"

    async def signature_check(
        self, headers: Mapping[str, str], body: bytes, settings: PaymentSettings, now: float
    ) -> SignatureCheck | None:
        return timed_hmac_check(
            parse_signature_header(headers.get("stripe-signature", "")),
            now,
            settings.stripe_tolerance_seconds,
            lambda timestamp: str(timestamp).encode() + b"." + body,
        )

    def parse(self, payload: Any) -> PaymentEvent:
        if not isinstance(payload, dict):
            raise ValueError("not a Stripe event")
        event_id, event_type = _text(payload.get("id")), _text(payload.get("type"))
        if event_id is None or event_type is None:
            raise ValueError("a Stripe event has an id and a type")
        obj = _object(payload)
        base: dict[str, Any] = {
            "provider": self.name,
            "event_id": event_id,
            "event_type": event_type,
        }
        if event_type in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
            return self._checkout(base, obj)
        if event_type == "payment_intent.succeeded":
            return self._payment_intent(base, obj)
        if event_type == "invoice.paid":
            return self._invoice(base, obj)
        if event_type == "customer.subscription.deleted":
            return PaymentEvent(**base, action=Action.CANCEL, subscription_ref=_text(obj.get("id")))
        if event_type in ("charge.refunded", "charge.dispute.created"):
            if event_type == "charge.refunded" and obj.get("refunded") is not True:
                return PaymentEvent(
                    **base, action=Action.IGNORE, note="a partial refund changes no license"
                )
            payment = _text(obj.get("payment_intent"))
            return PaymentEvent(**base, action=Action.REFUND, payment_ref=payment)
        return PaymentEvent(**base, action=Action.IGNORE, note="an event type the server ignores")

    def _checkout(self, base: dict[str, Any], obj: dict[str, Any]) -> PaymentEvent:
        if obj.get("payment_status") == "unpaid":
            return PaymentEvent(
                **base,
                action=Action.IGNORE,
                note="not paid yet: checkout.session.async_payment_succeeded makes the license",
            )
        metadata = obj.get("metadata")
        subscription = _text(obj.get("subscription"))
        payment = _text(obj.get("payment_intent"))
        details = obj.get("customer_details")
        email = (details.get("email") if isinstance(details, dict) else None) or obj.get(
            "customer_email"
        )
        order = subscription or payment or _text(obj.get("id"))
        return PaymentEvent(
            **base,
            action=Action.PURCHASE,
            order_ref=order,
            subscription_ref=subscription,
            payment_ref=payment,
            email=_text(email) or metadata_text(metadata, "email"),
            **sale_metadata(metadata),
        )

    def _payment_intent(self, base: dict[str, Any], obj: dict[str, Any]) -> PaymentEvent:
        metadata = obj.get("metadata")
        sale = sale_metadata(metadata)
        if obj.get("invoice") or sale["product_ref"] is None:
            return PaymentEvent(
                **base,
                action=Action.IGNORE,
                note="no productId metadata (or a subscription's payment): nothing to license",
            )
        payment = _text(obj.get("id"))
        email = _text(obj.get("receipt_email")) or metadata_text(metadata, "email")
        return PaymentEvent(
            **base,
            action=Action.PURCHASE,
            order_ref=payment,
            payment_ref=payment,
            email=email,
            **sale,
        )

    def _invoice(self, base: dict[str, Any], obj: dict[str, Any]) -> PaymentEvent:
        parent = obj.get("parent")
        details = (parent.get("subscription_details") if isinstance(parent, dict) else None) or (
            obj.get("subscription_details") or {}
        )
        if not isinstance(details, dict):
            details = {}
        subscription = _text(obj.get("subscription")) or _text(details.get("subscription"))
        reason = obj.get("billing_reason")
        if subscription is None:
            return PaymentEvent(**base, action=Action.IGNORE, note="not a subscription's invoice")
        if reason == "subscription_cycle":
            return PaymentEvent(**base, action=Action.RENEWAL, subscription_ref=subscription)
        if reason != "subscription_create":
            return PaymentEvent(
                **base, action=Action.IGNORE, note=f"billing reason {reason!r} changes no license"
            )
        sale = sale_metadata(details.get("metadata"))
        if sale["product_ref"] is None and not _prices(obj):
            return PaymentEvent(
                **base,
                action=Action.IGNORE,
                note="the subscription's first invoice: checkout.session.completed makes the "
                "license",
            )
        return PaymentEvent(
            **base,
            action=Action.PURCHASE,
            order_ref=subscription,
            subscription_ref=subscription,
            payment_ref=_text(obj.get("payment_intent")),
            email=_text(obj.get("customer_email")),
            external_refs=_prices(obj),
            **sale,
        )


def _prices(invoice: dict[str, Any]) -> tuple[str, ...]:
    lines = invoice.get("lines")
    items = lines.get("data") if isinstance(lines, dict) else None
    found: list[str] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        price = _text(item.get("price"))
        pricing = item.get("pricing")
        if price is None and isinstance(pricing, dict):
            details = pricing.get("price_details")
            price = _text(details.get("price")) if isinstance(details, dict) else None
        if price:
            found.append(price)
    return tuple(found)
