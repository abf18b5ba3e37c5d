"""POST /api/license/validate: every license-level outcome is an answer, never an error.

:func:`validate` is the whole read path in one place, written with Core statements on an
AUTOCOMMIT connection (no ORM objects): the online-key check is one query; a trial check is one
query plus, on a device's first visit, one insert. The online-key query, the hot path, runs on the
raw driver (:mod:`exisone_server.fastpath`, the same SQL); trials and offline codes use SQLAlchemy.

Statuses (reference §4.1): ``licensed``, ``trial``, ``expired``, ``invalid``,
``version_outdated``; ``reason`` (an extra field) says why; see docs/errors.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from exisone.protocol import (
    ExisOneError,
    is_offline_code,
    load_public_keys,
    parse_datetime,
    verify_offline_code,
)

from ..auth.dependencies import authenticate, parse_authorization, principal_of
from ..auth.principal import Principal
from ..db import Database, insert_for
from ..fastpath import OnlineKeyRow, fast_reader
from ..kit.activation_keys import normalize_activation_key
from ..kit.hardware import normalize_hardware_id
from ..kit.time import format_expiration, utc_now
from ..kit.versions import is_older
from ..models import Activation, CryptoKey, Feature, License, LicenseStatus, Product, Trial
from ..models import license_features as license_features_table
from ..webhooks import hooks as webhooks
from .schemas import LicenseValidate, LicenseValidation
from .service import check_hardware_id
from .validation_stats import validation_stats

__all__ = ["answer_validation", "validate", "validate_with_token"]


@dataclass(frozen=True)
class _ProductVersions:
    version: str | None
    minimum: str | None
    enforce: bool

    def outdated(self, client_version: str | None) -> bool:
        return bool(
            self.enforce
            and self.minimum
            and client_version
            and is_older(client_version, self.minimum)
        )


def _answer(
    status: str,
    reason: str,
    expires_at: datetime | None,
    versions: _ProductVersions | None = None,
    *,
    features: list[str] | None = None,
    remaining_days: int | None = None,
    product_name: str | None = None,
) -> LicenseValidation:
    return LicenseValidation(
        is_valid=status in ("licensed", "trial"),
        status=status,
        reason=reason,
        expiration_date=format_expiration(expires_at),
        features=features or [],
        remaining_days=remaining_days,
        server_version=versions.version if versions else None,
        minimum_required_version=versions.minimum if versions else None,
        product_name=product_name,
    )


async def validate(
    database: Database,
    tenant_id: int,
    request: LicenseValidate,
    now: datetime | None = None,
    *,
    fast: bool = True,
) -> LicenseValidation:
    """Answer a validation request of ``tenant_id``'s client (hardwareId already checked).

    An online key is read through the raw-driver fast path (:mod:`..fastpath`) unless ``fast``
    is False (the general SQLAlchemy path, which the tests compare it with).
    """
    moment = now or utc_now()
    hardware_id = normalize_hardware_id(request.hardware_id)
    key = (request.activation_key or "").strip()
    reader = fast_reader(database) if fast and key and not is_offline_code(key) else None
    if reader is not None:
        rows = await reader.online_key_rows(tenant_id, normalize_activation_key(key), hardware_id)
        return _online_key_answer(rows, request, moment)
    async with database.read() as connection:
        if not key:
            return await _validate_trial(
                database, connection, tenant_id, request, hardware_id, moment
            )
        if is_offline_code(key):
            return await _validate_offline_code(
                connection, tenant_id, request, key, hardware_id, moment
            )
        return await _validate_online_key(connection, tenant_id, request, key, hardware_id, moment)


async def answer_validation(
    database: Database,
    authorization: str | None,
    check_access: Callable[[Principal], None],
    request: LicenseValidate,
    client_ip: str | None,
) -> LicenseValidation:
    """The whole validate endpoint: :func:`validate_with_token`, then its webhook hook
    (``license.validation.failed``; answered from a per-process 5 s cache of the tenant's
    subscriptions, writes only when subscribed), then the day's count (in memory, see
    :mod:`.validation_stats`)."""
    principal, answer = await validate_with_token(database, authorization, check_access, request)
    await webhooks.after_validation(database, principal.tenant_id, request, answer, client_ip)
    validation_stats(database).count(principal.tenant_id)
    return answer


async def validate_with_token(
    database: Database,
    authorization: str | None,
    check_access: Callable[[Principal], None],
    request: LicenseValidate,
) -> tuple[Principal, LicenseValidation]:
    """Authenticate the token, ``check_access`` its principal (tenant, permission), validate.

    The same answers and the same order of refusals (401, then 403, then 400) as
    :func:`authenticate`, ``check_access`` and :func:`validate` one after the other; for an
    online key on a database with a fast reader the token and the key are read together (one
    round trip on PostgreSQL instead of two).
    """
    key = (request.activation_key or "").strip()
    reader = fast_reader(database) if key and not is_offline_code(key) else None
    if reader is None:
        principal = await authenticate(database, authorization)
        check_access(principal)
        check_hardware_id(request.hardware_id)
        return principal, await validate(database, principal.tenant_id, request)
    public_id, secret = parse_authorization(authorization)
    token, rows = await reader.token_and_online_key(
        public_id, normalize_activation_key(key), normalize_hardware_id(request.hardware_id)
    )
    principal = principal_of(token, secret)
    check_access(principal)
    check_hardware_id(request.hardware_id)
    return principal, _online_key_answer(rows, request, utc_now())


async def _validate_online_key(
    connection: AsyncConnection,
    tenant_id: int,
    request: LicenseValidate,
    key: str,
    hardware_id: str,
    now: datetime,
) -> LicenseValidation:
    bound = (
        exists()
        .where(
            Activation.license_id == License.id,
            Activation.hardware_id == hardware_id,
            Activation.deactivated_at.is_(None),
        )
        .label("bound")
    )
    statement = (
        select(
            License.status,
            License.expires_at,
            Product.name.label("product_name"),
            Product.version,
            Product.minimum_required_version,
            Product.enforce_version_check,
            Product.is_active.label("product_active"),
            bound,
            Feature.name.label("feature"),
        )
        .join(Product, Product.id == License.product_id)
        .outerjoin(license_features_table, license_features_table.c.license_id == License.id)
        .outerjoin(Feature, Feature.id == license_features_table.c.feature_id)
        .where(
            License.tenant_id == tenant_id, License.activation_key == normalize_activation_key(key)
        )
        .order_by(Feature.name)
    )
    rows = [OnlineKeyRow(*row) for row in (await connection.execute(statement)).all()]
    return _online_key_answer(rows, request, now)


def _online_key_answer(
    rows: Sequence[OnlineKeyRow], request: LicenseValidate, now: datetime
) -> LicenseValidation:
    """The answer for an online key from its rows (one per feature; none: unknown key)."""
    if not rows:
        return _answer("invalid", "license_not_found", now)
    first = rows[0]
    versions = _ProductVersions(
        first.version, first.minimum_required_version, first.enforce_version_check
    )
    features = [row.feature for row in rows if row.feature is not None]
    outcome = _license_state(LicenseStatus(first.status), first.expires_at, now)
    if (
        outcome is None
        and request.product_name
        and request.product_name.strip() != first.product_name
    ):
        outcome = ("invalid", "product_mismatch")
    if outcome is None and not first.product_active:
        outcome = ("invalid", "product_inactive")
    if outcome is None and not first.bound:
        outcome = ("invalid", "not_activated")
    if outcome is None and versions.outdated(request.version):
        outcome = ("version_outdated", "version_outdated")
    status, reason = outcome or ("licensed", "licensed")
    return _answer(
        status,
        reason,
        first.expires_at,
        versions,
        features=features if status == "licensed" else None,
    )


def _license_state(
    status: LicenseStatus, expires_at: datetime | None, now: datetime
) -> tuple[str, str] | None:
    """The answer forced by the license's own state, or None when it is usable."""
    if status is LicenseStatus.REVOKED:
        return "invalid", "license_revoked"
    if status is LicenseStatus.SUSPENDED:
        return "invalid", "license_suspended"
    if expires_at is not None and expires_at <= now:
        return "expired", "license_expired"
    return None


async def _validate_trial(
    database: Database,
    connection: AsyncConnection,
    tenant_id: int,
    request: LicenseValidate,
    hardware_id: str,
    now: datetime,
) -> LicenseValidation:
    """Trial mode (no key): one trial per product and device, never reset.

    A device that was ever activated for the product gets no trial
    (``device_previously_activated``), not even after deactivation: the rule of ExisOne's
    REST docs (reference §4.2).
    """
    product_name = (request.product_name or "").strip()
    if not product_name:
        return _answer("invalid", "product_name_required", now)
    trial_expires = (
        select(Trial.expires_at)
        .where(Trial.product_id == Product.id, Trial.hardware_id == hardware_id)
        .scalar_subquery()
        .label("trial_expires")
    )
    ever_activated = (
        exists()
        .where(
            Activation.hardware_id == hardware_id,
            Activation.license_id == License.id,
            License.product_id == Product.id,
        )
        .label("ever_activated")
    )
    statement = select(
        Product.id,
        Product.trial_days,
        Product.is_active,
        Product.version,
        Product.minimum_required_version,
        Product.enforce_version_check,
        trial_expires,
        ever_activated,
    ).where(Product.tenant_id == tenant_id, Product.name == product_name)
    row = (await connection.execute(statement)).one_or_none()
    if row is None:
        return _answer("invalid", "product_not_found", now)
    versions = _ProductVersions(
        row.version, row.minimum_required_version, row.enforce_version_check
    )
    expires_at: datetime | None = _as_utc(row.trial_expires)
    if not row.is_active:
        return _answer("invalid", "product_inactive", expires_at or now, versions)
    if row.ever_activated:
        return _answer("invalid", "device_previously_activated", expires_at or now, versions)
    if expires_at is None:
        if row.trial_days <= 0:
            return _answer("invalid", "trial_not_available", now, versions)
        expires_at = await _start_trial(
            database, connection, row.id, hardware_id, now + timedelta(days=row.trial_days), now
        )
        # hook (webhooks): trial.started (first visit only; once per device by its idempotency
        # key; writes only when the tenant subscribes). Keep this call when reworking this path.
        await webhooks.trial_started(
            database,
            tenant_id,
            product_id=row.id,
            product_name=product_name,
            hardware_id=hardware_id,
            expires_at=expires_at,
            connection=connection,  # this request's connection: no second one from the pool
        )
    if expires_at <= now:
        return _answer("expired", "trial_expired", expires_at, versions, remaining_days=0)
    if versions.outdated(request.version):
        return _answer("version_outdated", "version_outdated", expires_at, versions)
    remaining = math.ceil((expires_at - now) / timedelta(days=1))
    return _answer("trial", "trial_active", expires_at, versions, remaining_days=remaining)


async def _start_trial(
    database: Database,
    connection: AsyncConnection,
    product_id: int,
    hardware_id: str,
    expires_at: datetime,
    now: datetime,
) -> datetime:
    """Insert the device's trial unless a concurrent request did; return the stored expiry."""
    insert = insert_for(database.dialect)
    values: dict[str, Any] = {
        "product_id": product_id,
        "hardware_id": hardware_id,
        "expires_at": expires_at,
        "created_at": now,
    }
    await connection.execute(
        insert(Trial)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["product_id", "hardware_id"])
    )
    stored = await connection.scalar(
        select(Trial.expires_at).where(
            Trial.product_id == product_id, Trial.hardware_id == hardware_id
        )
    )
    assert stored is not None
    return stored


async def _validate_offline_code(
    connection: AsyncConnection,
    tenant_id: int,
    request: LicenseValidate,
    code: str,
    hardware_id: str,
    now: datetime,
) -> LicenseValidation:
    """An offline code sent as the key (smart validation's sync): verified, never an error."""
    pems = (
        await connection.scalars(
            select(CryptoKey.public_key_pem).where(CryptoKey.tenant_id == tenant_id)
        )
    ).all()
    try:
        payload = verify_offline_code(code, load_public_keys(list(pems))).payload
    except ExisOneError:
        return _answer("invalid", "offline_code_invalid", now)
    product_name = str(payload.get("productName") or "") or None
    try:
        expires_at: datetime | None = parse_datetime(str(payload.get("expirationDate") or ""))
    except ValueError:
        return _answer("invalid", "offline_code_invalid", now)
    if normalize_hardware_id(str(payload.get("hardwareId") or "")) != hardware_id:
        return _answer("invalid", "hardware_mismatch", expires_at, product_name=product_name)
    if request.product_name and product_name and request.product_name.strip() != product_name:
        return _answer("invalid", "product_mismatch", expires_at, product_name=product_name)
    listed = payload.get("features")
    features = [str(feature) for feature in listed] if isinstance(listed, list) else []
    versions: _ProductVersions | None = None
    activation_key = payload.get("activationKey")
    if isinstance(activation_key, str) and activation_key:
        row = (
            await connection.execute(
                select(
                    License.id,
                    License.status,
                    License.expires_at,
                    Product.version,
                    Product.minimum_required_version,
                    Product.enforce_version_check,
                )
                .join(Product, Product.id == License.product_id)
                .where(
                    License.tenant_id == tenant_id,
                    License.activation_key == normalize_activation_key(activation_key),
                )
            )
        ).one_or_none()
        if row is not None:
            # The license's current state wins over the payload (renewed, revoked, suspended).
            versions = _ProductVersions(
                row.version, row.minimum_required_version, row.enforce_version_check
            )
            expires_at = row.expires_at
            features = list(
                (
                    await connection.scalars(
                        select(Feature.name)
                        .join(
                            license_features_table,
                            license_features_table.c.feature_id == Feature.id,
                        )
                        .where(license_features_table.c.license_id == row.id)
                        .order_by(Feature.name)
                    )
                ).all()
            )
            state = _license_state(row.status, row.expires_at, now)
            if state is not None:
                return _answer(*state, expires_at, versions, product_name=product_name)
    if expires_at is not None and expires_at <= now:
        return _answer(
            "expired", "license_expired", expires_at, versions, product_name=product_name
        )
    if versions is not None and versions.outdated(request.version):
        return _answer(
            "version_outdated", "version_outdated", expires_at, versions, product_name=product_name
        )
    return _answer(
        "licensed", "licensed", expires_at, versions, features=features, product_name=product_name
    )


def _as_utc(value: datetime | None) -> datetime | None:
    """Aware UTC (a scalar subquery may bypass the column type's result processing)."""
    if value is None:
        return None
    return (
        value.replace(tzinfo=timezone.utc)
        if value.tzinfo is None
        else value.astimezone(timezone.utc)
    )
