"""Read statements of the publisher API and the wire views they feed.

Every statement is scoped by the caller's tenant. One license listing row carries the license,
its product name, its active seat count and its latest bound device (correlated subqueries),
so a list of any length is one query.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import BadRequest
from ..kit.hardware import normalize_hardware_id
from ..kit.time import format_expiration
from ..licenses.rules import LicenseState, license_state, license_state_is, seat_limit
from ..models import Activation, License, LicenseHistory, LicenseStatus, Plan, Product
from ..security.lookups import lookup_found, lookup_missed
from .schemas import (
    ActivationRead,
    DeviceHistoryItem,
    DeviceHistoryPage,
    LicenseDetailRead,
    LicenseHistoryRead,
    LicensePage,
    LicenseRead,
)

__all__ = [
    "MAX_PAGE_SIZE",
    "LicenseFilters",
    "PageRequest",
    "activations_of",
    "device_history",
    "license_detail",
    "license_history",
    "license_read",
    "license_rows",
    "license_status",
    "list_licenses",
    "page_count",
]

#: Largest ``pageSize`` accepted by every paged endpoint.
MAX_PAGE_SIZE = 100

#: Values of the ``status`` filter and of ``LicenseRead.status``.
STATUSES = tuple(state.value for state in LicenseState)


@dataclass(frozen=True)
class PageRequest:
    """A 1-based page; 400 ``invalid_request`` for page < 1 or pageSize outside 1..100."""

    page: int
    page_size: int

    def __post_init__(self) -> None:
        if self.page < 1:
            raise BadRequest("invalid_request", "Invalid request: page must be 1 or more.")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise BadRequest(
                "invalid_request",
                f"Invalid request: pageSize must be between 1 and {MAX_PAGE_SIZE}.",
            )

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def page_count(total: int, page_size: int) -> int:
    return math.ceil(total / page_size) if total else 0


@dataclass(frozen=True)
class LicenseFilters:
    """The listing's query filters; blank values are ignored."""

    product_id: int | None = None
    product_name: str | None = None
    email: str | None = None
    status: str | None = None
    hardware_id: str | None = None
    q: str | None = None

    def conditions(self, now: datetime) -> list[ColumnElement[bool]]:
        """SQL conditions (text filters: case-insensitive substring; status: exact)."""
        found: list[ColumnElement[bool]] = []
        if self.product_id is not None:
            found.append(License.product_id == self.product_id)
        if self.product_name and self.product_name.strip():
            found.append(_contains(Product.name, self.product_name))
        if self.email and self.email.strip():
            found.append(_contains(License.email, self.email))
        if self.status and self.status.strip():
            found.append(_status_condition(self.status.strip().lower(), now))
        if self.hardware_id and self.hardware_id.strip():
            found.append(
                License.id.in_(
                    select(Activation.license_id).where(
                        Activation.hardware_id == normalize_hardware_id(self.hardware_id),
                        Activation.deactivated_at.is_(None),
                    )
                )
            )
        if self.q and self.q.strip():
            found.append(
                or_(
                    _contains(License.activation_key, self.q),
                    _contains(License.email, self.q),
                    _contains(License.note, self.q),
                    _contains(License.corporate_name, self.q),
                    _contains(Product.name, self.q),
                )
            )
        return found


def _contains(column: Any, text: str) -> ColumnElement[bool]:
    """Case-insensitive substring match with LIKE wildcards in ``text`` taken literally."""
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped}%", escape="\\")


def _status_condition(status: str, now: datetime) -> ColumnElement[bool]:
    try:
        state = LicenseState(status)
    except ValueError:
        raise BadRequest(
            "invalid_request", f"Invalid request: status must be one of {', '.join(STATUSES)}."
        ) from None
    return license_state_is(state, now)


def license_rows(tenant_id: int) -> Select[Any]:
    """Rows (License, product_name, seats, hardware_id, grace_days: its plan's) of the tenant,
    newest first."""
    active = and_(Activation.license_id == License.id, Activation.deactivated_at.is_(None))
    seats = select(func.count(Activation.id)).where(active).correlate(License).scalar_subquery()
    latest_device = (
        select(Activation.hardware_id)
        .where(active)
        .order_by(Activation.id.desc())
        .limit(1)
        .correlate(License)
        .scalar_subquery()
    )
    grace_days = (
        select(Plan.grace_days).where(Plan.id == License.plan_id).correlate(License)
    ).scalar_subquery()
    return (
        select(
            License,
            Product.name.label("product_name"),
            seats.label("seats"),
            latest_device.label("hardware_id"),
            func.coalesce(grace_days, 0).label("grace_days"),
        )
        .join(Product, Product.id == License.product_id)
        .where(License.tenant_id == tenant_id)
        .order_by(License.seq.desc(), License.id.desc())
    )


def license_status(license: License, now: datetime, grace_days: int = 0) -> str:
    """``revoked`` / ``suspended`` / ``expired`` / ``active`` (:func:`.rules.license_state`)."""
    return license_state(license.status, license.expires_at, now, grace_days).value


def _fields(
    license: License,
    product_name: str,
    seats: int,
    hardware_id: str | None,
    now: datetime,
    grace_days: int = 0,
) -> dict[str, Any]:
    return {
        "id": license.id,
        "activation_key": license.activation_key,
        "email": license.email,
        "created_at": format_expiration(license.created_at),
        "expiration_date": format_expiration(license.expires_at),
        "is_active": license.status is LicenseStatus.ACTIVE,
        "status": license_status(license, now, grace_days),
        "product_id": license.product_id,
        "product_name": product_name,
        "is_corporate": license.is_corporate,
        "current_seats": int(seats or 0),
        "is_offline": license.is_offline,
        "hardware_id": hardware_id,
        "activation_date": (
            format_expiration(license.activated_at) if license.activated_at else None
        ),
        "version": license.version,
        "note": license.note,
        "max_seats": seat_limit(license.is_corporate, license.max_seats)
        if license.is_corporate
        else None,
        "corporate_name": license.corporate_name,
        "offline_code": license.offline_code,
        "plan_id": license.plan_id,
        "updated_at": format_expiration(license.updated_at) if license.updated_at else None,
        "is_floating": license.is_floating,
    }


def license_read(row: Row[Any], now: datetime) -> LicenseRead:
    """The wire form of one :func:`license_rows` row."""
    return LicenseRead(
        **_fields(row.License, row.product_name, row.seats, row.hardware_id, now, row.grace_days)
    )


async def activations_of(session: AsyncSession, license_id: int) -> list[Activation]:
    """Every activation of the license, newest first."""
    result = await session.scalars(
        select(Activation).where(Activation.license_id == license_id).order_by(Activation.id.desc())
    )
    return list(result)


async def license_detail(
    session: AsyncSession, tenant_id: int, license_id: int, features: Sequence[str], now: datetime
) -> LicenseDetailRead:
    """One license with its features and activations (the license must exist)."""
    row = (await session.execute(license_rows(tenant_id).where(License.id == license_id))).one()
    activations = [
        ActivationRead(
            hardware_id=activation.hardware_id,
            email=activation.email,
            is_active=activation.deactivated_at is None,
            is_offline=activation.is_offline,
            activated_at=format_expiration(activation.created_at),
            ip_address=activation.ip_address,
            client_version=activation.client_version,
            deactivated_at=(
                format_expiration(activation.deactivated_at) if activation.deactivated_at else None
            ),
            last_seen_at=(
                format_expiration(activation.last_seen_at) if activation.last_seen_at else None
            ),
        )
        for activation in await activations_of(session, license_id)
    ]
    return LicenseDetailRead(
        **_fields(row.License, row.product_name, row.seats, row.hardware_id, now, row.grace_days),
        features=list(features),
        activations=activations,
    )


def _history_fields(entry: LicenseHistory) -> dict[str, Any]:
    return {
        "id": entry.id,
        "action": entry.action.value,
        "timestamp": format_expiration(entry.created_at),
        "hardware_id": entry.hardware_id,
        "ip_address": entry.ip_address,
        "note": entry.note,
        "actor": entry.actor,
    }


async def license_history(session: AsyncSession, license_id: int) -> list[LicenseHistoryRead]:
    """The license's events, newest first."""
    entries = await session.scalars(
        select(LicenseHistory)
        .where(LicenseHistory.license_id == license_id)
        .order_by(
            LicenseHistory.created_at.desc(), LicenseHistory.seq.desc(), LicenseHistory.id.desc()
        )
    )
    return [LicenseHistoryRead(**_history_fields(entry)) for entry in entries]


async def device_history(
    session: AsyncSession, tenant_id: int, hardware_id: str, page: PageRequest
) -> DeviceHistoryPage:
    """The tenant's license events about one device (case-insensitive ID), newest first."""
    where = (
        License.tenant_id == tenant_id,
        LicenseHistory.hardware_id == normalize_hardware_id(hardware_id),
    )
    total = int(
        await session.scalar(
            select(func.count(LicenseHistory.id))
            .join(License, License.id == LicenseHistory.license_id)
            .where(*where)
        )
        or 0
    )
    if total:
        lookup_found()
    else:
        lookup_missed()
    rows = (
        await session.execute(
            select(LicenseHistory, License.activation_key, License.product_id, Product.name)
            .join(License, License.id == LicenseHistory.license_id)
            .join(Product, Product.id == License.product_id)
            .where(*where)
            .order_by(
                LicenseHistory.created_at.desc(),
                LicenseHistory.seq.desc(),
                LicenseHistory.id.desc(),
            )
            .offset(page.offset)
            .limit(page.page_size)
        )
    ).all()
    items = [
        DeviceHistoryItem(
            **_history_fields(row.LicenseHistory),
            activation_key=row.activation_key,
            product_id=row.product_id,
            product_name=row.name,
        )
        for row in rows
    ]
    return DeviceHistoryPage(
        items=items,
        page=page.page,
        page_size=page.page_size,
        total_count=total,
        total_pages=page_count(total, page.page_size),
    )


async def list_licenses(
    session: AsyncSession,
    tenant_id: int,
    filters: LicenseFilters,
    page: PageRequest | None,
    now: datetime,
) -> list[LicenseRead] | LicensePage:
    """Filtered licenses, newest first: all of them, or one page when ``page`` is given."""
    conditions = filters.conditions(now)
    statement = license_rows(tenant_id).where(*conditions)
    if page is None:
        return [license_read(row, now) for row in await session.execute(statement)]
    total = int(
        await session.scalar(
            select(func.count(License.id))
            .join(Product, Product.id == License.product_id)
            .where(License.tenant_id == tenant_id, *conditions)
        )
        or 0
    )
    rows = await session.execute(statement.offset(page.offset).limit(page.page_size))
    return LicensePage(
        items=[license_read(row, now) for row in rows],
        page=page.page,
        page_size=page.page_size,
        total_count=total,
        total_pages=page_count(total, page.page_size),
    )
