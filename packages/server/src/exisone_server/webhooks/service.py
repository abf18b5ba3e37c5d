"""Registering endpoints (the secret is shown once), listing deliveries, resending."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..crypto.master_key import MasterKey
from ..db import lock_for_update
from ..errors import BadRequest, Conflict, NotFound
from ..kit.time import utc_now
from ..models import DeliveryStatus, Tenant, WebhookDelivery, WebhookEndpoint, WebhookEvent
from .events import EVENT_TYPES
from .outbox import forget_subscriptions
from .settings import WebhookSettings
from .signing import encrypt_secret, new_secret
from .targets import check_url

__all__ = [
    "CreatedEndpoint",
    "create_endpoint",
    "delete_endpoint",
    "get_endpoint",
    "list_deliveries",
    "list_endpoints",
    "resend_delivery",
]

#: Deliveries listed per request, newest first.
DELIVERY_PAGE = 100


@dataclass(frozen=True)
class CreatedEndpoint:
    endpoint: WebhookEndpoint
    #: The signing secret, in clear: returned once, never again.
    secret: str


def _check_events(events: Sequence[str] | None) -> list[str]:
    if events is None:
        return list(EVENT_TYPES)
    chosen = list(dict.fromkeys(name.strip() for name in events))
    unknown = [name for name in chosen if name not in EVENT_TYPES]
    if unknown or not chosen:
        raise BadRequest(
            "invalid_request",
            f"Invalid request: events must be a non-empty list of: {', '.join(EVENT_TYPES)}.",
        )
    return chosen


async def create_endpoint(
    session: AsyncSession,
    tenant_id: int,
    master_key: MasterKey,
    settings: WebhookSettings,
    *,
    url: str,
    events: Sequence[str] | None = None,
    description: str | None = None,
) -> CreatedEndpoint:
    """Register ``url`` for ``events`` (default: all); 400 ``invalid_webhook_url``, 409
    ``webhook_limit_reached`` when the tenant has ``settings.max_endpoints`` already."""
    checked = check_url(url, allow_http_loopback=settings.allow_http_loopback)
    chosen = _check_events(events)
    if description is not None and len(description) > 200:
        raise BadRequest("invalid_request", "Invalid request: description is over 200 characters.")
    await _check_room(session, tenant_id, settings.max_endpoints)
    secret = new_secret()
    nonce, ciphertext = encrypt_secret(master_key, tenant_id, checked, secret)
    endpoint = WebhookEndpoint(
        tenant_id=tenant_id,
        url=checked,
        description=description,
        events=chosen,
        is_active=True,
        secret_nonce=nonce,
        secret_ciphertext=ciphertext,
        master_key_id=master_key.key_id,
        created_at=utc_now(),
    )
    session.add(endpoint)
    await session.flush()
    forget_subscriptions(tenant_id)
    return CreatedEndpoint(endpoint, secret)


async def _check_room(session: AsyncSession, tenant_id: int, most: int) -> None:
    """409 ``webhook_limit_reached`` when the tenant has ``most`` endpoints (0: no limit); the
    tenant row is locked first, so concurrent registrations cannot pass the limit together."""
    if most <= 0:
        return
    await session.execute(lock_for_update(select(Tenant.id).where(Tenant.id == tenant_id)))
    count = await session.scalar(
        select(func.count(WebhookEndpoint.id)).where(WebhookEndpoint.tenant_id == tenant_id)
    )
    if (count or 0) >= most:
        raise Conflict(
            "webhook_limit_reached",
            f"A tenant can register at most {most} webhook endpoints; remove one first.",
        )


async def list_endpoints(session: AsyncSession, tenant_id: int) -> list[WebhookEndpoint]:
    rows = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.tenant_id == tenant_id)
        .order_by(WebhookEndpoint.seq, WebhookEndpoint.id)
    )
    return list(rows)


async def get_endpoint(session: AsyncSession, tenant_id: int, endpoint_id: int) -> WebhookEndpoint:
    """404 ``webhook_not_found`` (also for another tenant's endpoint)."""
    endpoint = await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.id == endpoint_id
        )
    )
    if endpoint is None:
        raise NotFound("webhook_not_found", f"No webhook endpoint with id {endpoint_id}.")
    return endpoint


async def delete_endpoint(session: AsyncSession, tenant_id: int, endpoint_id: int) -> None:
    """Remove the endpoint with its deliveries (pending ones are not sent any more)."""
    endpoint = await get_endpoint(session, tenant_id, endpoint_id)
    await session.delete(endpoint)
    await session.flush()
    forget_subscriptions(tenant_id)


@dataclass(frozen=True)
class DeliveryRow:
    delivery: WebhookDelivery
    event_public_id: str
    event_type: str
    event_created_at: datetime


async def list_deliveries(
    session: AsyncSession, tenant_id: int, endpoint_id: int
) -> list[DeliveryRow]:
    """The endpoint's latest deliveries, newest first."""
    await get_endpoint(session, tenant_id, endpoint_id)
    rows = await session.execute(
        select(WebhookDelivery, WebhookEvent.public_id, WebhookEvent.event_type)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.seq.desc(), WebhookDelivery.id.desc())
        .limit(DELIVERY_PAGE)
    )
    return [
        DeliveryRow(delivery, public_id, event_type, delivery.created_at)
        for delivery, public_id, event_type in rows
    ]


async def resend_delivery(
    session: AsyncSession, tenant_id: int, delivery_id: int, settings: WebhookSettings
) -> WebhookDelivery:
    """Queue the delivery again now, with a fresh retry window (whatever its status)."""
    delivery = await session.scalar(
        select(WebhookDelivery)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id == delivery_id, WebhookEndpoint.tenant_id == tenant_id)
        .with_for_update()
    )
    if delivery is None:
        raise NotFound("delivery_not_found", f"No webhook delivery with id {delivery_id}.")
    now = utc_now()
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = now
    delivery.give_up_at = now + settings.retry_window
    await session.flush()
    return delivery
