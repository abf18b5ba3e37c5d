"""What the dashboard, the API and the CLI do with payments: the received events (replay), how
products are sold, and the providers' ids mapped to products."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import BadRequest, Conflict, NotFound
from ..kit.time import format_expiration, utc_now
from ..mail.settings import MailSettings
from ..models import (
    License,
    PaymentEventStatus,
    PaymentMapping,
    PaymentProduct,
    Plan,
    Product,
    ReceivedPaymentEvent,
)
from .fulfilment import QUANTITY_MEANINGS, fulfil
from .providers import PROVIDERS
from .settings import PaymentSettings

__all__ = [
    "EVENT_PAGE",
    "REPLAYABLE",
    "EventRow",
    "check_renewal_url",
    "delete_mapping",
    "event_view",
    "list_events",
    "list_mappings",
    "replay_event",
    "save_mapping",
    "save_selling",
    "selling_of",
]

#: Events listed per page, newest first.
EVENT_PAGE = 100
#: The outcomes a replay may retry.
REPLAYABLE = frozenset(
    {PaymentEventStatus.UNMATCHED, PaymentEventStatus.FAILED, PaymentEventStatus.PENDING}
)


@dataclass(frozen=True)
class EventRow:
    event: ReceivedPaymentEvent
    activation_key: str | None


def _status(text: str) -> PaymentEventStatus:
    try:
        return PaymentEventStatus(text)
    except ValueError:
        choices = ", ".join(status.value for status in PaymentEventStatus)
        raise BadRequest(
            "invalid_request", f"Invalid request: status is one of {choices}."
        ) from None


async def list_events(
    session: AsyncSession, tenant_id: int, *, status: str | None = None
) -> list[EventRow]:
    """The tenant's latest received events (optionally of one status) and the key each made."""
    statement = (
        select(ReceivedPaymentEvent, License.activation_key)
        .outerjoin(License, License.id == ReceivedPaymentEvent.license_id)
        .where(ReceivedPaymentEvent.tenant_id == tenant_id)
    )
    if status:
        statement = statement.where(ReceivedPaymentEvent.status == _status(status))
    rows = await session.execute(
        statement.order_by(ReceivedPaymentEvent.seq.desc()).limit(EVENT_PAGE)
    )
    return [EventRow(row[0], row[1]) for row in rows]


def event_view(row: EventRow) -> dict[str, Any]:
    """An event for JSON (the API, the CLI): no body."""
    event = row.event
    return {
        "id": event.id,
        "provider": event.provider,
        "eventId": event.event_id,
        "type": event.event_type,
        "orderId": event.order_ref,
        "status": event.status.value,
        "outcome": event.outcome,
        "activationKey": row.activation_key,
        "attempts": event.attempts,
        "receivedAt": format_expiration(event.created_at),
        "nextAttemptAt": format_expiration(event.next_attempt_at)
        if event.next_attempt_at
        else None,
    }


async def replay_event(
    session: AsyncSession,
    tenant_id: int,
    event_row_id: int,
    settings: PaymentSettings,
    mail_settings: MailSettings | None = None,
) -> ReceivedPaymentEvent:
    """Fulfil an unmatched, failed or waiting event again now, from its stored body (after its
    mapping was fixed). 404 ``payment_event_not_found``; 409 ``payment_event_done`` for one
    that was fulfilled, duplicate or ignored."""
    row = await session.scalar(
        select(ReceivedPaymentEvent)
        .where(ReceivedPaymentEvent.tenant_id == tenant_id, ReceivedPaymentEvent.id == event_row_id)
        .with_for_update()
    )
    if row is None:
        raise NotFound("payment_event_not_found", f"No payment event with id {event_row_id}.")
    if row.status not in REPLAYABLE:
        raise Conflict(
            "payment_event_done", f"This event is {row.status.value}: there is nothing to retry."
        )
    event = PROVIDERS[row.provider].parse(json.loads(row.body))
    row.give_up_at = None  # a fresh retry window
    await fulfil(session, row, event, settings=settings, mail_settings=mail_settings)
    return row


# -- how products are sold -----------------------------------------------------------------------


async def _product(session: AsyncSession, tenant_id: int, product_id: int) -> Product:
    product = await session.scalar(
        select(Product).where(Product.tenant_id == tenant_id, Product.id == product_id)
    )
    if product is None:
        raise NotFound("product_not_found", f"No product with id {product_id}.")
    return product


async def _plan_id(session: AsyncSession, tenant_id: int, plan_id: int | None) -> int | None:
    if plan_id is None:
        return None
    found = await session.scalar(
        select(Plan.id).where(Plan.tenant_id == tenant_id, Plan.id == plan_id)
    )
    if found is None:
        raise NotFound("plan_not_found", f"No plan with id {plan_id}.")
    return plan_id


def check_renewal_url(value: str | None) -> str | None:
    """A renewal checkout address as stored: an ``https://`` URL of at most 2000 characters
    (``{licenseId}`` and ``{email}`` are filled in per license), or None for an empty one."""
    text = (value or "").strip()
    if not text:
        return None
    parts = urlsplit(text)
    if parts.scheme != "https" or not parts.hostname or len(text) > 2000 or " " in text:
        raise BadRequest(
            "invalid_request", "Invalid request: the renewal address must be an https:// URL."
        )
    return text


async def selling_of(session: AsyncSession, tenant_id: int) -> dict[int, PaymentProduct]:
    """Each product's selling settings that were set, by product id."""
    rows = await session.scalars(
        select(PaymentProduct).where(PaymentProduct.tenant_id == tenant_id)
    )
    return {row.product_id: row for row in rows}


async def save_selling(
    session: AsyncSession,
    tenant_id: int,
    product_id: int,
    *,
    quantity_means: str,
    plan_id: int | None,
    renewal_url: str | None = None,
) -> PaymentProduct:
    """Set what a purchase's quantity means for a product (``seats``, ``keys``, or a meaning
    registered by an extension), the plan its purchases get, and its renewal checkout address
    at Paddle, Lemon Squeezy or PayPal (the portal's "Renew" link; None or empty: none)."""
    if quantity_means not in QUANTITY_MEANINGS:
        choices = ", ".join(QUANTITY_MEANINGS)
        raise BadRequest("invalid_request", f"Invalid request: quantity means one of {choices}.")
    link = check_renewal_url(renewal_url)
    await _product(session, tenant_id, product_id)
    row = await session.scalar(
        select(PaymentProduct).where(PaymentProduct.product_id == product_id)
    )
    if row is None:
        row = PaymentProduct(tenant_id=tenant_id, product_id=product_id)
        session.add(row)
    row.quantity_means = quantity_means
    row.plan_id = await _plan_id(session, tenant_id, plan_id)
    row.renewal_url = link
    row.updated_at = utc_now()
    await session.flush()
    return row


async def list_mappings(session: AsyncSession, tenant_id: int) -> list[PaymentMapping]:
    rows = await session.scalars(
        select(PaymentMapping)
        .where(PaymentMapping.tenant_id == tenant_id)
        .order_by(PaymentMapping.seq, PaymentMapping.id)
    )
    return list(rows)


async def save_mapping(
    session: AsyncSession,
    tenant_id: int,
    *,
    provider: str,
    external_ref: str,
    product_id: int,
    plan_id: int | None = None,
) -> PaymentMapping:
    """Map a provider's id of what was sold (a price, a variant, an SKU) to a product; 409
    ``mapping_exists`` for an id mapped already."""
    ref = external_ref.strip()
    if provider not in PROVIDERS:
        raise BadRequest("invalid_request", f"Invalid request: unknown provider {provider!r}.")
    if not ref or len(ref) > 200:
        raise BadRequest("invalid_request", "Invalid request: the id must be 1 to 200 characters.")
    await _product(session, tenant_id, product_id)
    mapping = PaymentMapping(
        tenant_id=tenant_id,
        provider=provider,
        external_ref=ref,
        product_id=product_id,
        plan_id=await _plan_id(session, tenant_id, plan_id),
    )
    session.add(mapping)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("mapping_exists", f"{ref!r} is mapped to a product already.") from None
    return mapping


async def delete_mapping(session: AsyncSession, tenant_id: int, mapping_id: int) -> None:
    result = await session.execute(
        delete(PaymentMapping).where(
            PaymentMapping.tenant_id == tenant_id, PaymentMapping.id == mapping_id
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound("mapping_not_found", f"No mapping with id {mapping_id}.")
