"""Lemon Squeezy: ``X-Signature`` verification and the events that make, renew and stop licenses.

Signature (Lemon Squeezy's documented scheme): ``X-Signature: <hex>``, HMAC-SHA256 of the raw
body under the webhook's signing secret. It carries no time, so a replayed delivery is stopped
by the event's id alone (stored once per provider).

Lemon Squeezy's events have no id of their own: the server's is ``<event name>:<object id>``
(plus the object's ``updated_at`` for subscription events, which repeat for one object).

Events: ``order_created`` (paid) is a purchase, the order its order; ``subscription_created``
names the same order and links its subscription; ``subscription_payment_success`` with billing
reason ``renewal`` is a renewal; ``subscription_expired`` ends a subscription (a cancelled one
stays paid until then); ``order_refunded`` is a refund. ``meta.custom_data`` (the checkout's
``checkout[custom][…]``) carries ``productId`` and ``quantity``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..event import Action, PaymentEvent, metadata_text, sale_metadata
from ..settings import PaymentSettings
from .base import AppKeys, Provider, SignatureCheck, hmac_sha256_hex, signatures_match

__all__ = ["LemonSqueezyProvider"]


def _text(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) and value.strip() else None


class LemonSqueezyProvider(Provider):
    name = "lemonsqueezy"
    label = "Lemon Squeezy"

    async def signature_check(
        self, headers: Mapping[str, str], body: bytes, settings: PaymentSettings, now: float
    ) -> SignatureCheck | None:
        signature = headers.get("x-signature", "").strip().lower()
        if not signature:
            return None

        def check(keys: AppKeys) -> bool:
            if not keys.signing_secret:
                return False
            return signatures_match(hmac_sha256_hex(keys.signing_secret, body), [signature])

        return check

    def parse(self, payload: Any) -> PaymentEvent:
        meta = payload.get("meta") if isinstance(payload, dict) else None
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(meta, dict) or not isinstance(data, dict):
            raise ValueError("a Lemon Squeezy event has meta and data")
        event_type, object_id = _text(meta.get("event_name")), _text(data.get("id"))
        if event_type is None or object_id is None:
            raise ValueError("a Lemon Squeezy event has an event name and an object id")
        attributes = data.get("attributes") if isinstance(data.get("attributes"), dict) else {}
        assert isinstance(attributes, dict)
        event_id = f"{event_type}:{object_id}"
        if event_type.startswith("subscription_") and _text(attributes.get("updated_at")):
            event_id += f":{attributes['updated_at']}"
        base: dict[str, Any] = {
            "provider": self.name,
            "event_id": event_id,
            "event_type": event_type,
        }
        custom = meta.get("custom_data")
        sale = sale_metadata(custom)
        if event_type == "order_created":
            if attributes.get("status") != "paid":
                return PaymentEvent(**base, action=Action.IGNORE, note="the order is not paid")
            item = attributes.get("first_order_item")
            item = item if isinstance(item, dict) else {}
            refs = [_text(item.get("variant_id")), _text(item.get("product_id"))]
            return PaymentEvent(
                **base,
                action=Action.PURCHASE,
                order_ref=object_id,
                payment_ref=object_id,
                **{**sale, "quantity": sale["quantity"] or _text(item.get("quantity"))},
                external_refs=tuple(ref for ref in refs if ref),
                email=_text(attributes.get("user_email")) or metadata_text(custom, "email"),
            )
        if event_type == "subscription_created":
            order = _text(attributes.get("order_id"))
            refs = [_text(attributes.get("variant_id")), _text(attributes.get("product_id"))]
            return PaymentEvent(
                **base,
                action=Action.PURCHASE,
                order_ref=order,
                subscription_ref=object_id,
                payment_ref=order,
                **sale,
                external_refs=tuple(ref for ref in refs if ref),
                email=_text(attributes.get("user_email")) or metadata_text(custom, "email"),
            )
        if event_type == "subscription_payment_success":
            if attributes.get("billing_reason") != "renewal":
                return PaymentEvent(**base, action=Action.IGNORE, note="not a renewal")
            subscription = _text(attributes.get("subscription_id"))
            return PaymentEvent(**base, action=Action.RENEWAL, subscription_ref=subscription)
        if event_type == "subscription_expired":
            return PaymentEvent(**base, action=Action.CANCEL, subscription_ref=object_id)
        if event_type == "order_refunded":
            return PaymentEvent(**base, action=Action.REFUND, payment_ref=object_id)
        return PaymentEvent(**base, action=Action.IGNORE, note="an event type the server ignores")
