"""Product rules: names unique per tenant, bounded numbers, a default plan of the same tenant.

Every function takes the caller's tenant and never touches another tenant's rows: a product of
another tenant is answered exactly like a missing one (404 ``product_not_found``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit import record_audit
from ..errors import BadRequest, Conflict, NotFound
from ..models import License, Plan, Product
from ..publisher.checks import MAX_API_CALLS, MAX_DAYS, bounded_int, optional_text, required_text
from .schemas import ProductCreate, ProductUpdate

__all__ = ["create_product", "delete_product", "get_product", "list_products", "update_product"]

_MAX_PRICE = 10**10
_MAX_COOLDOWN_HOURS = 24 * 365
_MAX_RELEASES = 10_000


async def list_products(session: AsyncSession, tenant_id: int) -> list[Product]:
    """The tenant's products, by id."""
    result = await session.scalars(
        select(Product).where(Product.tenant_id == tenant_id).order_by(Product.seq, Product.id)
    )
    return list(result)


async def get_product(session: AsyncSession, tenant_id: int, product_id: int) -> Product:
    """The tenant's product ``product_id``, or 404 ``product_not_found``."""
    product = await session.scalar(
        select(Product).where(Product.tenant_id == tenant_id, Product.id == product_id)
    )
    if product is None:
        raise NotFound("product_not_found", f"No product with id {product_id}.")
    return product


async def create_product(session: AsyncSession, tenant_id: int, data: ProductCreate) -> Product:
    """A new product; 409 ``product_exists`` when the tenant has one with that name."""
    product = Product(tenant_id=tenant_id, name="")
    await _apply(session, product, data)
    session.add(product)
    await _flush(session, product.name)
    await record_audit(
        session,
        tenant_id,
        "product.create",
        target_type="product",
        target=product.id,
        details={"name": product.name},
    )
    return product


async def update_product(
    session: AsyncSession, tenant_id: int, product_id: int, data: ProductUpdate
) -> Product:
    """Change the fields present in ``data``; the others keep their value."""
    product = await get_product(session, tenant_id, product_id)
    await _apply(session, product, data)
    await _flush(session, product.name)
    await record_audit(
        session,
        tenant_id,
        "product.update",
        target_type="product",
        target=product.id,
        details={
            "fields": sorted(
                k for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET
            )
        },
    )
    return product


async def delete_product(session: AsyncSession, tenant_id: int, product_id: int) -> None:
    """Delete a product that has no licenses; 409 ``product_has_licenses`` otherwise.

    Deleting would cascade to every license of the product, so a product that has any is
    refused: deactivate it instead (``isActive: false``), which makes activation and validation
    of its licenses fail while keeping their records.
    """
    product = await get_product(session, tenant_id, product_id)
    if await session.scalar(select(exists().where(License.product_id == product.id))):
        raise Conflict(
            "product_has_licenses",
            "This product has licenses; deactivate it (isActive: false) instead of deleting it.",
        )
    await session.execute(delete(Product).where(Product.id == product.id))
    await record_audit(
        session,
        tenant_id,
        "product.delete",
        target_type="product",
        target=product_id,
        details={"name": product.name},
    )


async def _apply(
    session: AsyncSession, product: Product, data: ProductCreate | ProductUpdate
) -> None:
    """Check and copy the given fields onto ``product``."""
    given: dict[str, Any] = {
        name: value
        for name, value in msgspec.structs.asdict(data).items()
        if value is not msgspec.UNSET
    }
    if "name" in given:
        name = required_text("name", given["name"], 200)
        if name != product.name and await _name_taken(session, product.tenant_id, name):
            raise _exists(name)
        product.name = name
    if "version" in given:
        product.version = optional_text("version", given["version"], 50)
    if "description" in given:
        product.description = (optional_text("description", given["description"], 10_000)) or ""
    if "minimum_required_version" in given:
        product.minimum_required_version = optional_text(
            "minimumRequiredVersion", given["minimum_required_version"], 50
        )
    if "price" in given:
        price = given["price"]
        if not 0 <= price <= _MAX_PRICE:  # also refuses NaN and infinity
            raise BadRequest(
                "invalid_request", f"Invalid request: price must be between 0 and {_MAX_PRICE}."
            )
        product.price = Decimal(str(price)).quantize(Decimal("0.01"))
    for field, wire, high in (
        ("trial_days", "trialDays", MAX_DAYS),
        ("default_license_days", "defaultLicenseDays", MAX_DAYS),
    ):
        if field in given:
            setattr(product, field, bounded_int(wire, given[field], 0, high))
    for field, wire, high in (
        ("renewal_reminder_days", "renewalReminderDays", MAX_DAYS),
        ("trial_ending_days", "trialEndingDays", MAX_DAYS),
        ("deactivation_cooldown_hours", "deactivationCooldownHours", _MAX_COOLDOWN_HOURS),
    ):
        if field in given:
            value = given[field]
            setattr(product, field, None if value is None else bounded_int(wire, value, 0, high))
    if "max_releases_per_30_days" in given:
        most = given["max_releases_per_30_days"]
        product.max_releases_per_30_days = (
            None if most is None else bounded_int("maxReleasesPer30Days", most, 1, _MAX_RELEASES)
        )
    if "default_api_calls" in given:
        product.default_api_calls = bounded_int(
            "defaultApiCalls", given["default_api_calls"], 0, MAX_API_CALLS
        )
    if "api_rate_limit_per_minute" in given:
        rate = given["api_rate_limit_per_minute"]
        product.api_rate_limit_per_minute = (
            None if rate is None else bounded_int("apiRateLimitPerMinute", rate, 1, MAX_API_CALLS)
        )
    for field in (
        "is_active",
        "enforce_version_check",
        "send_purchase_email",
        "send_renewal_reminders",
        "send_trial_ending",
        "customer_may_release",
        "customer_may_release_offline",
        "is_api_product",
        "use_quantity_as_api_calls",
    ):
        if field in given:
            setattr(product, field, given[field])
    if "default_plan_id" in given:
        product.default_plan_id = await _check_default_plan(
            session, product, given["default_plan_id"]
        )


async def _check_default_plan(
    session: AsyncSession, product: Product, plan_id: int | None
) -> int | None:
    if plan_id is None:
        return None
    plan = await session.scalar(
        select(Plan).where(Plan.tenant_id == product.tenant_id, Plan.id == plan_id)
    )
    if plan is None:
        raise NotFound("plan_not_found", f"No plan with id {plan_id}.")
    if plan.product_id is not None and plan.product_id != product.id:
        raise Conflict("plan_product_mismatch", "This plan belongs to another product.")
    return plan.id


async def _name_taken(session: AsyncSession, tenant_id: int, name: str) -> bool:
    found = await session.scalar(
        select(Product.id).where(Product.tenant_id == tenant_id, Product.name == name)
    )
    return found is not None


def _exists(name: str) -> Conflict:
    return Conflict("product_exists", f"A product named {name!r} already exists.")


async def _flush(session: AsyncSession, name: str) -> None:
    """Flush; a concurrent insert of the same name becomes 409 instead of a crash."""
    try:
        await session.flush()
    except IntegrityError:
        raise _exists(name) from None
