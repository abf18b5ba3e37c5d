"""The periodic job: ``license.expired`` and ``license.expiring_soon``, once per license and date;
``lease.expired``, once per floating-seat lease that ran out without being released.

Runs inside the server (:mod:`.worker`); any number of processes may run it at once: each event
has an idempotency key ``<type>:<license id>:<expiration>`` under a unique index. Only tenants
with a subscribed endpoint are scanned, and only expirations after that endpoint was created and
within the last :data:`LOOKBACK` (a new endpoint is not flooded with old expirations; a server
stopped for longer than that does not report what expired meanwhile).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, tuple_

from ..db import Database
from ..kit.time import format_expiration, utc_now
from ..models import Lease, License, LicenseStatus, Product, WebhookEndpoint, WebhookEvent
from .outbox import emit
from .settings import WebhookSettings

__all__ = ["LOOKBACK", "scan_expirations", "scan_leases"]

#: Licenses read per query.
PAGE = 500
#: How far back ``license.expired`` looks.
LOOKBACK = timedelta(days=7)


async def _subscribers(database: Database, event_type: str) -> dict[int, datetime]:
    """tenant id → creation time of its oldest active endpoint subscribed to ``event_type``."""
    async with database.read_session() as session:
        rows = await session.execute(
            select(WebhookEndpoint.tenant_id, WebhookEndpoint.events, WebhookEndpoint.created_at)
            .where(WebhookEndpoint.is_active.is_(True))
            .order_by(WebhookEndpoint.created_at)
        )
        found: dict[int, datetime] = {}
        for row in rows:
            if event_type in (row.events or []) and row.tenant_id not in found:
                found[row.tenant_id] = row.created_at
        return found


def _payload(license: License, product_name: str) -> dict[str, Any]:
    return {
        "licenseId": license.id,
        "activationKey": license.activation_key,
        "email": license.email,
        "productName": product_name,
        "expirationDate": format_expiration(license.expires_at),
        "status": license.status.value,
    }


def _lease_payload(lease: Lease, license: License, product_name: str) -> dict[str, Any]:
    return {
        "leaseId": lease.lease_id,
        "licenseId": license.id,
        "activationKey": license.activation_key,
        "hardwareId": lease.hardware_id,
        "productName": product_name,
        "expiresAt": format_expiration(lease.expires_at),
        "borrowed": lease.borrowed,
    }


async def scan_leases(database: Database, settings: WebhookSettings, moment: datetime) -> int:
    """``lease.expired`` for the leases that ran out (not released, not ended) since the
    subscribing endpoint was made, within :data:`LOOKBACK`; returns the new events."""
    written = 0
    for tenant_id, since in (await _subscribers(database, "lease.expired")).items():
        after: tuple[datetime, int] = (max(since, moment - LOOKBACK), 0)
        while True:
            async with database.read_session() as session:
                rows = (
                    await session.execute(
                        select(Lease, License, Product.name)
                        .join(License, License.id == Lease.license_id)
                        .join(Product, Product.id == License.product_id)
                        .where(
                            License.tenant_id == tenant_id,
                            Lease.ended_at.is_(None),
                            tuple_(Lease.expires_at, Lease.id) > after,
                            Lease.expires_at <= moment,
                        )
                        .order_by(Lease.expires_at, Lease.id)
                        .limit(PAGE)
                    )
                ).all()
                keys = {
                    f"lease.expired:{lease.id}:{format_expiration(lease.expires_at)}": (
                        lease,
                        license,
                        product_name,
                    )
                    for lease, license, product_name in rows
                }
                done = set(
                    await session.scalars(
                        select(WebhookEvent.idempotency_key).where(
                            WebhookEvent.idempotency_key.in_(list(keys))
                        )
                    )
                )
            for key, (lease, license, product_name) in keys.items():
                if key in done:
                    continue
                async with database.write() as session:
                    emitted = await emit(
                        session,
                        tenant_id,
                        "lease.expired",
                        _lease_payload(lease, license, product_name),
                        idempotency_key=key,
                        settings=settings,
                    )
                written += emitted is not None
            if len(rows) < PAGE:
                break
            last = rows[-1][0]
            after = (last.expires_at, last.id)
    return written


async def scan_expirations(
    database: Database, settings: WebhookSettings, now: datetime | None = None
) -> int:
    """Emit the due time-based events; returns how many new events were written."""
    moment = now or utc_now()
    written = await scan_leases(database, settings, moment)
    for event_type in ("license.expired", "license.expiring_soon"):
        for tenant_id, since in (await _subscribers(database, event_type)).items():
            if event_type == "license.expired":
                low, high = max(since, moment - LOOKBACK), moment
            else:
                low, high = moment, moment + timedelta(days=settings.expiring_days)
            after: tuple[datetime, int] = (low, 0)
            while True:
                async with database.read_session() as session:
                    rows = (
                        await session.execute(
                            select(License, Product.name)
                            .join(Product, Product.id == License.product_id)
                            .where(
                                License.tenant_id == tenant_id,
                                License.status != LicenseStatus.REVOKED,
                                tuple_(License.expires_at, License.id) > after,
                                License.expires_at <= high,
                            )
                            .order_by(License.expires_at, License.id)
                            .limit(PAGE)
                        )
                    ).all()
                    keys = {
                        f"{event_type}:{license.id}:{format_expiration(license.expires_at)}": (
                            license,
                            product_name,
                        )
                        for license, product_name in rows
                    }
                    done = set(
                        await session.scalars(
                            select(WebhookEvent.idempotency_key).where(
                                WebhookEvent.idempotency_key.in_(list(keys))
                            )
                        )
                    )
                for key, (license, product_name) in keys.items():
                    if key in done:
                        continue
                    async with database.write() as session:
                        emitted = await emit(
                            session,
                            tenant_id,
                            event_type,
                            _payload(license, product_name),
                            idempotency_key=key,
                            settings=settings,
                        )
                    written += emitted is not None
                if len(rows) < PAGE:
                    break
                last = rows[-1][0]
                assert last.expires_at is not None
                after = (last.expires_at, last.id)
    return written
