"""Receiving a provider's delivery: find the app whose keys verify it, store, fulfil, answer.

One URL per provider serves every tenant: the tenant is the owner of the (active) app whose
signing secret (PayPal: webhook id) verifies the delivery, as on exisone.com. A delivery that no
app verifies gets the same 400 ``invalid_signature`` whatever was wrong (missing header, bad
format, wrong secret, time outside the tolerance), so an attacker learns nothing about which
tenant holds which secret. Refusals are logged (provider, reason, client address, body size;
never the body) and counted in :data:`REFUSALS`.

Answers: 200 ``{"received": true, "status": …}`` for a stored event (also ``unmatched`` and
``ignored`` ones, so the provider stops retrying) and for a repeated delivery (``"duplicate":
true``); 400 ``invalid_signature``, ``invalid_json`` (verified, but not JSON) or
``invalid_event`` (verified JSON that is not an event of the provider).
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import select

from ..crypto.master_key import MasterKey
from ..db import Database
from ..errors import BadRequest
from ..mail.settings import MailSettings
from ..models import PaymentApp, PaymentOrder, ReceivedPaymentEvent
from .apps import app_keys
from .event import Action, PaymentEvent
from .fulfilment import fulfil, record_event
from .providers import AppKeys, LookupFailed, Provider
from .settings import PaymentSettings

__all__ = ["REFUSALS", "InvalidSignature", "complete_email", "receive"]

logger = logging.getLogger("exisone_server.payments")

#: Refused deliveries since this process started, by (provider, reason).
REFUSALS: Counter[tuple[str, str]] = Counter()


class InvalidSignature(BadRequest):
    """400 ``invalid_signature``: the same answer for every refused signature."""

    def __init__(self) -> None:
        super().__init__(
            "invalid_signature",
            "The webhook signature is missing, does not match any app, or is too old.",
        )


def _refuse(provider: Provider, reason: str, client_ip: str | None, size: int) -> None:
    REFUSALS[(provider.name, reason)] += 1
    logger.warning(
        "refused a %s webhook delivery: %s (from %s, %d bytes)",
        provider.label,
        reason,
        client_ip or "?",
        size,
    )


async def _verifying_app(
    database: Database,
    master_key: MasterKey,
    provider: Provider,
    headers: Mapping[str, str],
    body: bytes,
    settings: PaymentSettings,
) -> tuple[PaymentApp, AppKeys] | None:
    check = await provider.signature_check(headers, body, settings, time.time())
    if check is None:
        return None
    async with database.read_session() as session:
        apps = list(
            await session.scalars(
                select(PaymentApp)
                .where(PaymentApp.provider == provider.name, PaymentApp.is_active.is_(True))
                .order_by(PaymentApp.id)
            )
        )
    for app in apps:
        keys = app_keys(master_key, app)
        if check(keys):
            return app, keys
    return None


async def complete_email(
    database: Database,
    provider: Provider,
    keys: AppKeys,
    event: PaymentEvent,
    settings: PaymentSettings,
) -> tuple[PaymentEvent, str | None]:
    """The event with the customer's address looked up when a purchase lacks it and its order
    is not licensed yet; and why a look-up failed (None when it did not)."""
    if event.action is not Action.PURCHASE or event.email or not event.order_ref:
        return event, None
    async with database.read() as connection:
        known = await connection.scalar(
            select(PaymentOrder.id).where(
                PaymentOrder.provider == provider.name, PaymentOrder.order_ref == event.order_ref
            )
        )
    if known is not None:
        return event, None
    try:
        email = await provider.look_up_email(keys, event, settings)
    except LookupFailed as exc:
        return event, str(exc)
    return (replace(event, email=email) if email else event), None


async def receive(
    database: Database,
    master_key: MasterKey,
    provider: Provider,
    headers: Mapping[str, str],
    body: bytes,
    *,
    settings: PaymentSettings,
    mail_settings: MailSettings | None = None,
    client_ip: str | None = None,
) -> dict[str, Any]:
    """Handle one delivery; the JSON answer (200), or the documented 400 errors."""
    matched = await _verifying_app(database, master_key, provider, headers, body, settings)
    if matched is None:
        _refuse(provider, "signature", client_ip, len(body))
        raise InvalidSignature()
    app, keys = matched
    try:
        payload = json.loads(body)
    except ValueError:
        _refuse(provider, "not JSON", client_ip, len(body))
        raise BadRequest("invalid_json", "The request body is not valid JSON.") from None
    try:
        event = provider.parse(payload)
    except ValueError as exc:
        _refuse(provider, "not an event", client_ip, len(body))
        raise BadRequest("invalid_event", f"Not a {provider.label} event: {exc}.") from None
    async with database.read() as connection:
        seen = await connection.scalar(
            select(ReceivedPaymentEvent.status).where(
                ReceivedPaymentEvent.provider == provider.name,
                ReceivedPaymentEvent.event_id == event.event_id,
            )
        )
    if seen is not None:
        return {"received": True, "duplicate": True, "status": str(seen)}
    event, lookup_error = await complete_email(database, provider, keys, event, settings)
    async with database.write() as session:
        row = await record_event(session, app, event, body.decode("utf-8", "replace"))
        if row is None:
            return {"received": True, "duplicate": True}
        outcome = await fulfil(session, row, event, settings=settings, mail_settings=mail_settings)
        if lookup_error and outcome.retry:
            row.outcome = f"{row.outcome}; {lookup_error}"
        return {"received": True, "status": row.status.value, "id": row.id}
