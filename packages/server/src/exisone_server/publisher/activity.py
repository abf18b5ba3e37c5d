"""What the publisher watches: devices and trials, and the numbers of the dashboard's home page.

Read statements are scoped by the caller's tenant. Daily series come from the license history
(``activated`` and ``offline_code_issued`` events) and from the trials table; validations are
answered without writing anything, so there is no per-day count of them (see docs/dashboard.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import BadRequest, NotFound
from ..licenses.rules import LicenseState, license_state_is
from ..models import (
    Activation,
    HistoryAction,
    License,
    LicenseHistory,
    Product,
    SupportTicket,
    Trial,
    ValidationCount,
)
from .checks import parse_date
from .service import LATEST_EXPIRATION

__all__ = [
    "DailyCount",
    "HomeNumbers",
    "home_numbers",
    "list_devices",
    "list_trials",
    "set_trial_expiration",
]


@dataclass(frozen=True)
class DailyCount:
    day: date
    activations: int
    trials: int
    validations: int = 0


@dataclass(frozen=True)
class HomeNumbers:
    active_licenses: int
    active_devices: int
    expiring_soon: int
    open_tickets: int
    #: One entry per day, oldest first, ending today.
    days: list[DailyCount]


async def list_devices(
    session: AsyncSession, tenant_id: int, *, active_only: bool = True, limit: int = 200
) -> list[Any]:
    """Rows (Activation, activation_key, product_name), newest first."""
    statement = (
        select(Activation, License.activation_key, Product.name)
        .join(License, License.id == Activation.license_id)
        .join(Product, Product.id == License.product_id)
        .where(License.tenant_id == tenant_id)
    )
    if active_only:
        statement = statement.where(Activation.deactivated_at.is_(None))
    rows = await session.execute(statement.order_by(Activation.id.desc()).limit(limit))
    return list(rows.all())


async def list_trials(
    session: AsyncSession, tenant_id: int, product_id: int | None = None, *, limit: int = 200
) -> list[Any]:
    """Rows (Trial, product_name) of the tenant's products, newest first."""
    statement = (
        select(Trial, Product.name)
        .join(Product, Product.id == Trial.product_id)
        .where(Product.tenant_id == tenant_id)
    )
    if product_id is not None:
        statement = statement.where(Product.id == product_id)
    rows = await session.execute(statement.order_by(Trial.seq.desc(), Trial.id.desc()).limit(limit))
    return list(rows.all())


async def set_trial_expiration(
    session: AsyncSession, tenant_id: int, trial_id: int, expiration: str
) -> Trial:
    """Give a device's trial a new end (``YYYY-MM-DD`` or ISO 8601); 404 ``trial_not_found``."""
    trial = await session.scalar(
        select(Trial)
        .join(Product, Product.id == Trial.product_id)
        .where(Product.tenant_id == tenant_id, Trial.id == trial_id)
    )
    if trial is None:
        raise NotFound("trial_not_found", f"No trial with id {trial_id}.")
    expires_at = parse_date("expirationDate", expiration)
    if expires_at > LATEST_EXPIRATION:
        raise BadRequest("invalid_request", "Invalid request: that expiration is too late.")
    trial.expires_at = expires_at
    await session.flush()
    return trial


async def home_numbers(
    session: AsyncSession,
    tenant_id: int,
    now: datetime,
    *,
    days: int = 30,
    expiring_within: timedelta = timedelta(days=30),
) -> HomeNumbers:
    """The home page's counts and the last ``days`` days of activations, new trials and
    validations (as written so far: see :mod:`..licenses.validation_stats`)."""
    active = and_(License.tenant_id == tenant_id, license_state_is(LicenseState.ACTIVE, now))
    active_licenses = await session.scalar(select(func.count(License.id)).where(active))
    expiring = await session.scalar(
        select(func.count(License.id)).where(
            active, License.expires_at.is_not(None), License.expires_at <= now + expiring_within
        )
    )
    devices = await session.scalar(
        select(func.count(Activation.id))
        .join(License, License.id == Activation.license_id)
        .where(License.tenant_id == tenant_id, Activation.deactivated_at.is_(None))
    )
    tickets = await session.scalar(
        select(func.count(SupportTicket.id)).where(
            SupportTicket.tenant_id == tenant_id, SupportTicket.is_closed.is_(False)
        )
    )
    first_day = now.date() - timedelta(days=days - 1)
    since = datetime.combine(first_day, datetime.min.time(), tzinfo=now.tzinfo)
    activations: dict[date, int] = {}
    for (moment,) in await session.execute(
        select(LicenseHistory.created_at)
        .join(License, License.id == LicenseHistory.license_id)
        .where(
            License.tenant_id == tenant_id,
            LicenseHistory.action.in_([HistoryAction.ACTIVATED, HistoryAction.OFFLINE_CODE_ISSUED]),
            LicenseHistory.created_at >= since,
        )
    ):
        activations[moment.date()] = activations.get(moment.date(), 0) + 1
    trials: dict[date, int] = {}
    for (moment,) in await session.execute(
        select(Trial.created_at)
        .join(Product, Product.id == Trial.product_id)
        .where(Product.tenant_id == tenant_id, Trial.created_at >= since)
    ):
        trials[moment.date()] = trials.get(moment.date(), 0) + 1
    validations = {
        day: int(count)
        for day, count in await session.execute(
            select(ValidationCount.day, ValidationCount.count).where(
                ValidationCount.tenant_id == tenant_id, ValidationCount.day >= first_day
            )
        )
    }
    series = [
        DailyCount(day, activations.get(day, 0), trials.get(day, 0), validations.get(day, 0))
        for day in (first_day + timedelta(days=n) for n in range(days))
    ]
    return HomeNumbers(
        active_licenses=int(active_licenses or 0),
        active_devices=int(devices or 0),
        expiring_soon=int(expiring or 0),
        open_tickets=int(tickets or 0),
        days=series,
    )
