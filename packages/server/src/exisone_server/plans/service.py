"""Plan rules: names unique per tenant, features from the tenant's catalogue, seat counts.

A plan of another tenant is answered like a missing one (404 ``plan_not_found``).
"""

from __future__ import annotations

from collections.abc import Sequence

from msgspec import UNSET
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from ..audit import record_audit
from ..errors import BadRequest, Conflict, NotFound
from ..models import Feature, Plan, Product
from ..publisher.checks import MAX_API_CALLS, MAX_DAYS, bounded_int, required_text
from .schemas import PlanUpsert

__all__ = [
    "MAX_SEATS",
    "delete_plan",
    "ensure_features",
    "find_plan",
    "get_plan",
    "list_plans",
    "upsert_plan",
]

#: Largest seat count a corporate plan may have (beyond it, use unlimited).
MAX_SEATS = 1_000_000
#: Longest lease TTL a plan may allow (a day; longer absences are what borrowing is for).
MAX_LEASE_TTL_SECONDS = 86_400
#: Longest borrow a plan may allow (a year).
MAX_BORROW_HOURS = 8_760
#: Longest grace and check-in periods (ten years).
MAX_PERIOD_DAYS = 3_650


def _set_floating(plan: Plan, data: PlanUpsert) -> None:
    """The plan's floating-seat, grace and check-in settings from ``data`` (bounded; the TTL
    bounds must hold min ≤ default ≤ max, else 400 ``invalid_request``)."""
    if data.is_floating is not UNSET:
        plan.is_floating = data.is_floating
    for field, wire in (
        ("lease_ttl_min_seconds", "leaseTtlMinSeconds"),
        ("lease_ttl_max_seconds", "leaseTtlMaxSeconds"),
        ("lease_ttl_default_seconds", "leaseTtlDefaultSeconds"),
    ):
        value = getattr(data, field)
        if value is not UNSET:
            setattr(plan, field, bounded_int(wire, value, 1, MAX_LEASE_TTL_SECONDS))
    low = plan.lease_ttl_min_seconds if plan.lease_ttl_min_seconds is not None else 60
    high = plan.lease_ttl_max_seconds if plan.lease_ttl_max_seconds is not None else 3600
    usual = plan.lease_ttl_default_seconds if plan.lease_ttl_default_seconds is not None else 600
    if not low <= usual <= high:
        raise BadRequest(
            "invalid_request",
            "Invalid request: leaseTtlMinSeconds ≤ leaseTtlDefaultSeconds ≤ "
            f"leaseTtlMaxSeconds must hold (now {low}, {usual}, {high}).",
        )
    if data.max_borrow_hours is not UNSET:
        plan.max_borrow_hours = bounded_int(
            "maxBorrowHours", data.max_borrow_hours, 0, MAX_BORROW_HOURS
        )
    if data.grace_days is not UNSET:
        plan.grace_days = bounded_int("graceDays", data.grace_days, 0, MAX_PERIOD_DAYS)
    if data.check_in_days is not UNSET:
        days = data.check_in_days
        plan.check_in_days = (
            None if days is None else bounded_int("checkInDays", days, 1, MAX_PERIOD_DAYS)
        )


async def list_plans(
    session: AsyncSession, tenant_id: int, product_id: int | None = None
) -> list[Plan]:
    """The tenant's plans by id (with features); ``product_id`` keeps those usable for it."""
    statement = (
        select(Plan)
        .options(selectinload(Plan.features))
        .where(Plan.tenant_id == tenant_id)
        .order_by(Plan.seq, Plan.id)
    )
    if product_id is not None:
        statement = statement.where((Plan.product_id == product_id) | Plan.product_id.is_(None))
    return list(await session.scalars(statement))


async def find_plan(session: AsyncSession, tenant_id: int, plan_id: int) -> Plan | None:
    """The tenant's plan ``plan_id`` with its features loaded."""
    return await session.scalar(
        select(Plan)
        .options(selectinload(Plan.features))
        .where(Plan.tenant_id == tenant_id, Plan.id == plan_id)
    )


async def get_plan(session: AsyncSession, tenant_id: int, plan_id: int) -> Plan:
    """Like :func:`find_plan`, but 404 ``plan_not_found``."""
    plan = await find_plan(session, tenant_id, plan_id)
    if plan is None:
        raise NotFound("plan_not_found", f"No plan with id {plan_id}.")
    return plan


async def upsert_plan(session: AsyncSession, tenant_id: int, data: PlanUpsert) -> tuple[Plan, bool]:
    """Create (``id`` null) or update plan ``id``: ``(plan, created)``."""
    created = data.id is None
    if data.id is None:
        plan = Plan(tenant_id=tenant_id, name="", features=[])
    else:
        plan = await get_plan(session, tenant_id, data.id)
    name = required_text("name", data.name, 200)
    if name != plan.name:
        taken = await session.scalar(
            select(Plan.id).where(Plan.tenant_id == tenant_id, Plan.name == name)
        )
        if taken is not None:
            raise _exists(name)
        plan.name = name
    if data.duration_days is not UNSET:
        plan.duration_days = bounded_int("durationDays", data.duration_days, 0, MAX_DAYS)
    if data.is_active is not UNSET:
        plan.is_active = data.is_active
    if data.is_corporate is not UNSET:
        plan.is_corporate = data.is_corporate
    if data.max_seats is not UNSET:
        seats = data.max_seats
        plan.max_seats = None if seats is None else bounded_int("maxSeats", seats, 0, MAX_SEATS)
    if data.product_id is not UNSET:
        plan.product_id = await _check_product(session, tenant_id, data.product_id)
    if data.features is not UNSET:
        plan.features = await ensure_features(session, tenant_id, data.features)
    if data.api_calls is not UNSET:
        calls = data.api_calls
        plan.api_calls = None if calls is None else bounded_int("apiCalls", calls, 0, MAX_API_CALLS)
    if data.api_rate_limit_per_minute is not UNSET:
        rate = data.api_rate_limit_per_minute
        plan.api_rate_limit_per_minute = (
            None if rate is None else bounded_int("apiRateLimitPerMinute", rate, 1, MAX_API_CALLS)
        )
    _set_floating(plan, data)
    if created:
        session.add(plan)
    try:
        await session.flush()
    except IntegrityError:
        raise _exists(name) from None
    action = "plan.create" if created else "plan.update"
    await record_audit(
        session, tenant_id, action, target_type="plan", target=plan.id, details={"name": plan.name}
    )
    return plan, created


async def delete_plan(session: AsyncSession, tenant_id: int, plan_id: int) -> None:
    """Delete a plan; licenses made from it keep their expiry and features."""
    plan = await get_plan(session, tenant_id, plan_id)
    await session.execute(delete(Plan).where(Plan.id == plan.id))
    await record_audit(
        session,
        tenant_id,
        "plan.delete",
        target_type="plan",
        target=plan_id,
        details={"name": plan.name},
    )


async def ensure_features(
    session: AsyncSession, tenant_id: int, names: Sequence[str]
) -> list[Feature]:
    """The tenant's features with these names (created when new), sorted, without repeats."""
    wanted = sorted({required_text("features[]", name, 100) for name in names})
    if not wanted:
        return []
    existing = {
        feature.name: feature
        for feature in await session.scalars(
            select(Feature).where(Feature.tenant_id == tenant_id, Feature.name.in_(wanted))
        )
    }
    features = []
    for name in wanted:
        feature = existing.get(name)
        if feature is None:
            feature = Feature(tenant_id=tenant_id, name=name)
            session.add(feature)
        features.append(feature)
    await session.flush()
    return features


async def _check_product(
    session: AsyncSession, tenant_id: int, product_id: int | None
) -> int | None:
    if product_id is None:
        return None
    found = await session.scalar(
        select(Product.id).where(Product.tenant_id == tenant_id, Product.id == product_id)
    )
    if found is None:
        raise NotFound("product_not_found", f"No product with id {product_id}.")
    return product_id


def _exists(name: str) -> Conflict:
    return Conflict("plan_exists", f"A plan named {name!r} already exists.")
