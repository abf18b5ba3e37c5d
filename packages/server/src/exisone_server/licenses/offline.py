"""Issue offline activation codes: sign a device's license with the tenant key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from exisone.protocol import format_datetime, issue_offline_code

from ..crypto.key_cache import cached_signing_key
from ..crypto.master_key import MasterKey
from ..crypto.service import current_crypto_key
from ..kit.time import format_expiration, utc_now
from ..models import HistoryAction, License, Plan, Product
from .binding import SeatLicense, bind_device
from .history import record_history
from .service import (
    check_hardware_id,
    ensure_activatable,
    license_feature_names,
    plan_grace_days,
)

__all__ = ["OfflineActivation", "build_offline_payload", "issue_offline_activation"]


@dataclass(frozen=True)
class OfflineActivation:
    code: str
    payload: dict[str, Any]
    #: False when the device already held a seat (the code is re-issued, no new seat taken).
    seat_taken: bool
    current_seats: int


def build_offline_payload(
    license: License,
    product: Product,
    hardware_id: str,
    features: list[str],
    now: datetime,
) -> dict[str, Any]:
    """The signed JSON: the protocol's keys in their order, then activationKey, issuedAt."""
    return {
        "productId": product.id,
        "productName": product.name,
        "hardwareId": hardware_id,
        "expirationDate": format_expiration(license.expires_at),
        "email": license.email,
        "features": features,
        "tenantId": license.tenant_id,
        "version": product.version or "",
        "activationKey": license.activation_key,
        "issuedAt": format_datetime(now),
    }


async def issue_offline_activation(
    session: AsyncSession,
    license: License,
    hardware_id: str,
    master_key: MasterKey,
    *,
    ip_address: str | None = None,
    access_token_id: int | None = None,
    now: datetime | None = None,
) -> OfflineActivation:
    """Bind ``hardware_id`` to ``license`` (same seat rules as activation) and sign its code.

    Call inside ``Database.write()`` with the license loaded via
    ``find_license(..., lock=True)``. Raises the activation errors (409 ``license_in_use``,
    ``seat_limit_reached``, ``license_revoked`` ...). The code is stored on the license
    (``offline_code``, ``is_offline``) and a ``offline_code_issued`` history event is written.
    """
    moment = now or utc_now()
    normalized = check_hardware_id(hardware_id)
    product = await session.get(Product, license.product_id)
    assert product is not None  # foreign key
    ensure_activatable(license, product, moment, grace_days=await plan_grace_days(session, license))
    created, seats = await bind_device(
        session,
        SeatLicense.of(license),
        normalized,
        email=license.email,
        ip_address=ip_address,
        offline=True,
        access_token_id=access_token_id,
        now=moment,
    )
    # The device's seat now backs a signed code that works without the server: only the
    # publisher may free it (rules.may_release), also when it was activated online before
    # (bind_device marked its seat offline).
    if created and license.activated_at is None:  # written by bind_device: keep the row's copy
        set_committed_value(license, "activated_at", moment)
    features = await license_feature_names(session, license.id)
    crypto_key = await current_crypto_key(session, license.tenant_id)
    check_in_days = None
    if license.plan_id is not None:
        check_in_days = await session.scalar(
            select(Plan.check_in_days).where(Plan.id == license.plan_id)
        )
    payload = build_offline_payload(license, product, normalized, features, moment)
    payload["kid"] = crypto_key.fingerprint  # names the signing key (rotation); clients ignore it
    if check_in_days is not None:  # the plan's check-in period, last (clients ignore it)
        payload["checkInDays"] = check_in_days
    signing_key = cached_signing_key(crypto_key, master_key)  # decrypted once per process
    code = issue_offline_code(payload, signing_key)
    license.is_offline = True
    license.offline_code = code
    await record_history(
        session,
        license.id,
        HistoryAction.OFFLINE_CODE_ISSUED,
        hardware_id=normalized,
        ip_address=ip_address,
        access_token_id=access_token_id,
        at=moment,
    )
    return OfflineActivation(code, payload, created, seats)
