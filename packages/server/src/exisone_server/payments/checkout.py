"""Stripe Checkout sessions for a product, created through Stripe's API with the tenant's app.

``POST {EXISONE_STRIPE_API_BASE}/v1/checkout/sessions`` (form-encoded, the app's secret key as
the bearer): one line of the product at its price, ``metadata`` (and the payment intent's)
``productId`` / ``quantity`` (/ ``planId``), so the webhook licenses exactly what was bought;
a renewal's session (:mod:`.renewal`) also carries ``renewLicenseId``, so its payment renews that
license instead of making one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..crypto.master_key import MasterKey
from ..errors import ApiError, BadRequest, Conflict, NotFound
from ..models import PaymentApp, Product
from .apps import app_keys
from .event import RENEW_LICENSE
from .providers.base import http_client
from .settings import PaymentSettings

__all__ = ["CheckoutRequest", "StripeError", "create_checkout_session", "minor_units"]

#: Currencies Stripe counts in whole units (no cents).
ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv"}
    | {"xaf", "xof", "xpf"}
)


class StripeError(ApiError):
    """502 ``stripe_error``: Stripe's API refused or did not answer (its words)."""

    status_code = 502

    def __init__(self, message: str) -> None:
        super().__init__("stripe_error", message)


@dataclass(frozen=True)
class CheckoutRequest:
    product_id: int
    success_url: str
    cancel_url: str
    quantity: int = 1
    currency: str | None = None
    customer_email: str | None = None
    plan_id: int | None = None
    app_id: int | None = None
    #: The license the payment renews (checked by the caller: :mod:`.renewal`).
    renew_license_id: int | None = None


def minor_units(price: Decimal, currency: str) -> int:
    """Stripe's ``unit_amount`` of a price: cents, or whole units for zero-decimal currencies."""
    scale = 1 if currency in ZERO_DECIMAL else 100
    return int((price * scale).to_integral_value())


def _check_url(value: str, label: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or len(value) > 2000:
        raise BadRequest("invalid_request", f"Invalid request: {label} must be an http(s) URL.")
    return value.strip()


async def _stripe_app(session: AsyncSession, tenant_id: int, app_id: int | None) -> PaymentApp:
    statement = select(PaymentApp).where(
        PaymentApp.tenant_id == tenant_id,
        PaymentApp.provider == "stripe",
        PaymentApp.is_active.is_(True),
    )
    statement = (
        statement.where(PaymentApp.id == app_id)
        if app_id is not None
        else statement.order_by(PaymentApp.is_default.desc(), PaymentApp.seq)
    )
    app = (await session.scalars(statement.limit(1))).first()
    if app is None:
        raise Conflict(
            "stripe_not_configured", "No active Stripe app: add one on the Payments page."
        )
    return app


async def create_checkout_session(
    session: AsyncSession,
    tenant_id: int,
    master_key: MasterKey,
    request: CheckoutRequest,
    settings: PaymentSettings,
) -> dict[str, str]:
    """A one-time Checkout session (``{"id", "url", "appId"}``); 404 ``product_not_found``,
    409 ``product_inactive`` / ``product_not_priced`` / ``stripe_not_configured``, 502
    ``stripe_error``."""
    if not 1 <= request.quantity <= 10_000:
        raise BadRequest("invalid_request", "Invalid request: quantity must be 1 to 10000.")
    success = _check_url(request.success_url, "successUrl")
    cancel = _check_url(request.cancel_url, "cancelUrl")
    product = await session.scalar(
        select(Product).where(Product.tenant_id == tenant_id, Product.id == request.product_id)
    )
    if product is None:
        raise NotFound("product_not_found", f"No product with id {request.product_id}.")
    if not product.is_active:
        raise Conflict("product_inactive", "This product is not active.")
    if product.price <= 0:
        raise Conflict("product_not_priced", "Give the product a price to sell it.")
    app = await _stripe_app(session, tenant_id, request.app_id)
    keys = app_keys(master_key, app)
    if not keys.secret_key:
        raise Conflict(
            "stripe_not_configured", "The Stripe app has no usable secret key: enter it again."
        )
    currency = (request.currency or app.default_currency).strip().lower()
    if len(currency) != 3 or not currency.isalpha():
        raise BadRequest("invalid_request", "Invalid request: currency is a three-letter code.")
    metadata = {"productId": str(product.id), "quantity": str(request.quantity)}
    if request.plan_id is not None:
        metadata["planId"] = str(request.plan_id)
    name = product.name
    if request.renew_license_id is not None:
        metadata[RENEW_LICENSE] = str(request.renew_license_id)
        name = f"{product.name} (renewal)"
    form = {
        "mode": "payment",
        "success_url": success,
        "cancel_url": cancel,
        "line_items[0][quantity]": str(request.quantity),
        "line_items[0][price_data][currency]": currency,
        "line_items[0][price_data][unit_amount]": str(minor_units(product.price, currency)),
        "line_items[0][price_data][product_data][name]": name,
    }
    for name, value in metadata.items():
        form[f"metadata[{name}]"] = value
        form[f"payment_intent_data[metadata][{name}]"] = value
    if request.customer_email:
        form["customer_email"] = request.customer_email.strip()
    try:
        async with http_client(settings) as client:
            answer = await client.post(
                f"{settings.stripe_api_base}/v1/checkout/sessions",
                data=form,
                headers={"Authorization": f"Bearer {keys.secret_key}"},
            )
    except httpx.HTTPError as exc:
        raise StripeError(f"Stripe's API did not answer ({type(exc).__name__}).") from None
    try:
        body = answer.json()
    except ValueError:
        body = {}
    if answer.status_code != 200 or not isinstance(body, dict) or "id" not in body:
        error = body.get("error") if isinstance(body, dict) else None
        words = error.get("message") if isinstance(error, dict) else None
        raise StripeError(f"Stripe refused the checkout session: {words or answer.status_code}.")
    return {"id": str(body["id"]), "url": str(body.get("url") or ""), "appId": str(app.id)}
