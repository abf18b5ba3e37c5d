"""License rules that write: create, activate (bind a device / take a seat), deactivate.

Every function here runs inside the caller's write session (``Database.write()``), which on SQLite
is a ``BEGIN IMMEDIATE`` transaction; on PostgreSQL the license row is locked with
``SELECT ... FOR UPDATE`` before seats are counted, so concurrent activations never exceed the
seat limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from exisone.protocol import ExisOneError, is_offline_code, load_public_keys, verify_offline_code

from ..errors import ApiError, BadRequest, Conflict, NotFound
from ..kit.activation_keys import generate_activation_key, normalize_activation_key
from ..kit.hardware import MAX_HARDWARE_ID_LENGTH, normalize_hardware_id
from ..kit.time import utc_now
from ..kit.versions import is_older
from ..models import (
    Activation,
    CryptoKey,
    Feature,
    HistoryAction,
    License,
    LicenseStatus,
    Plan,
    Product,
    license_features,
    plan_features,
)
from ..webhooks import hooks as webhooks
from .history import record_history

__all__ = [
    "ActivationOutcome",
    "DeactivationOutcome",
    "activate_device",
    "bind_device",
    "check_hardware_id",
    "count_active_seats",
    "create_license",
    "deactivate_device",
    "ensure_usable",
    "find_license",
    "find_product",
    "get_license",
    "license_feature_names",
    "resolve_activation_key",
    "seat_limit",
    "version_outdated_error",
]


@dataclass(frozen=True)
class ActivationOutcome:
    """The result of binding a device: ``created`` is False for an idempotent repeat."""

    license: License
    product: Product
    activation: Activation
    created: bool
    current_seats: int


@dataclass(frozen=True)
class DeactivationOutcome:
    license: License
    was_active: bool
    current_seats: int


def check_hardware_id(hardware_id: str) -> str:
    """The normalised hardware ID, or 400 ``invalid_request`` when blank or too long."""
    normalized = normalize_hardware_id(hardware_id)
    if not normalized:
        raise BadRequest("invalid_request", "Invalid request: hardwareId is required.")
    if len(normalized) > MAX_HARDWARE_ID_LENGTH:
        raise BadRequest(
            "invalid_request",
            f"Invalid request: hardwareId is longer than {MAX_HARDWARE_ID_LENGTH} characters.",
        )
    return normalized


def seat_limit(license: License) -> int | None:
    """Devices the license may hold at once: 1 for single-device, None for unlimited.

    A corporate license with ``max_seats`` None or 0 is unlimited (0 as in ExisOne's MCP tool).
    """
    if not license.is_corporate:
        return 1
    return license.max_seats if license.max_seats and license.max_seats > 0 else None


async def find_product(session: AsyncSession, tenant_id: int, name: str) -> Product | None:
    """The tenant's product with exactly this name."""
    return await session.scalar(
        select(Product).where(Product.tenant_id == tenant_id, Product.name == name)
    )


async def find_license(
    session: AsyncSession, tenant_id: int, activation_key: str, *, lock: bool = False
) -> License | None:
    """The tenant's license with this key (case-insensitive); ``lock`` = ``FOR UPDATE``."""
    if "\x00" in activation_key:
        return None  # cannot be stored, so cannot exist (and PostgreSQL refuses it)
    statement = select(License).where(
        License.tenant_id == tenant_id,
        License.activation_key == normalize_activation_key(activation_key),
    )
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def get_license(
    session: AsyncSession, tenant_id: int, activation_key: str, *, lock: bool = False
) -> License:
    """Like :func:`find_license`, but 404 ``license_not_found``."""
    license = await find_license(session, tenant_id, activation_key, lock=lock)
    if license is None:
        raise NotFound("license_not_found", "No license with this activation key.")
    return license


async def count_active_seats(session: AsyncSession, license_id: int) -> int:
    """Devices currently bound to the license."""
    count = await session.scalar(
        select(func.count())
        .select_from(Activation)
        .where(Activation.license_id == license_id, Activation.deactivated_at.is_(None))
    )
    return int(count or 0)


async def license_feature_names(session: AsyncSession, license_id: int) -> list[str]:
    """The license's feature names, sorted."""
    result = await session.scalars(
        select(Feature.name)
        .join(license_features, license_features.c.feature_id == Feature.id)
        .where(license_features.c.license_id == license_id)
        .order_by(Feature.name)
    )
    return list(result)


def version_info(product: Product) -> dict[str, str]:
    """``serverVersion`` / ``minimumRequiredVersion`` of the product, when it has them."""
    info = {}
    if product.version:
        info["serverVersion"] = product.version
    if product.minimum_required_version:
        info["minimumRequiredVersion"] = product.minimum_required_version
    return info


def is_version_outdated(product: Product, client_version: str | None) -> bool:
    """True when the product enforces a minimum and the client sent an older version.

    A client that sends no version is not refused (the SDKs' smart validation never sends one).
    """
    return bool(
        product.enforce_version_check
        and product.minimum_required_version
        and client_version
        and is_older(client_version, product.minimum_required_version)
    )


def version_outdated_error(product: Product, client_version: str) -> ApiError:
    return Conflict(
        "version_outdated",
        f"Version {client_version} is no longer supported; "
        f"{product.minimum_required_version} or newer is required.",
        extra=version_info(product),
    )


def ensure_usable(license: License, product: Product, now: datetime) -> None:
    """409 when the license or its product cannot be activated right now."""
    extra = version_info(product)
    if license.status is LicenseStatus.REVOKED:
        raise Conflict("license_revoked", "This license has been revoked.", extra=extra)
    if license.status is LicenseStatus.SUSPENDED:
        raise Conflict("license_suspended", "This license is suspended.", extra=extra)
    if license.expires_at is not None and license.expires_at <= now:
        raise Conflict("license_expired", "This license has expired.", extra=extra)
    if not product.is_active:
        raise Conflict("product_inactive", "This product is not active.", extra=extra)


async def bind_device(
    session: AsyncSession,
    license: License,
    hardware_id: str,
    *,
    email: str = "",
    ip_address: str | None = None,
    client_version: str | None = None,
    offline: bool = False,
    access_token_id: int | None = None,
    now: datetime | None = None,
) -> tuple[Activation, bool, int]:
    """Bind ``hardware_id`` (normalised) to a locked ``license``: ``(activation, created, seats)``.

    Same device again → the existing activation (idempotent). Single-device license bound to
    another device → 409 ``license_in_use``; corporate license full → 409 ``seat_limit_reached``.
    """
    moment = now or utc_now()
    existing = await session.scalar(
        select(Activation).where(
            Activation.license_id == license.id,
            Activation.hardware_id == hardware_id,
            Activation.deactivated_at.is_(None),
        )
    )
    seats = await count_active_seats(session, license.id)
    if existing is not None:
        return existing, False, seats
    limit = seat_limit(license)
    if limit is not None and seats >= limit:
        if license.is_corporate:
            raise Conflict(
                "seat_limit_reached",
                f"All {limit} seats of this corporate license are in use; "
                "deactivate a device to free one.",
                extra={"currentSeats": seats, "maxSeats": limit},
            )
        raise Conflict(
            "license_in_use",
            "This license is already activated on another device; deactivate it there first.",
        )
    activation = Activation(
        license_id=license.id,
        hardware_id=hardware_id,
        email=email,
        ip_address=ip_address,
        client_version=client_version,
        is_offline=offline,
        created_at=moment,
    )
    session.add(activation)
    if license.activated_at is None:
        license.activated_at = moment
    await session.flush()
    await record_history(
        session,
        license.id,
        HistoryAction.ACTIVATED,
        hardware_id=hardware_id,
        ip_address=ip_address,
        access_token_id=access_token_id,
        note="offline code" if offline else None,
        at=moment,
    )
    await webhooks.license_activated(session, license, activation, seats + 1)  # outbox
    return activation, True, seats + 1


async def activate_device(
    session: AsyncSession,
    *,
    tenant_id: int,
    activation_key: str,
    hardware_id: str,
    product_name: str,
    email: str = "",
    client_version: str | None = None,
    ip_address: str | None = None,
    access_token_id: int | None = None,
    now: datetime | None = None,
) -> ActivationOutcome:
    """POST /api/license/activate: every check, then :func:`bind_device`."""
    moment = now or utc_now()
    normalized_hardware_id = check_hardware_id(hardware_id)
    license = await get_license(session, tenant_id, activation_key, lock=True)
    product = await session.get(Product, license.product_id)
    assert product is not None  # foreign key
    if product_name.strip() != product.name:
        raise Conflict(
            "product_mismatch",
            "This activation key belongs to another product.",
            extra=version_info(product),
        )
    ensure_usable(license, product, moment)
    if client_version and is_version_outdated(product, client_version):
        raise version_outdated_error(product, client_version)
    activation, created, seats = await bind_device(
        session,
        license,
        normalized_hardware_id,
        email=email.strip(),
        ip_address=ip_address,
        client_version=client_version,
        access_token_id=access_token_id,
        now=moment,
    )
    return ActivationOutcome(license, product, activation, created, seats)


async def deactivate_device(
    session: AsyncSession,
    license: License,
    hardware_id: str,
    *,
    ip_address: str | None = None,
    access_token_id: int | None = None,
    now: datetime | None = None,
) -> DeactivationOutcome:
    """Free the device's seat on a locked ``license``; a device without one is a no-op."""
    moment = now or utc_now()
    normalized = check_hardware_id(hardware_id)
    activation = await session.scalar(
        select(Activation).where(
            Activation.license_id == license.id,
            Activation.hardware_id == normalized,
            Activation.deactivated_at.is_(None),
        )
    )
    if activation is not None:
        activation.deactivated_at = moment
        await session.flush()
        await record_history(
            session,
            license.id,
            HistoryAction.DEACTIVATED,
            hardware_id=normalized,
            ip_address=ip_address,
            access_token_id=access_token_id,
            at=moment,
        )
    seats = await count_active_seats(session, license.id)
    if activation is not None:
        await webhooks.device_deactivated(session, license, normalized, ip_address, seats)
    return DeactivationOutcome(license, activation is not None, seats)


async def create_license(
    session: AsyncSession,
    *,
    product: Product,
    email: str,
    plan: Plan | None = None,
    validity_days: int | None = None,
    is_corporate: bool = False,
    max_seats: int | None = None,
    corporate_name: str | None = None,
    features: Sequence[Feature] | None = None,
    activation_key: str | None = None,
    note: str | None = None,
    access_token_id: int | None = None,
    now: datetime | None = None,
) -> License:
    """A new license of ``product`` (reference §3.4 rules), with a ``created`` history event.

    Validity: ``plan`` wins over ``validity_days``; with neither, the product's default plan is
    used, else its ``default_license_days``; 0 days = perpetual. Features: ``features`` if given,
    else the plan's. Raises 400 ``invalid_request`` for negative days or seats.
    """
    moment = now or utc_now()
    if validity_days is not None and validity_days < 0:
        raise BadRequest("invalid_request", "Invalid request: validityDays must be 0 or more.")
    if max_seats is not None and max_seats < 0:
        raise BadRequest("invalid_request", "Invalid request: maxSeats must be 0 or more.")
    if plan is None and validity_days is None and product.default_plan_id is not None:
        plan = await session.get(Plan, product.default_plan_id)
    if plan is not None:
        days = plan.duration_days
    elif validity_days is not None:
        days = validity_days
    else:
        days = product.default_license_days
    if features is None and plan is not None:
        features = list(
            await session.scalars(
                select(Feature)
                .join(plan_features, plan_features.c.feature_id == Feature.id)
                .where(plan_features.c.plan_id == plan.id)
            )
        )
    key = normalize_activation_key(activation_key) if activation_key else None
    while key is None:
        candidate = generate_activation_key()
        taken = await session.scalar(select(License.id).where(License.activation_key == candidate))
        key = None if taken is not None else candidate
    license = License(
        tenant_id=product.tenant_id,
        product_id=product.id,
        plan_id=plan.id if plan is not None else None,
        activation_key=key,
        email=email.strip(),
        expires_at=moment + timedelta(days=days) if days > 0 else None,
        is_corporate=is_corporate,
        max_seats=max_seats if is_corporate else None,
        corporate_name=corporate_name if is_corporate else None,
        note=note,
        created_at=moment,
    )
    session.add(license)
    await session.flush()
    if features:
        await session.execute(
            license_features.insert(),
            [{"license_id": license.id, "feature_id": feature.id} for feature in features],
        )
    await record_history(
        session, license.id, HistoryAction.CREATED, access_token_id=access_token_id, at=moment
    )
    await webhooks.license_created(session, license, product)  # outbox, same transaction
    return license


async def resolve_activation_key(session: AsyncSession, tenant_id: int, key: str) -> str:
    """The online key behind ``key``: itself, or the ``activationKey`` of an offline code.

    An offline code that does not verify with the tenant's keys, or names no key → 404.
    """
    if not is_offline_code(key):
        return key
    pems = list(
        await session.scalars(
            select(CryptoKey.public_key_pem).where(CryptoKey.tenant_id == tenant_id)
        )
    )
    try:
        payload = verify_offline_code(key, load_public_keys(pems)).payload
    except ExisOneError:
        raise NotFound("license_not_found", "This offline code is not valid here.") from None
    activation_key = payload.get("activationKey")
    if not isinstance(activation_key, str) or not activation_key:
        raise NotFound("license_not_found", "This offline code names no activation key.")
    return activation_key
