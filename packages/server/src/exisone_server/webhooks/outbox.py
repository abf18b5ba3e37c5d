"""The outbox: :func:`emit` writes an event and its deliveries in the caller's transaction.

``emit`` first reads the tenant's active endpoints (one indexed query on
``webhook_endpoints.tenant_id``) and writes nothing when none subscribes to the event. Hot read
paths (validation) use :func:`emit_detached`, which asks a small per-process cache first (at
most one query per tenant every :data:`CACHE_SECONDS`; an endpoint registered in another
process is seen within that time), then writes in its own transaction.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from ..db import Database, insert_for
from ..kit.outbox import CommitSignal
from ..kit.time import format_expiration, utc_now
from ..models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent, table_of
from .events import EVENT_TYPES
from .settings import WebhookSettings

__all__ = [
    "CACHE_SECONDS",
    "emit",
    "emit_detached",
    "forget_subscriptions",
    "new_deliveries",
    "on_new_deliveries",
    "subscribed",
]

#: How long a process trusts its cached view of a tenant's subscriptions (hot paths only).
CACHE_SECONDS = 5.0

_cache: dict[tuple[int, int], tuple[float, frozenset[str]]] = {}
#: Fired after a transaction that wrote deliveries commits (wakes the worker).
new_deliveries = CommitSignal()


def on_new_deliveries(listener: Callable[[], None]) -> Callable[[], None]:
    """Call ``listener`` after a transaction that wrote deliveries commits; returns a remover."""
    return new_deliveries.listen(listener)


def forget_subscriptions(tenant_id: int) -> None:
    """Drop the cached subscriptions of a tenant (after its endpoints changed)."""
    for key in [key for key in _cache if key[1] == tenant_id]:
        del _cache[key]


_endpoints = table_of(WebhookEndpoint)
#: The tenant's active endpoints and their events (built once: it runs in every emit).
_ACTIVE_ENDPOINTS = select(_endpoints.c.id, _endpoints.c.events).where(
    _endpoints.c.tenant_id == bindparam("tenant_id"), _endpoints.c.is_active.is_(True)
)


async def _subscribed(session: AsyncSession, tenant_id: int, event_type: str) -> list[int]:
    connection = await session.connection()
    rows = await connection.execute(_ACTIVE_ENDPOINTS, {"tenant_id": tenant_id})
    return [row.id for row in rows if event_type in (row.events or [])]


def _body(public_id: str, event_type: str, tenant_id: int, at: datetime, data: Any) -> str:
    return json.dumps(
        {
            "id": public_id,
            "type": event_type,
            "createdAt": format_expiration(at),
            "tenantId": tenant_id,
            "data": data,
        },
        separators=(",", ":"),
        sort_keys=False,
        default=str,
    )


async def emit(
    session: AsyncSession,
    tenant_id: int,
    event_type: str,
    data: Mapping[str, Any],
    *,
    idempotency_key: str | None = None,
    now: datetime | None = None,
    settings: WebhookSettings | None = None,
) -> int | None:
    """Record ``event_type`` for every subscribed endpoint, in ``session``'s transaction.

    Returns the event id, or None when no endpoint subscribes (nothing written) or when an event
    with ``idempotency_key`` already exists.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event {event_type!r}")
    endpoint_ids = await _subscribed(session, tenant_id, event_type)
    if not endpoint_ids:
        return None
    moment = now or utc_now()
    public_id = "evt_" + secrets.token_hex(12)
    values = {
        "tenant_id": tenant_id,
        "public_id": public_id,
        "event_type": event_type,
        "body": _body(public_id, event_type, tenant_id, moment, dict(data)),
        "idempotency_key": idempotency_key,
        "created_at": moment,
    }
    insert = insert_for(session.get_bind().dialect.name)
    statement = insert(WebhookEvent).values(**values)
    if idempotency_key is not None:
        statement = statement.on_conflict_do_nothing(index_elements=["idempotency_key"])
    event_id = await session.scalar(statement.returning(WebhookEvent.id))
    if event_id is None:
        return None
    give_up_at = moment + (settings or WebhookSettings()).retry_window
    session.add_all(
        WebhookDelivery(
            event_id=event_id,
            endpoint_id=endpoint_id,
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=moment,
            give_up_at=give_up_at,
            created_at=moment,
        )
        for endpoint_id in endpoint_ids
    )
    await session.flush()
    new_deliveries.arm(session)
    return int(event_id)


async def subscribed(
    database: Database,
    tenant_id: int,
    event_type: str,
    *,
    connection: AsyncConnection | None = None,
) -> bool:
    """Whether the tenant has an active endpoint for ``event_type``, per the per-process cache.

    ``connection``: an open (AUTOCOMMIT) connection to query with on a cache miss, so a caller
    holding one never waits for a second from the pool.
    """
    key = (id(database.engine), tenant_id)
    cached = _cache.get(key)
    if cached is None or time.monotonic() - cached[0] > CACHE_SECONDS:
        statement = select(WebhookEndpoint.events).where(
            WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.is_active.is_(True)
        )
        if connection is not None:
            rows = list(await connection.scalars(statement))
        else:
            async with database.read() as own:
                rows = list(await own.scalars(statement))
        events = frozenset(name for listed in rows for name in (listed or []))
        cached = (time.monotonic(), events)
        _cache[key] = cached
    return event_type in cached[1]


async def emit_detached(
    database: Database,
    tenant_id: int,
    event_type: str,
    data: Mapping[str, Any],
    *,
    idempotency_key: str | None = None,
    connection: AsyncConnection | None = None,
) -> int | None:
    """:func:`emit` in a transaction of its own; for unsubscribed tenants only a cache lookup.

    With ``connection`` (an open AUTOCOMMIT connection of the caller) the rows are written on it,
    statement by statement, instead of taking a second connection from the pool.
    """
    if not await subscribed(database, tenant_id, event_type, connection=connection):
        return None
    if connection is not None:
        async with AsyncSession(bind=connection, expire_on_commit=False) as session:
            return await emit(session, tenant_id, event_type, data, idempotency_key=idempotency_key)
    async with database.write() as session:
        return await emit(session, tenant_id, event_type, data, idempotency_key=idempotency_key)
