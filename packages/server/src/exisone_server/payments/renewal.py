"""Renewing one license by payment: whether a customer can pay to renew it, and how.

* Stripe: when the tenant has an active Stripe app that can create sessions and verify events,
  and the product is active and priced, the server makes a Checkout session for the license
  (:func:`renewal_checkout`) whose ``renewLicenseId`` metadata makes the payment renew it:
  :mod:`.fulfilment` extends it as a subscription's renewal would (its plan's days, else the
  product's), once per payment.
* Paddle, Lemon Squeezy, PayPal: when the publisher set the product's renewal checkout address
  (the Payments page) and the tenant has an active app of one of them, that address.

No offer for a license that is not offered a renewal (:func:`..licenses.rules.renewal_offered`:
revoked, suspended, or it never expires) or when no provider is connected.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..crypto.master_key import MasterKey
from ..errors import NotFound
from ..licenses import rules
from ..models import (
    License,
    PaymentApp,
    PaymentOrder,
    PaymentProduct,
    Plan,
    Product,
    payment_order_licenses,
)
from .checkout import CheckoutRequest, create_checkout_session
from .settings import PaymentSettings

__all__ = ["RenewalOffer", "renewal_checkout", "renewal_offer"]


@dataclass(frozen=True)
class RenewalOffer:
    """How a customer pays to renew a license."""

    product: Product
    #: Days the payment adds.
    days: int
    #: What the renewal is paid for (:func:`..licenses.rules.renewal_quantity`).
    quantity: int
    #: ``stripe`` (a Checkout session made for the license) or the provider of :attr:`link`.
    provider: str
    #: The publisher's renewal checkout address (not Stripe).
    link: str | None = None


def _connected(app: PaymentApp) -> bool:
    """Whether an active app can take the payment and verify its events (stored keys)."""
    if app.provider == "stripe":
        return app.secret_key_ciphertext is not None and app.signing_secret_ciphertext is not None
    if app.provider == "paypal":
        return bool(app.webhook_id)
    return app.signing_secret_ciphertext is not None


async def _connected_providers(session: AsyncSession, tenant_id: int) -> set[str]:
    apps = await session.scalars(
        select(PaymentApp).where(PaymentApp.tenant_id == tenant_id, PaymentApp.is_active.is_(True))
    )
    return {app.provider for app in apps if _connected(app)}


async def _quantity(session: AsyncSession, license: License) -> int:
    """The quantity of the order that sold the license (its first), by the rule."""
    order = await session.scalar(
        select(PaymentOrder)
        .join(payment_order_licenses, payment_order_licenses.c.order_id == PaymentOrder.id)
        .where(payment_order_licenses.c.license_id == license.id)
        .order_by(PaymentOrder.id)
        .limit(1)
    )
    if order is None:
        return rules.renewal_quantity(order_quantity=None, order_licenses=1)
    made = await session.scalar(
        select(func.count())
        .select_from(payment_order_licenses)
        .where(payment_order_licenses.c.order_id == order.id)
    )
    return rules.renewal_quantity(order_quantity=order.quantity, order_licenses=int(made or 0))


def _link(template: str, license: License) -> str:
    """The publisher's address with ``{licenseId}`` and ``{email}`` filled in (URL-encoded)."""
    return template.replace("{licenseId}", str(license.id)).replace(
        "{email}", quote(license.email, safe="")
    )


async def renewal_offer(session: AsyncSession, license: License) -> RenewalOffer | None:
    """How the license's customer can pay to renew it, or None."""
    product = await session.get(Product, license.product_id)
    if product is None:
        return None
    plan = await session.get(Plan, license.plan_id) if license.plan_id else None
    days = rules.renewal_days(
        plan_days=plan.duration_days if plan else None,
        product_days=product.default_license_days,
    )
    if not rules.renewal_offered(license.status, license.expires_at, days):
        return None
    providers = await _connected_providers(session, license.tenant_id)
    if "stripe" in providers and product.is_active and product.price > 0:
        return RenewalOffer(product, days, await _quantity(session, license), "stripe")
    others = sorted(providers - {"stripe"})
    selling = await session.scalar(
        select(PaymentProduct).where(PaymentProduct.product_id == product.id)
    )
    if others and selling is not None and selling.renewal_url:
        return RenewalOffer(product, days, 1, others[0], _link(selling.renewal_url, license))
    return None


async def renewal_checkout(
    session: AsyncSession,
    license: License,
    master_key: MasterKey,
    settings: PaymentSettings,
    *,
    success_url: str,
    cancel_url: str,
) -> dict[str, str]:
    """A Stripe Checkout session whose payment renews ``license`` (``{"id", "url",
    "appId"}``); 404 ``renewal_not_offered`` when it cannot be renewed through Stripe."""
    offer = await renewal_offer(session, license)
    if offer is None or offer.provider != "stripe":
        raise NotFound("renewal_not_offered", "This license cannot be renewed here.")
    return await create_checkout_session(
        session,
        license.tenant_id,
        master_key,
        CheckoutRequest(
            product_id=offer.product.id,
            success_url=success_url,
            cancel_url=cancel_url,
            quantity=offer.quantity,
            customer_email=license.email,
            renew_license_id=license.id,
        ),
        settings,
    )
