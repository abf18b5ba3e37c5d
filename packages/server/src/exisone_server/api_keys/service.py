"""A key's quota for readers and publishers: its usage, top-ups, and what a purchase grants.

Spending calls is :mod:`.consume`'s alone. A key gets its quota row on first use; top-ups and
purchases make it first when needed, with the key's grant (its plan's calls, else its
product's), then add to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from msgspec import UNSET, UnsetType
from sqlalchemy import BigInteger, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit import record_audit
from ..errors import BadRequest, Conflict
from ..kit.time import format_expiration, utc_now
from ..licenses import rules
from ..licenses.history import record_history
from ..licenses.rules import Reason
from ..licenses.service import found_license
from ..models import ApiQuota, ApiUsageDay, HistoryAction, License, Plan, Product
from ..publisher.checks import MAX_API_CALLS
from .consume import (
    KEY_COLUMNS,
    Grant,
    KeyQuota,
    create_quota_rows,
    key_quota_of,
    lookup_key,
    read_key_quota,
)
from .schemas import ApiUsageDayRead, QuotaRead

__all__ = [
    "MAX_CALLS",
    "ApiKeyLine",
    "PurchaseGrant",
    "add_calls",
    "find_key_quota",
    "key_usage",
    "list_api_keys",
    "purchase_grant",
    "window_end",
]

#: The most calls a key can be granted in all (top-ups included).
MAX_CALLS = MAX_API_CALLS
#: The most days of usage one answer lists.
MAX_USAGE_DAYS = 366


@dataclass(frozen=True)
class PurchaseGrant:
    """What a purchase of ``quantity`` of a product gives: ``keys`` keys, each with
    ``calls_per_key`` calls (None: the key's plan or product grant)."""

    keys: int
    calls_per_key: int | None


def purchase_grant(product: Product, quantity: int) -> PurchaseGrant:
    """ "Use quantity as API calls": an API product with the setting gives ONE key with
    ``quantity`` calls; any other purchase gives ``quantity`` keys."""
    if quantity < 1:
        raise BadRequest("invalid_request", "Invalid request: quantity must be 1 or more.")
    if product.is_api_product and product.use_quantity_as_api_calls:
        if quantity > MAX_CALLS:
            raise BadRequest("invalid_request", f"Invalid request: at most {MAX_CALLS} calls.")
        return PurchaseGrant(keys=1, calls_per_key=quantity)
    return PurchaseGrant(keys=quantity, calls_per_key=None)


@dataclass(frozen=True)
class ApiKeyLine:
    """One API key in the publisher's list: its quota and its calls of the last days."""

    activation_key: str
    email: str
    product_name: str
    status: str
    limit: int
    used: int
    rate_limit_per_minute: int | None
    recent_calls: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def used_percent(self) -> float:
        return 100.0 * self.used / self.limit if self.limit else 0.0


async def list_api_keys(
    session: AsyncSession,
    tenant_id: int,
    *,
    now: datetime,
    recent_days: int = 30,
    limit: int = 500,
) -> list[ApiKeyLine]:
    """The tenant's keys of API products, the most used first (a key not used yet shows its
    grant), with their calls of the last ``recent_days`` days."""
    first = now.astimezone(timezone.utc).date() - timedelta(days=recent_days - 1)
    recent = (
        select(func.coalesce(func.sum(ApiUsageDay.calls), 0))
        .where(ApiUsageDay.license_id == License.id, ApiUsageDay.day >= first)
        .scalar_subquery()
        .label("recent")
    )
    rows = await session.execute(
        select(
            *KEY_COLUMNS,
            License.email,
            Product.name.label("product_name"),
            rules.license_state_sql(now).label("state"),
            recent,
        )
        .join(Product, Product.id == License.product_id)
        .outerjoin(Plan, Plan.id == License.plan_id)
        .outerjoin(ApiQuota, ApiQuota.license_id == License.id)
        .where(License.tenant_id == tenant_id, Product.is_api_product.is_(True))
        .order_by(func.coalesce(ApiQuota.calls_used, 0).desc(), License.id.desc())
        .limit(limit)
    )
    lines = []
    for row in rows:
        facts = key_quota_of(row).facts
        lines.append(
            ApiKeyLine(
                activation_key=row.activation_key,
                email=row.email,
                product_name=row.product_name,
                status=row.state,
                limit=facts.calls_limit,
                used=facts.calls_used,
                rate_limit_per_minute=facts.rate_limit_per_minute,
                recent_calls=int(row.recent or 0),
            )
        )
    return lines


def window_end(minute: int) -> datetime:
    """When the per-minute window ``minute`` ends (the next one starts)."""
    return datetime.fromtimestamp((minute + 1) * 60, tz=timezone.utc)


async def find_key_quota(session: AsyncSession, tenant_id: int, activation_key: str) -> KeyQuota:
    """The tenant's key with its quota, or 404 ``license_not_found`` (a failed lookup)."""
    key = lookup_key(activation_key)
    return found_license(await read_key_quota(session, tenant_id, key) if key else None)


async def key_usage(
    session: AsyncSession,
    tenant_id: int,
    activation_key: str,
    *,
    days: int = 30,
    now: datetime | None = None,
) -> QuotaRead:
    """The key's quota, its calls this minute and its calls per day for the last ``days``."""
    moment = now or utc_now()
    if not 1 <= days <= MAX_USAGE_DAYS:
        raise BadRequest(
            "invalid_request", f"Invalid request: days must be between 1 and {MAX_USAGE_DAYS}."
        )
    quota = await find_key_quota(session, tenant_id, activation_key)
    facts, minute = quota.facts, rules.utc_minute(moment)
    last = moment.astimezone(timezone.utc).date()
    first = last - timedelta(days=days - 1)
    rows = await session.execute(
        select(ApiUsageDay.day, ApiUsageDay.calls).where(
            ApiUsageDay.license_id == quota.license_id, ApiUsageDay.day >= first
        )
    )
    calls: dict[date, int] = {day: int(count) for day, count in rows}
    rate = facts.rate_limit_per_minute
    return QuotaRead(
        activation_key=lookup_key(activation_key) or "",
        is_api_license=facts.is_api_product,
        limit=facts.calls_limit,
        used=facts.calls_used,
        remaining=max(0, facts.calls_limit - facts.calls_used),
        calls_this_minute=rules.calls_in_window(facts.window_minute, facts.window_calls, minute),
        reset_at=format_expiration(window_end(minute)) if rate is not None else None,
        usage=[
            ApiUsageDayRead(date=day.isoformat(), calls=calls.get(day, 0))
            for day in (first + timedelta(days=n) for n in range(days))
        ],
        rate_limit_per_minute=rate,
    )


async def add_calls(
    session: AsyncSession,
    tenant_id: int,
    activation_key: str,
    calls: int,
    *,
    rate_limit_per_minute: int | UnsetType | None = UNSET,
    set_calls: bool = False,
    access_token_id: int | None = None,
    now: datetime | None = None,
) -> KeyQuota:
    """Add ``calls`` to an API key (a top-up, a renewal, a purchase) and optionally set its
    per-minute limit (None removes it). ``set_calls``: the key's grant becomes ``calls``
    instead (a key just sold with "use quantity as API calls").

    400 for amounts out of range, 404 ``license_not_found``, 409 ``not_api_license``.
    """
    moment = now or utc_now()
    if not 0 <= calls <= MAX_CALLS:
        raise BadRequest(
            "invalid_request", f"Invalid request: calls must be between 0 and {MAX_CALLS}."
        )
    if isinstance(rate_limit_per_minute, int) and not 1 <= rate_limit_per_minute <= MAX_CALLS:
        raise BadRequest(
            "invalid_request",
            f"Invalid request: rateLimitPerMinute must be between 1 and {MAX_CALLS}.",
        )
    quota = await find_key_quota(session, tenant_id, activation_key)
    if not quota.facts.is_api_product:
        raise Conflict(
            Reason.NOT_API_LICENSE, "This key's product is not an API product (isApiProduct)."
        )
    if not quota.has_row:
        grant = Grant(0, quota.grant.rate_limit_per_minute) if set_calls else quota.grant
        await create_quota_rows(session, {quota.license_id: grant}, moment)
    granted = literal(calls, BigInteger) if set_calls else ApiQuota.calls_limit + calls
    values: dict[str, object] = {"calls_limit": granted, "updated_at": moment}
    if not isinstance(rate_limit_per_minute, UnsetType):
        values["rate_limit_per_minute"] = rate_limit_per_minute
    limit = await session.scalar(
        update(ApiQuota)
        .where(ApiQuota.license_id == quota.license_id, granted <= MAX_CALLS)
        .values(**values)
        .execution_options(synchronize_session=False)
        .returning(ApiQuota.calls_limit)
    )
    if limit is None:
        raise BadRequest(
            "invalid_request", f"Invalid request: a key can be granted at most {MAX_CALLS} calls."
        )
    note = f"API calls: {'set to' if set_calls else '+'}{calls} (granted {limit})"
    await record_history(
        session,
        quota.license_id,
        HistoryAction.UPDATED,
        access_token_id=access_token_id,
        note=note,
        at=moment,
    )
    await record_audit(
        session,
        tenant_id,
        "license.api_calls",
        target_type="license",
        target=quota.license_id,
        details={"calls": calls, "set": set_calls, "limit": limit},
    )
    refreshed = await read_key_quota(session, tenant_id, lookup_key(activation_key) or "")
    assert refreshed is not None
    return refreshed
