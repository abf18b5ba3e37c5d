"""Webhooks: a tenant's endpoints, the event outbox and one delivery row per (event, endpoint)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model, text_enum
from .ids import insertion_seq_column, random_id_column

__all__ = ["DeliveryStatus", "WebhookDelivery", "WebhookEndpoint", "WebhookEvent"]


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookEndpoint(Model):
    """An HTTPS URL a tenant registered, the events it wants and its encrypted signing secret."""

    __tablename__ = "webhook_endpoints"
    #: Random (models/ids.py): tenants see it.
    id: Mapped[int] = random_id_column()
    seq: Mapped[int | None] = insertion_seq_column()

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(200), default=None)
    #: Event type names this endpoint receives.
    events: Mapped[list[str]] = mapped_column(JSON)
    is_active: Mapped[bool] = mapped_column(default=True)
    #: AES-GCM (master key) nonce and ciphertext of the signing secret; shown once at creation.
    secret_nonce: Mapped[bytes] = mapped_column(LargeBinary)
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(16))


class WebhookEvent(Model):
    """The outbox: written in the transaction of the change that caused it."""

    __tablename__ = "webhook_events"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    #: Public id sent as ``ExisOne-Webhook-Id`` (the same on every retry of the event).
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    event_type: Mapped[str] = mapped_column(String(60))
    #: The exact JSON body that is signed and sent.
    body: Mapped[str] = mapped_column(Text)
    #: Makes an event happen once (time-based events, trials); None for ordinary events.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True, default=None)


class WebhookDelivery(Model):
    """One event for one endpoint: retried until delivered or its retry window ends."""

    __tablename__ = "webhook_deliveries"
    #: Random (models/ids.py): tenants see it.
    id: Mapped[int] = random_id_column()
    seq: Mapped[int | None] = insertion_seq_column()
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    event_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[DeliveryStatus] = mapped_column(
        text_enum(DeliveryStatus),
        default=DeliveryStatus.PENDING,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    #: Retries stop (status ``failed``) once this moment has passed.
    give_up_at: Mapped[datetime]
    #: A worker holds the delivery until then (claimed with a conditional UPDATE).
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
