"""One call per lifecycle change, made by the services: builds the documented payload and emits.

Each function runs in the caller's session (same transaction as the change), except the
validation hooks, which write in a transaction of their own (validation is a read path).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import Database
from ..kit.time import format_expiration, utc_now
from ..licenses.schemas import LicenseValidate, LicenseValidation
from ..models import License, Product
from ..security.write_limits import take_slots
from .outbox import emit, emit_detached, subscribed
from .settings import WebhookSettings

__all__ = [
    "after_validation",
    "device_deactivated",
    "license_activated",
    "license_created",
    "license_revoked",
    "quota_crossed",
    "trial_started",
    "validation_failed",
]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:40]


class LicenseFields(Protocol):
    """What a license event names of its license (a :class:`License` has it)."""

    @property
    def id(self) -> int: ...
    @property
    def tenant_id(self) -> int: ...
    @property
    def activation_key(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def expires_at(self) -> datetime | None: ...
    @property
    def is_corporate(self) -> bool: ...


def _license_fields(license: LicenseFields) -> dict[str, Any]:
    return {
        "licenseId": license.id,
        "activationKey": license.activation_key,
        "email": license.email,
        "expirationDate": format_expiration(license.expires_at),
        "isCorporate": license.is_corporate,
    }


async def license_created(
    session: AsyncSession,
    license: License,
    product: Product,
    *,
    payment: Mapping[str, str] | None = None,
) -> None:
    """``license.created``; ``payment`` (``provider``, ``orderId``, ``eventId``) when a payment
    made the license (else the field is null)."""
    await emit(
        session,
        license.tenant_id,
        "license.created",
        {
            **_license_fields(license),
            "productId": product.id,
            "productName": product.name,
            "maxSeats": license.max_seats,
            "payment": dict(payment) if payment else None,
        },
    )


async def license_activated(
    session: AsyncSession,
    license: LicenseFields,
    *,
    hardware_id: str,
    ip_address: str | None,
    email: str,
    offline: bool,
    current_seats: int,
) -> None:
    await emit(
        session,
        license.tenant_id,
        "license.activated",
        {
            **_license_fields(license),
            "hardwareId": hardware_id,
            "deviceName": None,
            "ipAddress": ip_address,
            "activationEmail": email or None,
            "isOffline": offline,
            "currentSeats": current_seats,
        },
    )


async def device_deactivated(
    session: AsyncSession,
    license: License,
    hardware_id: str,
    ip_address: str | None,
    current_seats: int,
) -> None:
    await emit(
        session,
        license.tenant_id,
        "device.deactivated",
        {
            **_license_fields(license),
            "hardwareId": hardware_id,
            "ipAddress": ip_address,
            "currentSeats": current_seats,
        },
    )


async def license_revoked(
    session: AsyncSession,
    license: License,
    *,
    access_token_id: int | None,
    reason: str | None,
) -> None:
    await emit(
        session,
        license.tenant_id,
        "license.revoked",
        {
            **_license_fields(license),
            "revokedBy": f"token:{access_token_id}" if access_token_id else "publisher",
            "reason": reason,
        },
    )


async def validation_failed(
    database: Database,
    tenant_id: int,
    *,
    activation_key: str | None,
    hardware_id: str,
    product_name: str | None,
    status: str,
    reason: str | None,
    ip_address: str | None,
    now: datetime | None = None,
) -> None:
    """``license.validation.failed``; a cache lookup only when the tenant does not subscribe.

    At most ``validation_failed_per_minute`` events per tenant and minute are recorded (each
    fans out to every subscribed endpoint and is retried for a day); the rest are dropped.
    """
    if not await subscribed(database, tenant_id, "license.validation.failed"):
        return
    most = WebhookSettings.from_env().validation_failed_per_minute
    moment = now or utc_now()
    if not await take_slots(
        database,
        "webhook-events",
        [(f"validation.failed:{tenant_id}", most)],
        60,
        moment.timestamp(),
    ):
        return
    await emit_detached(
        database,
        tenant_id,
        "license.validation.failed",
        {
            "activationKey": activation_key or None,
            "hardwareId": hardware_id,
            "ipAddress": ip_address,
            "reason": reason,
            "status": status,
            "productName": product_name or None,
            "timestamp": format_expiration(moment),
        },
    )


async def trial_started(
    session: AsyncSession,
    tenant_id: int,
    *,
    product_id: int,
    product_name: str,
    hardware_id: str,
    expires_at: datetime,
) -> None:
    """``trial.started``, in the transaction that starts the trial (once per product and
    device: the idempotency key)."""
    await emit(
        session,
        tenant_id,
        "trial.started",
        {
            "productId": product_id,
            "productName": product_name,
            "hardwareId": hardware_id,
            "expirationDate": format_expiration(expires_at),
        },
        idempotency_key=f"trial.started:{product_id}:{_digest(hardware_id)}",
    )


async def after_validation(
    database: Database,
    tenant_id: int,
    request: LicenseValidate,
    answer: LicenseValidation,
    ip_address: str | None,
) -> None:
    """The validation endpoint's one hook: a refused validation → ``license.validation.failed``.

    Nothing happens (and nothing is queried, see :func:`.outbox.emit_detached`) for a valid
    answer or when the tenant has no endpoint subscribed to the event.
    """
    if answer.is_valid:
        return
    await validation_failed(
        database,
        tenant_id,
        activation_key=(request.activation_key or "").strip() or None,
        hardware_id=request.hardware_id,
        product_name=answer.product_name or request.product_name,
        status=answer.status,
        reason=answer.reason,
        ip_address=ip_address,
    )


async def quota_crossed(
    session: AsyncSession, license_id: int, share: int, calls_limit: int, calls_used: int
) -> None:
    """``license.quota.warning`` (``share`` 80) or ``license.quota.exhausted`` (100): a consume
    of the API key just reached that share of its calls (once per crossing: the idempotency
    key names the grant it crossed)."""
    row = (
        await session.execute(
            select(License, Product.name)
            .join(Product, Product.id == License.product_id)
            .where(License.id == license_id)
        )
    ).one()
    license, product_name = row
    event_type = "license.quota.exhausted" if share >= 100 else "license.quota.warning"
    await emit(
        session,
        license.tenant_id,
        event_type,
        {
            **_license_fields(license),
            "productName": product_name,
            "thresholdPercent": share,
            "callsLimit": calls_limit,
            "callsUsed": calls_used,
            "callsRemaining": calls_limit - calls_used,
        },
        idempotency_key=f"{event_type}:{license_id}:{calls_limit}",
    )
