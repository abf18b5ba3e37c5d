"""POST /api/license/validate: every license-level outcome is an answer, never an error.

The decisions are :mod:`.rules`'; this module reads the facts they need and builds the answer.
An online key (the hot path) is read with its token in one statement through
:mod:`exisone_server.fastpath`; a trial is one query plus, on a device's first visit, one insert;
an offline code is verified with the tenant's public keys, then the license it names is read
like an online key.

Statuses: ``licensed``, ``trial``, ``expired``, ``invalid``, ``version_outdated``; ``reason``
(an extra field) says why; see docs/errors.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from sqlalchemy import exists, select

from exisone.protocol import (
    ExisOneError,
    is_offline_code,
    load_public_keys,
    parse_datetime,
    verify_offline_code,
)

from ..analytics.counting import validation_analytics
from ..auth.dependencies import authenticate, parse_authorization, principal_of
from ..auth.principal import Principal
from ..crypto.service import keys_of
from ..db import Database, insert_for
from ..fastpath import OnlineKeyRow, TokenRow, fast_reader
from ..fastpath.replicas import read_validation
from ..kit.activation_keys import normalize_activation_key
from ..kit.hardware import normalize_hardware_id
from ..kit.time import format_expiration, utc_now
from ..models import Activation, CryptoKey, KeyAlgorithm, License, LicenseStatus, Product, Trial
from ..security.lookups import lookup_found, lookup_missed
from ..security.write_limits import claim_trial_slot
from ..webhooks import hooks as webhooks
from . import rules
from .rules import KeyFacts, Reason
from .schemas import LicenseValidate, LicenseValidation
from .service import check_hardware_id
from .validation_stats import validation_stats

__all__ = ["answer_validation", "online_key_answer", "validate", "validate_with_token"]


class _TrialProduct(NamedTuple):
    """The product facts a trial answer carries (an online key's row carries the same)."""

    version: str | None
    minimum_required_version: str | None


def _answer(
    reason: Reason,
    expires_at: datetime | None,
    product: OnlineKeyRow | _TrialProduct | None = None,
    *,
    features: Sequence[str] = (),
    remaining_days: int | None = None,
    product_name: str | None = None,
    now: datetime | None = None,
) -> LicenseValidation:
    status = rules.answer_status(reason)
    grace_until, check_in_days = None, None
    if isinstance(product, OnlineKeyRow):
        check_in_days = product.check_in_days
        ends = rules.grace_until(expires_at, product.grace_days)
        if now is not None and expires_at is not None and ends is not None:
            grace_until = format_expiration(ends) if expires_at <= now < ends else None
    return LicenseValidation(
        is_valid=status in ("licensed", "trial"),
        status=status,
        reason=reason.value,
        expiration_date=format_expiration(expires_at),
        features=list(features) if status == "licensed" else [],
        remaining_days=remaining_days,
        server_version=product.version if product else None,
        minimum_required_version=product.minimum_required_version if product else None,
        product_name=product_name,
        grace_until=grace_until,
        check_in_days=check_in_days,
    )


def _matchable(text: str) -> str:
    """``text`` for a lookup, or "" (which matches nothing) when the database could not hold
    it: a NUL, or a lone surrogate that is not UTF-8."""
    if "\x00" in text:
        return ""
    try:
        text.encode()
    except UnicodeEncodeError:
        return ""
    return text


def _facts(row: OnlineKeyRow) -> KeyFacts:
    return KeyFacts(
        status=LicenseStatus(row.status),
        expires_at=row.expires_at,
        product_name=row.product_name,
        product_active=row.product_active,
        enforce_version_check=row.enforce_version_check,
        minimum_required_version=row.minimum_required_version,
        grace_days=row.grace_days,
    )


def _holds_seat(row: OnlineKeyRow, now: datetime) -> bool:
    """The device holds a seat: an activation, or a live lease of a floating license."""
    lease = row.lease_expires_at
    return row.bound or (lease is not None and rules.lease_live(lease, None, now))


def _refusal(row: OnlineKeyRow, request: LicenseValidate, now: datetime) -> Reason | None:
    """Why an online key's first row does not license the request, or None."""
    return rules.validation_refusal(
        _facts(row),
        product_name=request.product_name,
        version=request.version,
        bound=_holds_seat(row, now),
        now=now,
    )


def online_key_answer(
    rows: Sequence[OnlineKeyRow], request: LicenseValidate, now: datetime
) -> LicenseValidation:
    """The answer for an online key from its rows (one per feature; none: unknown key)."""
    if not rows:
        lookup_missed()
        return _answer(Reason.LICENSE_NOT_FOUND, now)
    lookup_found()
    first = rows[0]
    refusal = _refusal(first, request, now)
    return _answer(
        refusal or Reason.LICENSED,
        first.expires_at,
        first,
        features=[row.feature for row in rows if row.feature is not None],
        now=now,
    )


async def validate(
    database: Database,
    tenant_id: int,
    request: LicenseValidate,
    now: datetime | None = None,
    *,
    client_ip: str | None = None,
) -> LicenseValidation:
    """Answer a validation request of ``tenant_id``'s client (hardwareId already checked);
    ``client_ip`` is kept with a trial the request starts (analytics)."""
    moment = now or utc_now()
    hardware_id = normalize_hardware_id(request.hardware_id)
    key = (request.activation_key or "").strip()
    if key and not is_offline_code(key):
        rows = await fast_reader(database).online_key_rows(
            tenant_id, _matchable(normalize_activation_key(key)), _matchable(hardware_id)
        )
        return online_key_answer(rows, request, moment)
    if key:
        return await _validate_offline_code(database, tenant_id, request, key, hardware_id, moment)
    return await _validate_trial(database, tenant_id, request, hardware_id, moment, client_ip)


async def answer_validation(
    database: Database,
    authorization: str | None,
    check_access: Callable[[Principal], None],
    request: LicenseValidate,
    client_ip: str | None,
) -> tuple[Principal, LicenseValidation]:
    """The whole validate endpoint: :func:`validate_with_token`, then its webhook hook
    (``license.validation.failed``; answered from a per-process 5 s cache of the tenant's
    subscriptions, writes only when subscribed), then the day's count, its analytics and, for a
    licensed online key, the device's last-seen time (in memory, see :mod:`.validation_stats`
    and :mod:`..analytics.counting`)."""
    principal, answer = await validate_with_token(
        database, authorization, check_access, request, client_ip=client_ip
    )
    await webhooks.after_validation(database, principal.tenant_id, request, answer, client_ip)
    stats = validation_stats(database)
    stats.count(principal.tenant_id)
    validation_analytics(database).count(
        principal.tenant_id, request.product_name or answer.product_name, request.version, client_ip
    )
    key = request.activation_key
    if answer.status == "licensed" and key and not is_offline_code(key):
        stats.seen(
            principal.tenant_id,
            normalize_activation_key(key.strip()),
            normalize_hardware_id(request.hardware_id),
        )
    return principal, answer


async def validate_with_token(
    database: Database,
    authorization: str | None,
    check_access: Callable[[Principal], None],
    request: LicenseValidate,
    *,
    client_ip: str | None = None,
) -> tuple[Principal, LicenseValidation]:
    """Authenticate the token, ``check_access`` its principal (tenant, permission), validate.

    Refusals come in this order: 401 (token), 403 (tenant, permission), 400 (hardwareId). For an
    online key the token and the key are read in one statement.
    """
    key = (request.activation_key or "").strip()
    if not key or is_offline_code(key):
        principal = await authenticate(database, authorization)
        check_access(principal)
        check_hardware_id(request.hardware_id)
        return principal, await validate(
            database, principal.tenant_id, request, client_ip=client_ip
        )
    public_id, secret = parse_authorization(authorization)
    now = utc_now()

    def settles(token: TokenRow | None, rows: list[OnlineKeyRow]) -> bool:
        """A replica's read stands only when it licenses the device (read-your-writes)."""
        return (
            token is not None
            and not token.revoked
            and bool(rows)
            and _refusal(rows[0], request, now) is None
        )

    token, rows = await read_validation(
        database,
        public_id,
        _matchable(normalize_activation_key(key)),
        _matchable(normalize_hardware_id(request.hardware_id)),
        settles,
    )
    now = utc_now()
    principal = principal_of(token, secret, now)
    check_access(principal)
    check_hardware_id(request.hardware_id)
    return principal, online_key_answer(rows, request, now)


async def _validate_trial(
    database: Database,
    tenant_id: int,
    request: LicenseValidate,
    hardware_id: str,
    now: datetime,
    client_ip: str | None,
) -> LicenseValidation:
    """Trial mode (no key): :func:`.rules.trial_refusal`; a device's first visit starts it,
    keeping the client's version and address (analytics)."""
    product_name = (request.product_name or "").strip()
    if not product_name:
        return _answer(Reason.PRODUCT_NAME_REQUIRED, now)
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
    async with database.read() as connection:  # closed before a trial's write begins
        row = (await connection.execute(statement)).one_or_none()
    if row is None:
        return _answer(Reason.PRODUCT_NOT_FOUND, now)
    product = _TrialProduct(row.version, row.minimum_required_version)
    outdated = rules.version_outdated(
        row.enforce_version_check, row.minimum_required_version, request.version
    )
    expires_at: datetime | None = _as_utc(row.trial_expires)

    def refusal() -> Reason | None:
        return rules.trial_refusal(
            product_active=row.is_active,
            ever_activated=row.ever_activated,
            trial_days=row.trial_days,
            trial_expires_at=expires_at,
            outdated=outdated,
            now=now,
        )

    reason = refusal()
    if reason is None and expires_at is None:
        expires_at = await _start_trial(
            database,
            tenant_id,
            product_id=row.id,
            product_name=product_name,
            hardware_id=hardware_id,
            expires_at=now + timedelta(days=row.trial_days),
            now=now,
            client_version=(request.version or "").strip()[:50] or None,
            ip_address=client_ip,
        )
        reason = refusal()
    if reason is None:
        assert expires_at is not None
        remaining = math.ceil((expires_at - now) / timedelta(days=1))
        return _answer(Reason.TRIAL_ACTIVE, expires_at, product, remaining_days=remaining)
    remaining_days = 0 if reason is Reason.TRIAL_EXPIRED else None
    return _answer(reason, expires_at or now, product, remaining_days=remaining_days)


async def _start_trial(
    database: Database,
    tenant_id: int,
    *,
    product_id: int,
    product_name: str,
    hardware_id: str,
    expires_at: datetime,
    now: datetime,
    client_version: str | None,
    ip_address: str | None,
) -> datetime:
    """Start the device's trial unless a concurrent request did; return the stored expiry.

    The trial, its slot of the new-trial limits (429 when none is free: no trial) and its
    ``trial.started`` webhook are one transaction; a request that finds the trial made by
    another takes no slot.
    """
    insert = insert_for(database.dialect)
    async with database.write() as session:
        created = await session.scalar(
            insert(Trial)
            .values(
                product_id=product_id,
                hardware_id=hardware_id,
                expires_at=expires_at,
                client_version=client_version,
                ip_address=ip_address,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["product_id", "hardware_id"])
            .returning(Trial.expires_at)
        )
        if created is not None:
            await claim_trial_slot(session, database.dialect)
            await webhooks.trial_started(
                session,
                tenant_id,
                product_id=product_id,
                product_name=product_name,
                hardware_id=hardware_id,
                expires_at=expires_at,
            )
            return expires_at
        stored = await session.scalar(
            select(Trial.expires_at).where(
                Trial.product_id == product_id, Trial.hardware_id == hardware_id
            )
        )
    assert stored is not None
    return _as_utc(stored) or stored


async def _validate_offline_code(
    database: Database,
    tenant_id: int,
    request: LicenseValidate,
    code: str,
    hardware_id: str,
    now: datetime,
) -> LicenseValidation:
    """An offline code sent as the key (smart validation's sync): verified, never an error."""
    async with database.read() as connection:
        pems = (
            await connection.scalars(
                select(CryptoKey.public_key_pem).where(keys_of(tenant_id, KeyAlgorithm.RSA))
            )
        ).all()
    try:
        payload = verify_offline_code(code, load_public_keys(list(pems))).payload
        expires_at: datetime | None = parse_datetime(str(payload.get("expirationDate") or ""))
    except (ExisOneError, ValueError):
        lookup_missed()
        return _answer(Reason.OFFLINE_CODE_INVALID, now)
    lookup_found()
    product_name = str(payload.get("productName") or "") or None
    listed = payload.get("features")
    features = [str(feature) for feature in listed] if isinstance(listed, list) else []
    hardware_matches = normalize_hardware_id(str(payload.get("hardwareId") or "")) == hardware_id
    product_matches = not (request.product_name and product_name) or rules.product_named(
        request.product_name, product_name
    )
    activation_key = payload.get("activationKey")
    rows: Sequence[OnlineKeyRow] = ()
    if hardware_matches and product_matches and isinstance(activation_key, str) and activation_key:
        rows = await fast_reader(database).online_key_rows(
            tenant_id, _matchable(normalize_activation_key(activation_key)), _matchable(hardware_id)
        )
    license = rows[0] if rows else None
    if license is not None:  # the license's current state wins over the signed payload
        expires_at = license.expires_at
        features = [row.feature for row in rows if row.feature is not None]
    refusal = rules.offline_code_refusal(
        hardware_matches=hardware_matches,
        product_matches=product_matches,
        license=_facts(license) if license is not None else None,
        bound=license is not None and _holds_seat(license, now),
        expires_at=expires_at,
        version=request.version,
        now=now,
    )
    return _answer(
        refusal or Reason.LICENSED,
        expires_at,
        license,
        features=features,
        product_name=product_name,
        now=now,
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
