"""Spending an API key's calls: :func:`consume`, one function for any write session.

The rules are :func:`..licenses.rules.consume_refusal`; the spending is ONE conditional UPDATE
of the key's ``api_quotas`` row whose condition is the rule's SQL twin
(:func:`..licenses.rules.consume_allowed_sql`). The database applies it to the row as it is
when the row is written (SQLite: one writer at a time; PostgreSQL: the row is locked and the
condition checked again on the newest version), so any number of processes on one database
never give a key more calls than it was granted. Only when the UPDATE changes nothing are the
facts read, to say why (and a key's first use makes its row: see :func:`granted_calls`).

:func:`consume` runs inside the caller's write transaction and does everything a consume
writes: the quota row, the day's usage (added up per transaction, written just before its
commit: one upsert per key and day however many consumes the transaction holds), and the
quota webhooks of a crossing (``license.quota.warning`` at 80 %, ``license.quota.exhausted``
at 100 %, in the same transaction: a crossing happens in exactly one consume). A batcher that
commits many consumes together (:mod:`.batcher`) only has to call it for each.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import case, event, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from ..db import insert_for
from ..kit.activation_keys import normalize_activation_key
from ..kit.time import utc_now
from ..licenses import rules
from ..licenses.rules import QuotaFacts, Reason
from ..models import ApiQuota, ApiUsageDay, License, LicenseStatus, Plan, Product
from ..webhooks import hooks as webhooks

__all__ = [
    "MAX_AMOUNT",
    "ConsumeOutcome",
    "Grant",
    "KeyQuota",
    "consume",
    "create_quota_row",
    "lookup_key",
    "read_key_quota",
]

#: The most calls one consume may spend.
MAX_AMOUNT = 1_000_000_000

#: ``session.info`` key of the usage a transaction added: (license id, day) → calls.
_USAGE = "exisone_api_usage"


@dataclass(frozen=True)
class Grant:
    """What a key without a quota row is granted on its first use."""

    calls: int
    rate_limit_per_minute: int | None


@dataclass(frozen=True)
class KeyQuota:
    """A key's license facts and quota; without a row yet (``has_row`` False) the facts hold
    its ``grant``, which its first use writes."""

    license_id: int
    facts: QuotaFacts
    has_row: bool
    grant: Grant


@dataclass(frozen=True)
class ConsumeOutcome:
    """What a consume did. ``found`` False: no such key in the tenant (nothing else is set)."""

    found: bool
    reason: Reason | None = None  # None: allowed (the calls were spent)
    limit: int = 0
    used: int = 0
    rate_limit_per_minute: int | None = None
    window_calls: int = 0
    minute: int = 0

    @property
    def allowed(self) -> bool:
        return self.found and self.reason is None


def lookup_key(activation_key: str) -> str | None:
    """The stored form of a key, or None when no stored key could equal it (a NUL, a lone
    surrogate: the databases cannot hold them, and PostgreSQL would fail the transaction)."""
    key = normalize_activation_key(activation_key)
    if not key or "\x00" in key:
        return None
    try:
        key.encode()
    except UnicodeEncodeError:
        return None
    return key


def _day(now: datetime) -> date:
    return now.astimezone(timezone.utc).date()


def _write_usage(session: Session) -> None:
    """Before commit: add the transaction's usage to ``api_usage_days`` (one upsert per key
    and day)."""
    usage: Counter[tuple[int, date]] = session.info.pop(_USAGE, Counter())
    if not usage:
        return
    insert = insert_for(session.get_bind().dialect.name)
    statement = insert(ApiUsageDay)
    statement = statement.on_conflict_do_update(
        index_elements=["license_id", "day"],
        set_={"calls": ApiUsageDay.calls + statement.excluded.calls},
    )
    now = utc_now()
    session.execute(
        statement,
        [
            {"license_id": license_id, "day": day, "calls": calls, "created_at": now}
            for (license_id, day), calls in sorted(usage.items())
        ],
    )


def _add_usage(session: AsyncSession, license_id: int, day: date, calls: int) -> None:
    usage: Counter[tuple[int, date]] | None = session.info.get(_USAGE)
    if usage is None:
        usage = session.info[_USAGE] = Counter()
        event.listen(session.sync_session, "before_commit", _write_usage, once=True)
    usage[license_id, day] += calls


def _spend(tenant_id: int, key: str, amount: int, now: datetime) -> Any:
    minute = rules.utc_minute(now)
    return (
        update(ApiQuota)
        .where(
            ApiQuota.license_id == License.id,
            License.product_id == Product.id,
            License.tenant_id == tenant_id,
            License.activation_key == key,
            rules.consume_allowed_sql(amount, now),
        )
        .values(
            calls_used=ApiQuota.calls_used + amount,
            window_calls=case(
                (ApiQuota.window_minute == minute, ApiQuota.window_calls + amount), else_=amount
            ),
            window_minute=minute,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
        .returning(
            ApiQuota.license_id,
            ApiQuota.calls_limit,
            ApiQuota.calls_used,
            ApiQuota.rate_limit_per_minute,
            ApiQuota.window_calls,
        )
    )


async def read_key_quota(session: AsyncSession, tenant_id: int, key: str) -> KeyQuota | None:
    """The key's facts and quota in the tenant (``key`` as :func:`lookup_key` gives it).

    Columns, not ORM objects: a batch's session must never answer from an object it loaded
    before one of its own UPDATEs changed the row.
    """
    row = (
        await session.execute(
            select(
                License.id,
                License.status,
                License.expires_at,
                Product.is_active,
                Product.is_api_product,
                Product.default_api_calls,
                Product.api_rate_limit_per_minute.label("product_rate"),
                Plan.api_calls,
                Plan.api_rate_limit_per_minute.label("plan_rate"),
                ApiQuota.id.label("quota_id"),
                ApiQuota.calls_limit,
                ApiQuota.calls_used,
                ApiQuota.rate_limit_per_minute,
                ApiQuota.window_minute,
                ApiQuota.window_calls,
            )
            .join(Product, Product.id == License.product_id)
            .outerjoin(ApiQuota, ApiQuota.license_id == License.id)
            .outerjoin(Plan, Plan.id == License.plan_id)
            .where(License.tenant_id == tenant_id, License.activation_key == key)
        )
    ).one_or_none()
    if row is None:
        return None
    calls, rate = rules.api_grant(
        row.api_calls, row.plan_rate, row.default_api_calls, row.product_rate
    )
    has_row = row.quota_id is not None
    facts = QuotaFacts(
        status=LicenseStatus(row.status),
        expires_at=row.expires_at,
        product_active=row.is_active,
        is_api_product=row.is_api_product,
        calls_limit=row.calls_limit if has_row else calls,
        calls_used=row.calls_used if has_row else 0,
        rate_limit_per_minute=row.rate_limit_per_minute if has_row else rate,
        window_minute=row.window_minute if has_row else 0,
        window_calls=row.window_calls if has_row else 0,
    )
    return KeyQuota(row.id, facts, has_row, Grant(calls, rate))


async def create_quota_row(
    session: AsyncSession, license_id: int, grant: Grant, now: datetime
) -> None:
    """The key's quota row with ``grant`` (a concurrent creator's row wins)."""
    insert = insert_for(session.get_bind().dialect.name)
    await session.execute(
        insert(ApiQuota)
        .values(
            license_id=license_id,
            calls_limit=grant.calls,
            calls_used=0,
            rate_limit_per_minute=grant.rate_limit_per_minute,
            window_minute=0,
            window_calls=0,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["license_id"])
    )


def _refused(quota: KeyQuota, reason: Reason, minute: int) -> ConsumeOutcome:
    facts = quota.facts
    return ConsumeOutcome(
        found=True,
        reason=reason,
        limit=facts.calls_limit,
        used=facts.calls_used,
        rate_limit_per_minute=facts.rate_limit_per_minute,
        window_calls=rules.calls_in_window(facts.window_minute, facts.window_calls, minute),
        minute=minute,
    )


async def consume(
    session: AsyncSession, tenant_id: int, key: str, amount: int, now: datetime | None = None
) -> ConsumeOutcome:
    """Spend ``amount`` calls of the tenant's key ``key`` (as :func:`lookup_key` gives it;
    ``1 <= amount <= MAX_AMOUNT``, checked by the caller) in ``session``'s transaction."""
    moment = now or utc_now()
    minute = rules.utc_minute(moment)
    for _ in range(3):
        spent = (await session.execute(_spend(tenant_id, key, amount, moment))).one_or_none()
        if spent is not None:
            _add_usage(session, spent.license_id, _day(moment), amount)
            for share in rules.quota_crossings(
                spent.calls_limit, spent.calls_used - amount, spent.calls_used
            ):
                await webhooks.quota_crossed(
                    session, spent.license_id, share, spent.calls_limit, spent.calls_used
                )
            return ConsumeOutcome(
                found=True,
                limit=spent.calls_limit,
                used=spent.calls_used,
                rate_limit_per_minute=spent.rate_limit_per_minute,
                window_calls=spent.window_calls,
                minute=minute,
            )
        quota = await read_key_quota(session, tenant_id, key)
        if quota is None:
            return ConsumeOutcome(found=False)
        reason = rules.consume_refusal(quota.facts, amount, moment)
        if reason is not None:
            return _refused(quota, reason, minute)
        if not quota.has_row:
            await create_quota_row(session, quota.license_id, quota.grant, moment)
        # else another transaction changed the row between the UPDATE and the read: again
    raise RuntimeError("the consume did not settle after three attempts")
