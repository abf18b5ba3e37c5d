"""PayPal: webhook signature verification with PayPal's certificate, and the order capture
events that make and stop licenses.

Signature (PayPal's documented scheme): the headers ``PAYPAL-TRANSMISSION-ID``,
``PAYPAL-TRANSMISSION-TIME``, ``PAYPAL-TRANSMISSION-SIG`` (base64), ``PAYPAL-CERT-URL`` and
``PAYPAL-AUTH-ALGO`` (``SHA256withRSA``). The signed text is
``"<transmission id>|<transmission time>|<webhook id>|<CRC32 of the raw body, decimal>"``, signed
with RSA-SHA256 (PKCS #1 v1.5) by the key of the certificate at the cert URL. The certificate is
fetched over HTTPS only from PayPal's hosts (``EXISONE_PAYPAL_CERT_HOSTS``), must be within its
validity dates, and is kept in memory for an hour. The webhook id (the app's) is part of the
signed text, so each app's id is tried.

Events (``resource``): ``CHECKOUT.ORDER.COMPLETED`` (an order, with the payer's address) and
``PAYMENT.CAPTURE.COMPLETED`` (a capture of the same order; its payer's address is looked up with
the app's client id and secret, else it waits for the order event) are purchases of the order;
``PAYMENT.CAPTURE.REFUNDED`` and ``CUSTOMER.DISPUTE.CREATED`` are refunds of a capture. The
order's ``custom_id`` carries ``productId`` (``productId=12;quantity=3``, a JSON object, or just
the product id); item SKUs are the ids a mapping can name.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import zlib
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ..event import Action, PaymentEvent, metadata_text, sale_metadata
from ..settings import PaymentSettings
from .base import AppKeys, LookupFailed, Provider, SignatureCheck, http_client

__all__ = ["PayPalProvider", "parse_custom_id", "signed_text"]

AUTH_ALGO = "SHA256withRSA"
#: Seconds a fetched certificate is kept.
CERT_CACHE_SECONDS = 3600.0
_cache: dict[str, tuple[float, x509.Certificate]] = {}


def signed_text(transmission_id: str, transmission_time: str, webhook_id: str, body: bytes) -> str:
    """What PayPal signs for one delivery to the webhook ``webhook_id``."""
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{zlib.crc32(body)}"


def parse_custom_id(custom_id: str | None) -> dict[str, str]:
    """``productId`` and friends from an order's ``custom_id``: ``productId=12;quantity=3``
    (``&`` works too), a JSON object, or a bare product id."""
    text = (custom_id or "").strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
    if "=" not in text:
        return {"productId": text}
    pairs = (part.partition("=") for part in text.replace("&", ";").split(";"))
    return {key.strip(): value.strip() for key, _, value in pairs if key.strip()}


def _cert_url_allowed(url: str, hosts: tuple[str, ...]) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" and parts.netloc.lower() in hosts and not parts.username


async def _certificate(url: str, settings: PaymentSettings) -> x509.Certificate | None:
    cached = _cache.get(url)
    if cached is not None and time.monotonic() - cached[0] < CERT_CACHE_SECONDS:
        return cached[1]
    try:
        async with http_client(settings) as client:
            answer = await client.get(url)
    except httpx.HTTPError:
        return None
    if answer.status_code != 200:
        return None
    try:
        certificate = x509.load_pem_x509_certificate(answer.content)
    except ValueError:
        return None
    if len(_cache) > 64:
        _cache.clear()
    _cache[url] = (time.monotonic(), certificate)
    return certificate


def _parse_time(text: str) -> float | None:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


class PayPalProvider(Provider):
    name = "paypal"
    label = "PayPal"
    uses_signing_secret = False

    async def signature_check(
        self, headers: Mapping[str, str], body: bytes, settings: PaymentSettings, now: float
    ) -> SignatureCheck | None:
        transmission_id = headers.get("paypal-transmission-id", "").strip()
        transmission_time = headers.get("paypal-transmission-time", "").strip()
        cert_url = headers.get("paypal-cert-url", "").strip()
        algo = headers.get("paypal-auth-algo", "").strip()
        try:
            signature = base64.b64decode(headers.get("paypal-transmission-sig", ""), validate=True)
        except (binascii.Error, ValueError):
            return None
        sent_at = _parse_time(transmission_time)
        if not (transmission_id and signature and algo == AUTH_ALGO and sent_at is not None):
            return None
        if abs(now - sent_at) > settings.paypal_tolerance_seconds:
            return None
        if not _cert_url_allowed(cert_url, settings.paypal_cert_hosts):
            return None
        certificate = await _certificate(cert_url, settings)
        moment = datetime.fromtimestamp(now, timezone.utc)
        if certificate is None or not (
            certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc
        ):
            return None
        key = certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            return None

        def check(keys: AppKeys) -> bool:
            if not keys.webhook_id:
                return False
            text = signed_text(transmission_id, transmission_time, keys.webhook_id, body)
            try:
                key.verify(signature, text.encode(), padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                return False
            return True

        return check

    def parse(self, payload: Any) -> PaymentEvent:
        if not isinstance(payload, dict):
            raise ValueError("not a PayPal event")
        event_id, event_type = _text(payload.get("id")), _text(payload.get("event_type"))
        if event_id is None or event_type is None:
            raise ValueError("a PayPal event has an id and an event_type")
        resource = payload.get("resource") if isinstance(payload.get("resource"), dict) else {}
        assert isinstance(resource, dict)
        base: dict[str, Any] = {
            "provider": self.name,
            "event_id": event_id,
            "event_type": event_type,
        }
        if event_type == "CHECKOUT.ORDER.COMPLETED":
            return self._order(base, resource)
        if event_type == "PAYMENT.CAPTURE.COMPLETED":
            related = (resource.get("supplementary_data") or {}).get("related_ids") or {}
            order = _text(related.get("order_id")) if isinstance(related, dict) else None
            custom = parse_custom_id(_text(resource.get("custom_id")))
            capture = _text(resource.get("id"))
            return PaymentEvent(
                **base,
                action=Action.PURCHASE,
                order_ref=order or capture,
                payment_ref=capture,
                customer_ref=order,
                **sale_metadata(custom),
                email=metadata_text(custom, "email"),
            )
        if event_type == "PAYMENT.CAPTURE.REFUNDED":
            return PaymentEvent(**base, action=Action.REFUND, payment_ref=_refunded(resource))
        if event_type == "CUSTOMER.DISPUTE.CREATED":
            disputed = resource.get("disputed_transactions")
            first = disputed[0] if isinstance(disputed, list) and disputed else {}
            capture = _text(first.get("seller_transaction_id")) if isinstance(first, dict) else None
            return PaymentEvent(**base, action=Action.REFUND, payment_ref=capture)
        return PaymentEvent(**base, action=Action.IGNORE, note="an event type the server ignores")

    def _order(self, base: dict[str, Any], order: dict[str, Any]) -> PaymentEvent:
        units = [unit for unit in order.get("purchase_units") or [] if isinstance(unit, dict)]
        unit = units[0] if units else {}
        custom = parse_custom_id(_text(unit.get("custom_id")))
        captures = ((unit.get("payments") or {}).get("captures")) or []
        capture = (
            _text(captures[0].get("id")) if captures and isinstance(captures[0], dict) else None
        )
        items = [item for item in unit.get("items") or [] if isinstance(item, dict)]
        skus = tuple(sku for sku in (_text(item.get("sku")) for item in items) if sku)
        payer = order.get("payer") if isinstance(order.get("payer"), dict) else {}
        assert isinstance(payer, dict)
        sale = sale_metadata(custom)
        if sale["quantity"] is None and items:
            sale["quantity"] = _text(items[0].get("quantity"))
        order_id = _text(order.get("id"))
        return PaymentEvent(
            **base,
            action=Action.PURCHASE,
            order_ref=order_id,
            payment_ref=capture,
            external_refs=skus,
            email=_text(payer.get("email_address")) or metadata_text(custom, "email"),
            customer_ref=order_id,
            **sale,
        )

    async def look_up_email(
        self, keys: AppKeys, event: PaymentEvent, settings: PaymentSettings
    ) -> str | None:
        if not (event.customer_ref and keys.public_key and keys.secret_key):
            return None
        api = settings.paypal_api(keys.is_live)
        try:
            async with http_client(settings) as client:
                token = await client.post(
                    f"{api}/v1/oauth2/token",
                    data={"grant_type": "client_credentials"},
                    auth=(keys.public_key, keys.secret_key),
                )
                if token.status_code != 200:
                    raise LookupFailed(
                        f"PayPal's API refused the app's credentials ({token.status_code})"
                    )
                access = token.json().get("access_token")
                answer = await client.get(
                    f"{api}/v2/checkout/orders/{event.customer_ref}",
                    headers={"Authorization": f"Bearer {access}"},
                )
        except (httpx.HTTPError, ValueError) as exc:
            raise LookupFailed(f"PayPal's API did not answer: {type(exc).__name__}") from None
        if answer.status_code != 200:
            raise LookupFailed(f"PayPal's API answered {answer.status_code} for the order")
        try:
            payer = answer.json().get("payer") or {}
        except ValueError:
            raise LookupFailed("PayPal's API answered something that is not JSON") from None
        return _text(payer.get("email_address")) if isinstance(payer, dict) else None


def _refunded(refund: dict[str, Any]) -> str | None:
    """The capture a refund belongs to: its ``up`` link ends with the capture id."""
    for link in refund.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "up" and isinstance(link.get("href"), str):
            return link["href"].rstrip("/").rsplit("/", 1)[-1] or None
    return None
