"""Selling: a tenant's payment-provider apps, the events they sent, the orders that made
licenses, and how a product is sold (payments/, docs/payments.md)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..kit.time import utc_now
from .base import Model, text_enum
from .ids import insertion_seq_column, random_id_column

__all__ = [
    "PaymentApp",
    "PaymentEventStatus",
    "PaymentMapping",
    "PaymentOrder",
    "PaymentProduct",
    "ReceivedPaymentEvent",
    "payment_order_licenses",
]


class PaymentApp(Model):
    """A tenant's account at one provider (``stripe``, ``paddle``, ``lemonsqueezy``,
    ``paypal``): the keys that verify its events and call its API, encrypted under the master
    key (never shown again)."""

    __tablename__ = "payment_apps"
    #: Random (models/ids.py): tenants see it.
    id: Mapped[int] = random_id_column()
    seq: Mapped[int | None] = insertion_seq_column()
    __table_args__ = (Index("ix_payment_apps_provider_active", "provider", "is_active"),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    is_live: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    #: The tenant's default app of the provider (checkout sessions use it).
    is_default: Mapped[bool] = mapped_column(default=False)
    #: Not secret: Stripe's publishable key, PayPal's client id.
    public_key: Mapped[str | None] = mapped_column(String(200), default=None)
    #: Stripe's secret key, Paddle's API key, PayPal's client secret (AES-GCM nonce, ciphertext).
    secret_key_nonce: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    secret_key_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    #: The webhook signing secret (Stripe ``whsec_…``, Paddle's endpoint secret key, Lemon
    #: Squeezy's signing secret); PayPal signs with a certificate and has none.
    signing_secret_nonce: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    signing_secret_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    #: PayPal's webhook id (part of what PayPal signs).
    webhook_id: Mapped[str | None] = mapped_column(String(100), default=None)
    default_currency: Mapped[str] = mapped_column(String(3), default="usd")
    #: Refunds and disputes suspend the licenses the payment made.
    suspend_on_refund: Mapped[bool] = mapped_column(default=True, server_default=true())
    master_key_id: Mapped[str | None] = mapped_column(String(16), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class PaymentEventStatus(enum.StrEnum):
    #: Stored, being fulfilled.
    RECEIVED = "received"
    #: Made or changed a license.
    FULFILLED = "fulfilled"
    #: The payment was fulfilled before (another event of the same order): nothing new.
    DUPLICATE = "duplicate"
    #: Nothing to do (an event type or case the server does not act on).
    IGNORED = "ignored"
    #: Names no product of the tenant: kept for a retry once the mapping is fixed.
    UNMATCHED = "unmatched"
    #: Waits for something (a renewal before its purchase): retried by the worker.
    PENDING = "pending"
    #: Retried until ``give_up_at`` without success, or refused by a licensing rule.
    FAILED = "failed"


class ReceivedPaymentEvent(Model):
    """A verified event as the provider sent it (stored before it is fulfilled)."""

    __tablename__ = "payment_events"
    #: Random (models/ids.py): tenants see it.
    id: Mapped[int] = random_id_column()
    seq: Mapped[int | None] = insertion_seq_column()
    __table_args__ = (
        UniqueConstraint("provider", "event_id"),
        Index("ix_payment_events_due", "status", "next_attempt_at"),
        Index("ix_payment_events_tenant_seq", "tenant_id", "seq"),
    )

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    app_id: Mapped[int | None] = mapped_column(
        ForeignKey("payment_apps.id", ondelete="SET NULL"), default=None
    )
    provider: Mapped[str] = mapped_column(String(20))
    #: The provider's id of the event (``evt_…``; Lemon Squeezy: ``<event name>:<object id>``).
    event_id: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(100))
    #: The order or payment the event is about, when it names one.
    order_ref: Mapped[str | None] = mapped_column(String(200), default=None)
    status: Mapped[PaymentEventStatus] = mapped_column(
        text_enum(PaymentEventStatus), default=PaymentEventStatus.RECEIVED
    )
    #: What happened, in words (shown on the Payments page).
    outcome: Mapped[str | None] = mapped_column(Text, default=None)
    #: The (first) license the event made or changed.
    license_id: Mapped[int | None] = mapped_column(
        ForeignKey("licenses.id", ondelete="SET NULL"), default=None
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: When a pending event is tried again (None: not waiting).
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    #: A pending event becomes ``failed`` after this moment.
    give_up_at: Mapped[datetime | None] = mapped_column(default=None)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    #: The raw body, exactly as received (the signature covered it).
    body: Mapped[str] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)


#: The licenses an order made (one, or one per unit when quantity means keys).
payment_order_licenses = Table(
    "payment_order_licenses",
    Model.metadata,
    Column("order_id", ForeignKey("payment_orders.id", ondelete="CASCADE"), primary_key=True),
    Column("license_id", ForeignKey("licenses.id", ondelete="CASCADE"), primary_key=True),
)


class PaymentOrder(Model):
    """One paid order or subscription: at most one per (provider, order), whatever number of
    events name it, so a payment never makes a second license."""

    __tablename__ = "payment_orders"
    __table_args__ = (
        UniqueConstraint("provider", "order_ref"),
        Index("ix_payment_orders_subscription", "provider", "subscription_ref"),
        Index("ix_payment_orders_payment", "provider", "payment_ref"),
    )

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    #: Stripe: the payment intent (one-time) or the subscription; Paddle: the transaction or
    #: subscription; Lemon Squeezy: the order; PayPal: the order.
    order_ref: Mapped[str] = mapped_column(String(200))
    subscription_ref: Mapped[str | None] = mapped_column(String(200), default=None)
    #: The payment a refund or dispute names (Stripe: payment intent; PayPal: capture).
    payment_ref: Mapped[str | None] = mapped_column(String(200), default=None)
    product_id: Mapped[int | None] = mapped_column(
        ForeignKey("products.id", ondelete="SET NULL"), default=None
    )
    plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("plans.id", ondelete="SET NULL"), default=None
    )
    email: Mapped[str] = mapped_column(String(320), default="")
    quantity: Mapped[int] = mapped_column(default=1)
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("payment_events.id", ondelete="SET NULL"), default=None
    )


class PaymentProduct(Model):
    """How a product is sold: what a purchase's quantity means (``seats`` of one corporate
    key, ``keys``: that many keys), the plan purchases get (None: the product's rules) and the
    publisher's renewal checkout address at Paddle, Lemon Squeezy or PayPal (shown in the
    customer portal)."""

    __tablename__ = "payment_products"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), unique=True
    )
    quantity_means: Mapped[str] = mapped_column(String(20), default="seats")
    plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("plans.id", ondelete="SET NULL"), default=None
    )
    renewal_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class PaymentMapping(Model):
    """A provider's own id of what was sold (Stripe price, Paddle price, Lemon Squeezy variant,
    PayPal item SKU) → the tenant's product (and plan): for events without ``productId``."""

    __tablename__ = "payment_mappings"
    #: Random (models/ids.py): tenants see it.
    id: Mapped[int] = random_id_column()
    seq: Mapped[int | None] = insertion_seq_column()
    __table_args__ = (UniqueConstraint("tenant_id", "provider", "external_ref"),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(20))
    external_ref: Mapped[str] = mapped_column(String(200))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("plans.id", ondelete="SET NULL"), default=None
    )
