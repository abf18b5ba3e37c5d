"""License rules that write: create, deactivate (activation is :mod:`.binding`'s), and the
lookups and answers' parts they share with it.

Every function here runs inside the caller's write session (``Database.write()``), which on SQLite
is a ``BEGIN IMMEDIATE`` transaction; on PostgreSQL the license row is locked with
``SELECT ... FOR UPDATE`` before seats are counted.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from exisone.protocol import ExisOneError, is_offline_code, load_public_keys, verify_offline_code

from ..crypto.service import keys_of
from ..errors import ApiError, BadRequest, Conflict, Forbidden, NotFound
from ..kit.activation_keys import generate_activation_key, normalize_activation_key
from ..kit.hardware import MAX_HARDWARE_ID_LENGTH, normalize_hardware_id
from ..kit.time import format_expiration, utc_now
from ..models import (
    Activation,
    CryptoKey,
    Feature,
    HistoryAction,
    KeyAlgorithm,
    License,
    LicenseHistory,
    Plan,
    Product,
    license_features,
    plan_features,
    table_of,
)
from ..security.lookups import lookup_found, lookup_missed
from ..statements import Statements
from ..webhooks import hooks as webhooks
from . import rules
from .history import record_history
from .rules import KeyFacts, Reason, ReleasePolicy, Releaser, ReleaseRefusal

__all__ = [
    "DeactivationOutcome",
    "ProductVersions",
    "check_hardware_id",
    "count_active_seats",
    "create_license",
    "deactivate_device",
    "ensure_activatable",
    "features_of_licenses",
    "find_license",
    "find_product",
    "found_license",
    "get_license",
    "key_facts",
    "license_feature_names",
    "license_not_found",
    "plan_grace_days",
    "refusal_error",
    "release_error",
    "release_outlook",
    "release_policy",
    "release_times",
    "resolve_activation_key",
    "seat_limit",
    "version_outdated_error",
]


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
    """:func:`.rules.seat_limit` of a license."""
    return rules.seat_limit(license.is_corporate, license.max_seats)


async def find_product(session: AsyncSession, tenant_id: int, name: str) -> Product | None:
    """The tenant's product with exactly this name."""
    return await session.scalar(
        select(Product).where(Product.tenant_id == tenant_id, Product.name == name)
    )


async def find_license(
    session: AsyncSession, tenant_id: int, activation_key: str, *, lock: bool = False
) -> License | None:
    """The tenant's license with this key (case-insensitive); ``lock`` = ``FOR UPDATE``."""
    license = None
    if "\x00" not in activation_key:  # else it cannot be stored, so cannot exist
        statement = select(License).where(
            License.tenant_id == tenant_id,
            License.activation_key == normalize_activation_key(activation_key),
        )
        if lock:
            statement = statement.with_for_update()
        license = await session.scalar(statement)
    if license is None:
        lookup_missed()
    else:
        lookup_found()
    return license


_Found = TypeVar("_Found")


def license_not_found() -> NotFound:
    """404 ``license_not_found``: the tenant has no license with the key asked for."""
    return NotFound("license_not_found", "No license with this activation key.")


def found_license(found: _Found | None) -> _Found:
    """What a lookup by activation key found (a license, a row of one), counted as a found
    lookup; None is counted as a failed one and is 404 :func:`license_not_found`."""
    if found is None:
        lookup_missed()
        raise license_not_found()
    lookup_found()
    return found


async def get_license(
    session: AsyncSession, tenant_id: int, activation_key: str, *, lock: bool = False
) -> License:
    """Like :func:`find_license`, but 404 ``license_not_found``."""
    license = await find_license(session, tenant_id, activation_key, lock=lock)
    if license is None:
        raise license_not_found()
    return license


async def count_active_seats(session: AsyncSession, license_id: int) -> int:
    """Devices currently bound to the license."""
    count = await session.scalar(
        select(func.count())
        .select_from(Activation)
        .where(Activation.license_id == license_id, Activation.deactivated_at.is_(None))
    )
    return int(count or 0)


_features = table_of(Feature)
_FEATURE_NAMES = (
    select(_features.c.name)
    .join(license_features, license_features.c.feature_id == _features.c.id)
    .where(license_features.c.license_id == bindparam("license_id"))
    .order_by(_features.c.name)
)


async def license_feature_names(session: AsyncSession, license_id: int) -> list[str]:
    """The license's feature names, sorted."""
    connection = await session.connection()
    result = await connection.scalars(_FEATURE_NAMES, {"license_id": license_id})
    return list(result)


_FEATURES_OF_LICENSES = (
    select(license_features.c.license_id, _features.c.name)
    .join(license_features, license_features.c.feature_id == _features.c.id)
    .where(license_features.c.license_id.in_(bindparam("license_ids", expanding=True)))
    .order_by(license_features.c.license_id, _features.c.name)
)


async def features_of_licenses(
    statements: Statements, license_ids: Collection[int]
) -> dict[int, list[str]]:
    """Each license's feature names, sorted (every id given has an entry)."""
    names: dict[int, list[str]] = {license_id: [] for license_id in license_ids}
    if names:
        rows = await statements.rows(_FEATURES_OF_LICENSES, {"license_ids": sorted(names)})
        for license_id, name in rows:
            names[license_id].append(name)
    return names


class ProductVersions(Protocol):
    """What an answer names of a product's versions (a :class:`Product` has them)."""

    @property
    def version(self) -> str | None: ...

    @property
    def minimum_required_version(self) -> str | None: ...


def version_info(product: ProductVersions) -> dict[str, str]:
    """``serverVersion`` / ``minimumRequiredVersion`` of the product, when it has them."""
    info = {}
    if product.version:
        info["serverVersion"] = product.version
    if product.minimum_required_version:
        info["minimumRequiredVersion"] = product.minimum_required_version
    return info


def is_version_outdated(product: Product, client_version: str | None) -> bool:
    """:func:`.rules.version_outdated` for the product."""
    return rules.version_outdated(
        product.enforce_version_check, product.minimum_required_version, client_version
    )


def version_outdated_error(product: ProductVersions, client_version: str) -> ApiError:
    return Conflict(
        "version_outdated",
        f"Version {client_version} is no longer supported; "
        f"{product.minimum_required_version} or newer is required.",
        extra=version_info(product),
    )


_REFUSAL_MESSAGES = {
    Reason.PRODUCT_MISMATCH: "This activation key belongs to another product.",
    Reason.LICENSE_REVOKED: "This license has been revoked.",
    Reason.LICENSE_SUSPENDED: "This license is suspended.",
    Reason.LICENSE_EXPIRED: "This license has expired.",
    Reason.PRODUCT_INACTIVE: "This product is not active.",
}


async def plan_grace_days(session: AsyncSession, license: License) -> int:
    """The grace days of the license's plan (0 without a plan)."""
    if license.plan_id is None:
        return 0
    days = await session.scalar(select(Plan.grace_days).where(Plan.id == license.plan_id))
    return int(days or 0)


def key_facts(license: License, product: Product, grace_days: int = 0) -> KeyFacts:
    """What :mod:`.rules` reads of a license and its product (and its plan's grace)."""
    return KeyFacts(
        grace_days=grace_days,
        status=license.status,
        expires_at=license.expires_at,
        product_name=product.name,
        product_active=product.is_active,
        enforce_version_check=product.enforce_version_check,
        minimum_required_version=product.minimum_required_version,
    )


def ensure_activatable(
    license: License,
    product: Product,
    now: datetime,
    *,
    product_name: str | None = None,
    client_version: str | None = None,
    grace_days: int = 0,
) -> None:
    """409 when :func:`.rules.activation_refusal` refuses binding a device to the license."""
    refusal = rules.activation_refusal(
        key_facts(license, product, grace_days),
        product_name=product_name,
        version=client_version,
        now=now,
    )
    if refusal is not None:
        raise refusal_error(refusal, product, client_version)


def refusal_error(
    refusal: Reason, product: ProductVersions, client_version: str | None
) -> ApiError:
    """The 409 of an :func:`.rules.activation_refusal` reason."""
    if refusal is Reason.VERSION_OUTDATED:
        assert client_version is not None
        return version_outdated_error(product, client_version)
    return Conflict(refusal, _REFUSAL_MESSAGES[refusal], extra=version_info(product))


def release_policy(product: Product) -> ReleasePolicy:
    """The product's release rules (:class:`.rules.ReleasePolicy`)."""
    return ReleasePolicy(
        customer_may_release=product.customer_may_release,
        customer_may_release_offline=product.customer_may_release_offline,
        cooldown_hours=product.deactivation_cooldown_hours,
        max_releases_per_30_days=product.max_releases_per_30_days,
    )


#: The releases the waiting rules count (the publisher's do not).
_COUNTED_RELEASERS = (Releaser.CUSTOMER.value, Releaser.APPLICATION.value)


async def release_times(
    session: AsyncSession, license_id: int, policy: ReleasePolicy, now: datetime
) -> list[datetime]:
    """When the license's devices were released by customers and applications, as far back as
    :func:`.rules.release_lookback` reaches."""
    rows = await session.scalars(
        select(LicenseHistory.created_at).where(
            LicenseHistory.license_id == license_id,
            LicenseHistory.action == HistoryAction.DEACTIVATED,
            LicenseHistory.actor.in_(_COUNTED_RELEASERS),
            LicenseHistory.created_at > now - rules.release_lookback(policy),
        )
    )
    return list(rows)


async def release_outlook(
    session: AsyncSession, license: License, product: Product, now: datetime
) -> tuple[ReleasePolicy, ReleaseRefusal | None]:
    """The product's release rules and, when a release now must wait, why and until when
    (what the portal and the dashboard show before anyone tries)."""
    policy = release_policy(product)
    wait = rules.release_wait(policy, await release_times(session, license.id, policy, now), now)
    return policy, wait


_RELEASE_MESSAGES = {
    Reason.RELEASE_NOT_ALLOWED: "The publisher does not let customers release devices of this "
    "product; contact their support.",
    Reason.OFFLINE_SEAT: "This device was activated with an offline code; only the publisher can "
    "release its seat.",
    Reason.RELEASE_COOLDOWN: "A device of this license was released less than {hours} hours ago; "
    "the next release is possible from {lifts}.",
    Reason.RELEASE_LIMIT_REACHED: "This license has had {most} device releases in the last 30 "
    "days, the most allowed; the next release is possible from {lifts}.",
}


def release_error(refusal: ReleaseRefusal, policy: ReleasePolicy, now: datetime) -> ApiError:
    """The API error of a refused release: 403 ``release_not_allowed``, 409 ``offline_seat``,
    409 ``release_cooldown`` / ``release_limit_reached`` with ``retryAt`` and ``Retry-After``."""
    lifts = refusal.lifts_at
    message = _RELEASE_MESSAGES[refusal.reason].format(
        hours=policy.cooldown_hours,
        most=policy.max_releases_per_30_days,
        lifts=lifts.strftime("%Y-%m-%d %H:%M UTC") if lifts else "",
    )
    if refusal.reason is Reason.RELEASE_NOT_ALLOWED:
        return Forbidden(refusal.reason, message)
    if lifts is None:
        return Conflict(refusal.reason, message)
    wait = max(1, int((lifts - now).total_seconds() + 0.999))
    return Conflict(
        refusal.reason,
        message,
        extra={"retryAt": format_expiration(lifts)},
        headers={"Retry-After": str(wait)},
    )


async def deactivate_device(
    session: AsyncSession,
    license: License,
    hardware_id: str,
    *,
    by: Releaser,
    ip_address: str | None = None,
    access_token_id: int | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> DeactivationOutcome:
    """Free the device's seat on a locked ``license``; a device without one is a no-op.

    The product's release rules (:func:`.rules.release_refusal`) decide whether ``by`` may:
    a refusal raises :func:`release_error`. The history event names ``by`` as its actor.
    """
    moment = now or utc_now()
    normalized = check_hardware_id(hardware_id)
    activation = await session.scalar(
        select(Activation).where(
            Activation.license_id == license.id,
            Activation.hardware_id == normalized,
            Activation.deactivated_at.is_(None),
        )
    )
    if activation is not None and by is not Releaser.PUBLISHER:
        product = await session.get(Product, license.product_id)
        assert product is not None  # foreign key
        policy = release_policy(product)
        refusal = rules.release_refusal(
            policy,
            by=by,
            activation_is_offline=activation.is_offline,
            releases=await release_times(session, license.id, policy, moment),
            now=moment,
        )
        if refusal is not None:
            raise release_error(refusal, policy, moment)
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
            note=note,
            actor=by.value,
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
    is_floating: bool | None = None,
    features: Sequence[Feature] | None = None,
    activation_key: str | None = None,
    note: str | None = None,
    access_token_id: int | None = None,
    payment: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> License:
    """A new license of ``product`` (ExisOne's rules), with a ``created`` history event.

    ``payment``: the provider and order that paid for it (``license.created`` says so).

    Validity: ``plan`` wins over ``validity_days``; with neither, the product's default plan is
    used, else its ``default_license_days``; 0 days = perpetual. Features: ``features`` if given,
    else the plan's. Floating (``is_floating``): as given, else as the plan. Raises 400
    ``invalid_request`` for negative days or seats.
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
        is_floating=is_floating if is_floating is not None else bool(plan and plan.is_floating),
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
    await webhooks.license_created(session, license, product, payment=payment)  # outbox
    return license


async def resolve_activation_key(session: AsyncSession, tenant_id: int, key: str) -> str:
    """The online key behind ``key``: itself, or the ``activationKey`` of an offline code.

    An offline code that does not verify with the tenant's keys, or names no key → 404.
    """
    if not is_offline_code(key):
        return key
    pems = list(
        await session.scalars(
            select(CryptoKey.public_key_pem).where(keys_of(tenant_id, KeyAlgorithm.RSA))
        )
    )
    try:
        payload = verify_offline_code(key, load_public_keys(pems)).payload
    except ExisOneError:
        lookup_missed()
        raise NotFound("license_not_found", "This offline code is not valid here.") from None
    activation_key = payload.get("activationKey")
    if not isinstance(activation_key, str) or not activation_key:
        lookup_missed()
        raise NotFound("license_not_found", "This offline code names no activation key.")
    return activation_key
