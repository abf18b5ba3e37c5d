"""Paddle Billing: ``Paddle-Signature`` verification and the events that make, renew and stop
licenses.

Signature (Paddle's documented scheme): ``Paddle-Signature: ts=<unix seconds>;h1=<hex>[;h1=…]``
where ``h1`` is HMAC-SHA256 under the notification destination's secret key of
``"<ts>:" + raw body``; a ``ts`` further than the tolerance (5 s, as Paddle's SDKs) from now is
refused. Several ``h1`` appear while a secret is being rotated.

Events (``data``): ``transaction.completed`` is a purchase (the order is the subscription when
the transaction has one, else the transaction), or a renewal when its ``origin`` is
``subscription_recurring``; ``subscription.canceled`` ends a subscription; an approved
``adjustment.created`` / ``adjustment.updated`` of action ``refund`` or ``chargeback`` is a
refund. A transaction names its customer by id only: the address is looked up with the app's
API key (``GET /customers/{id}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from ..event import Action, PaymentEvent, metadata_text, sale_metadata
from ..settings import PaymentSettings
from .base import (
    AppKeys,
    LookupFailed,
    Provider,
    SignatureCheck,
    http_client,
    parse_timed_signatures,
    timed_hmac_check,
)

__all__ = ["PaddleProvider", "parse_signature_header"]


def parse_signature_header(header: str) -> tuple[int, list[str]] | None:
    """``(timestamp, h1 signatures)`` of a ``Paddle-Signature`` value, or None."""
    return parse_timed_signatures(header, ";", "ts", "h1")


def _text(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) and value.strip() else None


class PaddleProvider(Provider):
    name = "paddle"
    label = "Paddle"

    async def signature_check(
        self, headers: Mapping[str, str], body: bytes, settings: PaymentSettings, now: float
    ) -> SignatureCheck | None:
        return timed_hmac_check(
            parse_signature_header(headers.get("paddle-signature", "")),
            now,
            settings.paddle_tolerance_seconds,
            lambda timestamp: f"{timestamp}:".encode() + body,
        )

    def parse(self, payload: Any) -> PaymentEvent:
        if not isinstance(payload, dict):
            raise ValueError("not a Paddle event")
        event_id, event_type = _text(payload.get("event_id")), _text(payload.get("event_type"))
        if event_id is None or event_type is None:
            raise ValueError("a Paddle event has an event_id and an event_type")
        data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
        assert isinstance(data, dict)
        base: dict[str, Any] = {
            "provider": self.name,
            "event_id": event_id,
            "event_type": event_type,
        }
        if event_type == "transaction.completed":
            return self._transaction(base, data)
        if event_type == "subscription.canceled":
            return PaymentEvent(
                **base, action=Action.CANCEL, subscription_ref=_text(data.get("id"))
            )
        if event_type in ("adjustment.created", "adjustment.updated"):
            if data.get("action") in ("refund", "chargeback") and data.get("status") == "approved":
                return PaymentEvent(
                    **base, action=Action.REFUND, payment_ref=_text(data.get("transaction_id"))
                )
            return PaymentEvent(
                **base, action=Action.IGNORE, note="an adjustment that is not an approved refund"
            )
        return PaymentEvent(**base, action=Action.IGNORE, note="an event type the server ignores")

    def _transaction(self, base: dict[str, Any], data: dict[str, Any]) -> PaymentEvent:
        subscription = _text(data.get("subscription_id"))
        if data.get("origin") == "subscription_recurring" and subscription:
            return PaymentEvent(**base, action=Action.RENEWAL, subscription_ref=subscription)
        custom = data.get("custom_data")
        items = [item for item in data.get("items") or [] if isinstance(item, dict)]
        prices: list[str] = []
        for item in items:
            price = item.get("price") if isinstance(item.get("price"), dict) else {}
            assert isinstance(price, dict)
            custom = custom or price.get("custom_data")
            prices += [
                ref for ref in (_text(price.get("id")), _text(price.get("product_id"))) if ref
            ]
        sale = sale_metadata(custom)
        if sale["quantity"] is None and items:
            sale["quantity"] = _text(items[0].get("quantity"))
        transaction = _text(data.get("id"))
        return PaymentEvent(
            **base,
            action=Action.PURCHASE,
            order_ref=subscription or transaction,
            subscription_ref=subscription,
            payment_ref=transaction,
            **sale,
            external_refs=tuple(prices),
            email=metadata_text(custom, "email"),
            customer_ref=_text(data.get("customer_id")),
        )

    async def look_up_email(
        self, keys: AppKeys, event: PaymentEvent, settings: PaymentSettings
    ) -> str | None:
        if not event.customer_ref or not keys.secret_key:
            return None
        url = f"{settings.paddle_api(keys.is_live)}/customers/{event.customer_ref}"
        try:
            async with http_client(settings) as client:
                answer = await client.get(
                    url, headers={"Authorization": f"Bearer {keys.secret_key}"}
                )
        except httpx.HTTPError as exc:
            raise LookupFailed(f"Paddle's API did not answer: {type(exc).__name__}") from None
        if answer.status_code != 200:
            raise LookupFailed(f"Paddle's API answered {answer.status_code} for the customer")
        try:
            data = answer.json().get("data") or {}
        except ValueError:
            raise LookupFailed("Paddle's API answered something that is not JSON") from None
        return _text(data.get("email")) if isinstance(data, dict) else None
