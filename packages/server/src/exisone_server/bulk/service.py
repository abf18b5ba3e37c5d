"""Bulk answers: validation reuses the client endpoint's :func:`licenses.validate.validate`;
the look-ups reuse the publisher's license view (:mod:`publisher.queries`). Each request holds
at most :data:`MAX_ITEMS` entries (400 ``too_many_items`` beyond).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import Database
from ..errors import ApiError, BadRequest
from ..kit.activation_keys import normalize_activation_key
from ..kit.hardware import normalize_hardware_id
from ..kit.time import format_expiration, utc_now
from ..licenses.schemas import LicenseValidate
from ..licenses.service import check_hardware_id
from ..licenses.validate import validate
from ..models import Activation, License
from ..publisher.queries import license_read, license_rows
from ..publisher.schemas import LicenseRead
from ..security.lookups import lookup_found, lookup_missed
from .schemas import (
    BulkInfoItem,
    BulkValidateItem,
    BulkValidateResult,
    EmailLicenses,
    HardwareLicenses,
)

__all__ = [
    "MAX_ITEMS",
    "check_count",
    "info",
    "licenses_by_email",
    "licenses_by_hardware",
    "validate_many",
]

#: The most entries one bulk request may hold.
MAX_ITEMS = 100


def check_count(name: str, items: Sequence[object]) -> None:
    """400 ``too_many_items`` when ``items`` holds more than :data:`MAX_ITEMS` entries."""
    if len(items) > MAX_ITEMS:
        raise BadRequest(
            "too_many_items",
            f"{name} holds {len(items)} entries; at most {MAX_ITEMS} are allowed per request.",
        )


def _count_lookups(found: Sequence[bool]) -> None:
    """Report each entry's lookup (found or not) to the failed-lookup limits."""
    hits = sum(found)
    if hits:
        lookup_found(hits)
    if len(found) > hits:
        lookup_missed(len(found) - hits)


async def validate_many(
    database: Database, tenant_id: int, items: Sequence[BulkValidateItem]
) -> list[BulkValidateResult]:
    """Validate each entry like POST /api/license/validate; a bad entry fails alone."""
    check_count("licenses", items)
    results = []
    for item in items:
        key = (item.activation_key or "").strip()
        try:
            check_hardware_id(item.hardware_id)
            answer = await validate(
                database,
                tenant_id,
                LicenseValidate(
                    hardware_id=item.hardware_id,
                    activation_key=key or None,
                    product_name=item.product_name,
                ),
            )
        except ApiError as exc:
            results.append(
                BulkValidateResult(
                    activation_key=key,
                    hardware_id=item.hardware_id,
                    is_valid=False,
                    status="invalid",
                    error=exc.message,
                    expiration_date=format_expiration(utc_now()),
                    features=[],
                )
            )
            continue
        results.append(
            BulkValidateResult(
                activation_key=key,
                hardware_id=item.hardware_id,
                is_valid=answer.is_valid,
                status=answer.status,
                error=None if answer.is_valid else answer.reason,
                expiration_date=answer.expiration_date,
                features=answer.features,
            )
        )
    return results


async def info(
    session: AsyncSession, tenant_id: int, keys: Sequence[str], now: datetime
) -> list[BulkInfoItem]:
    """One entry per requested key, in request order (``found: false`` for unknown keys)."""
    check_count("activationKeys", keys)
    wanted = {normalize_activation_key(key) for key in keys}
    rows = await session.execute(license_rows(tenant_id).where(License.activation_key.in_(wanted)))
    found = {row.License.activation_key: license_read(row, now) for row in rows}
    _count_lookups([normalize_activation_key(key) in found for key in keys])
    answer = []
    for key in keys:
        view = found.get(normalize_activation_key(key))
        if view is None:
            answer.append(BulkInfoItem(activation_key=key.strip(), found=False))
        else:
            answer.append(BulkInfoItem(**msgspec.structs.asdict(view), found=True))
    return answer


async def licenses_by_email(
    session: AsyncSession, tenant_id: int, emails: Sequence[str], now: datetime
) -> list[EmailLicenses]:
    """The licenses of each e-mail address (compared case-insensitively), in request order."""
    check_count("emails", emails)
    wanted = {email.strip().lower() for email in emails}
    rows = await session.execute(
        license_rows(tenant_id).where(func.lower(License.email).in_(wanted))
    )
    by_email: dict[str, list[LicenseRead]] = {}
    for row in rows:
        by_email.setdefault(row.License.email.lower(), []).append(license_read(row, now))
    _count_lookups([email.strip().lower() in by_email for email in emails])
    return [
        EmailLicenses(email=email.strip(), licenses=by_email.get(email.strip().lower(), []))
        for email in emails
    ]


async def licenses_by_hardware(
    session: AsyncSession, tenant_id: int, hardware_ids: Sequence[str], now: datetime
) -> list[HardwareLicenses]:
    """The licenses on which each device holds a seat now (IDs case-insensitive)."""
    check_count("hardwareIds", hardware_ids)
    wanted = {normalize_hardware_id(hardware_id) for hardware_id in hardware_ids}
    statement = (
        license_rows(tenant_id)
        .add_columns(Activation.hardware_id.label("device"))
        .join(Activation, Activation.license_id == License.id)
        .where(Activation.deactivated_at.is_(None), Activation.hardware_id.in_(wanted))
    )
    by_device: dict[str, list[LicenseRead]] = {}
    for row in await session.execute(statement):
        by_device.setdefault(row.device, []).append(license_read(row, now))
    _count_lookups(
        [normalize_hardware_id(hardware_id) in by_device for hardware_id in hardware_ids]
    )
    return [
        HardwareLicenses(
            hardware_id=hardware_id.strip(),
            licenses=by_device.get(normalize_hardware_id(hardware_id), []),
        )
        for hardware_id in hardware_ids
    ]
