"""Spending API keys' calls: :func:`consume_many` (:func:`consume` for one) in the caller's
write transaction.

A batch of consumes is decided on locked rows, with the pure rule:

1. the keys' ``api_quotas`` rows are read and locked, in license order, by one
   ``SELECT ... FOR UPDATE`` (PostgreSQL; SQLite's write transaction holds the whole
   database): until the commit no transaction of any process changes them. A key's first use
   makes its row first, with the key's grant (its plan's calls, else its product's);
2. each consume, in order, is decided by :func:`..licenses.rules.consume_refusal` on those
   values, which an allowed consume then changes in memory (calls used, the minute's window):
   :func:`decide`, which PostgreSQL's direct batches (:mod:`.postgres_batch`) share;
3. each changed row is written by one conditional UPDATE whose condition is the rule's SQL
   twin (:func:`..licenses.rules.consume_allowed_sql`) for the calls the batch spent of it
   (all rows in one ``executemany``). A write whose condition no longer holds changes nothing
   and the batch fails with :class:`StaleDecision` (the batcher decides it again): the license
   was revoked or suspended since it was read (licenses are not locked), or a bug would pass
   a grant. So "never more than granted" does not rest on the code above it;
4. the calls per key and day are added up (one upsert per key), and each crossing of 80 % or
   100 % of a grant is announced (``license.quota.warning`` / ``license.quota.exhausted``) in
   the same transaction: a crossing happens in exactly one consume, whichever process made it.

A batch costs a few statements however many consumes it holds (one read, one write, one
upsert in the steady state), which is what lets a process commit its waiting consumes
together (:mod:`.batcher`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import BigInteger, Select, Text, any_, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from ..db import insert_for
from ..kit.activation_keys import normalize_activation_key
from ..kit.time import utc_now
from ..licenses import rules
from ..licenses.rules import QuotaFacts, Reason
from ..models import (
    ApiQuota,
    ApiUsageDay,
    License,
    LicenseStatus,
    Plan,
    Product,
    UTCDateTime,
    table_of,
)
from ..webhooks import hooks as webhooks

__all__ = [
    "KEY_COLUMNS",
    "MAX_AMOUNT",
    "ConsumeCall",
    "ConsumeOutcome",
    "Decision",
    "Grant",
    "KeyQuota",
    "StaleDecision",
    "consume",
    "consume_many",
    "create_quota_rows",
    "decide",
    "key_quota_of",
    "keys_statement",
    "lookup_key",
    "make_quota_rows",
    "read_key_quota",
    "usage_params",
    "usage_statement",
    "write_params",
    "write_statement",
]

#: The most calls one consume may spend.
MAX_AMOUNT = 1_000_000_000


class StaleDecision(RuntimeError):
    """A decided write no longer holds in the database (step 3): roll back, decide again."""


@dataclass(frozen=True)
class ConsumeCall:
    """Spend ``amount`` calls of the tenant's key ``key`` (as :func:`lookup_key` gives it)."""

    tenant_id: int
    key: str
    amount: int


@dataclass(frozen=True)
class Grant:
    """What a key is granted on its first use."""

    calls: int
    rate_limit_per_minute: int | None


@dataclass(frozen=True)
class KeyQuota:
    """A key's license facts and quota; without a row yet (``has_row`` False) the facts hold
    its ``grant``, which its first use writes."""

    license_id: int
    facts: QuotaFacts
    quota_id: int | None
    grant: Grant

    @property
    def has_row(self) -> bool:
        return self.quota_id is not None


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


KEY_COLUMNS: tuple[Any, ...] = (
    License.id,
    License.tenant_id,
    License.activation_key,
    License.status,
    License.expires_at,
    Product.is_active,
    Product.is_api_product,
    Product.default_api_calls,
    Product.api_rate_limit_per_minute.label("product_rate"),
    Plan.api_calls,
    Plan.api_rate_limit_per_minute.label("plan_rate"),
    Plan.grace_days,
    ApiQuota.id.label("quota_id"),
    ApiQuota.calls_limit,
    ApiQuota.calls_used,
    ApiQuota.rate_limit_per_minute,
    ApiQuota.window_minute,
    ApiQuota.window_calls,
)


@functools.cache
def keys_statement(*, locked: bool, array: bool = False) -> Select[Any]:
    """The facts and quota rows of the keys ``keys`` (a list parameter), as columns: never ORM
    objects, which a batch's session could answer from after its own UPDATE. ``locked``: only
    keys with a row, the rows locked in license order; else every key, rows or not.
    ``array``: ``keys`` is one PostgreSQL array (a statement that compiles once)."""
    statement: Select[Any] = select(*KEY_COLUMNS).join(Product, Product.id == License.product_id)
    if locked:
        statement = statement.join(ApiQuota, ApiQuota.license_id == License.id)
    else:
        statement = statement.outerjoin(ApiQuota, ApiQuota.license_id == License.id)
    listed = (
        License.activation_key == any_(bindparam("keys", type_=ARRAY(Text())))
        if array
        else License.activation_key.in_(bindparam("keys", expanding=True))
    )
    statement = statement.outerjoin(Plan, Plan.id == License.plan_id).where(
        listed  # keys are unique across tenants
    )
    if locked:
        statement = statement.order_by(ApiQuota.license_id).with_for_update(of=ApiQuota)
    return statement


async def _read_keys(session: AsyncSession, keys: Sequence[str], *, locked: bool) -> Any:
    connection = await session.connection()  # Core: no ORM layer around rows of columns
    return await connection.execute(keys_statement(locked=locked), {"keys": list(keys)})


def key_quota_of(row: Any) -> KeyQuota:
    """A row of :data:`KEY_COLUMNS` as a :class:`KeyQuota`."""
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
        grace_days=row.grace_days or 0,
    )
    return KeyQuota(row.id, facts, row.quota_id, Grant(calls, rate))


async def read_key_quota(session: AsyncSession, tenant_id: int, key: str) -> KeyQuota | None:
    """The tenant's key with its quota, unlocked (``key`` as :func:`lookup_key` gives it)."""
    row = (await _read_keys(session, [key], locked=False)).one_or_none()
    return key_quota_of(row) if row is not None and row.tenant_id == tenant_id else None


async def create_quota_rows(session: AsyncSession, grants: dict[int, Grant], now: datetime) -> None:
    """Quota rows for these licenses (license id → grant); a concurrent creator's row wins."""
    if not grants:
        return
    insert = insert_for(session.get_bind().dialect.name)
    await session.execute(
        insert(ApiQuota).on_conflict_do_nothing(index_elements=["license_id"]),
        [
            {
                "license_id": license_id,
                "calls_limit": grant.calls,
                "calls_used": 0,
                "rate_limit_per_minute": grant.rate_limit_per_minute,
                "window_minute": 0,
                "window_calls": 0,
                "created_at": now,
            }
            for license_id, grant in sorted(grants.items())
        ],
    )


async def _first_uses(
    session: AsyncSession, keys: Sequence[str], asked: dict[str, set[int]]
) -> tuple[dict[str, tuple[int, KeyQuota]], dict[int, Grant]]:
    """Of ``keys``, key → (tenant, quota) unlocked, and the grants of those that need a quota
    row: API products asked for by their own tenant (``asked``: key → tenants asking)."""
    others = {
        row.activation_key: (row.tenant_id, key_quota_of(row))
        for row in await _read_keys(session, keys, locked=False)
    }
    fresh = {
        quota.license_id: quota.grant
        for key, (tenant_id, quota) in others.items()
        if quota.facts.is_api_product and not quota.has_row and tenant_id in asked[key]
    }
    return others, fresh


def _asked(calls: Sequence[ConsumeCall]) -> dict[str, set[int]]:
    asked: dict[str, set[int]] = {}
    for call in calls:
        asked.setdefault(call.key, set()).add(call.tenant_id)
    return asked


async def make_quota_rows(
    session: AsyncSession, calls: Sequence[ConsumeCall], now: datetime
) -> None:
    """The quota rows of the calls' keys used for the first time, in a transaction of their
    own. In a batch's transaction a first use makes its row while the batch holds other keys'
    rows, so two batches can wait for each other on PostgreSQL (a deadlock); made here, they
    are in place, and the batch run again locks every row in one ordered read."""
    asked = _asked(calls)
    _, fresh = await _first_uses(session, sorted(asked), asked)
    await create_quota_rows(session, fresh, now)


async def _lock_keys(
    session: AsyncSession, asked: dict[str, set[int]], now: datetime
) -> dict[str, tuple[int, KeyQuota]]:
    """Key → (tenant, quota), the quota rows locked; a first use (by the key's own tenant:
    ``asked`` maps each key to the tenants asking) makes its row first."""
    keys = sorted(asked)
    found = {
        row.activation_key: (row.tenant_id, key_quota_of(row))
        for row in await _read_keys(session, keys, locked=True)
    }
    absent = [key for key in keys if key not in found]
    if not absent:
        return found
    others, fresh = await _first_uses(session, absent, asked)
    await create_quota_rows(session, fresh, now)
    with_rows = [
        key for key, (_, quota) in others.items() if quota.has_row or quota.license_id in fresh
    ]
    if with_rows:  # made now, or by another transaction since the first read
        for row in await _read_keys(session, with_rows, locked=True):
            others[row.activation_key] = (row.tenant_id, key_quota_of(row))
    return {**found, **others}


@functools.cache
def write_statement() -> Any:
    """The conditional UPDATE of a changed row (step 3), built once."""
    spent = bindparam("q_spent", type_=BigInteger())
    minute = bindparam("q_minute", type_=BigInteger())
    now = bindparam("q_now", type_=UTCDateTime())
    return (
        update(ApiQuota)
        .where(
            ApiQuota.id == bindparam("q_id"),
            License.id == ApiQuota.license_id,
            Product.id == License.product_id,
            rules.consume_allowed_sql(spent, now, minute),
        )
        .values(
            calls_used=ApiQuota.calls_used + spent,
            window_minute=minute,
            window_calls=bindparam("q_window", type_=BigInteger()),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


def write_params(spent: dict[int, tuple[int, QuotaFacts]], now: datetime) -> list[dict[str, Any]]:
    """The parameters of :func:`write_statement`, one set per changed row (quota id →
    (calls spent, facts after)), in row order."""
    return [
        {
            "q_id": quota_id,
            "q_spent": calls,
            "q_minute": facts.window_minute,
            "q_window": facts.window_calls,
            "q_now": now,
        }
        for quota_id, (calls, facts) in sorted(spent.items())
    ]


async def _write_rows(
    connection: AsyncConnection, spent: dict[int, tuple[int, QuotaFacts]], now: datetime
) -> None:
    """Write the changed rows; see step 3."""
    if not spent:
        return
    result = await connection.execute(write_statement(), write_params(spent, now))
    if result.rowcount != len(spent):
        raise StaleDecision(f"{len(spent) - result.rowcount} decided write(s) no longer hold")


@functools.cache
def usage_statement(dialect: str) -> Any:
    """The upsert adding calls to a license's day (built once per dialect)."""
    statement = insert_for(dialect)(table_of(ApiUsageDay))
    return statement.on_conflict_do_update(
        index_elements=["license_id", "day"],
        set_={"calls": statement.table.c.calls + statement.excluded.calls},
    )


def usage_params(usage: Counter[int], now: datetime) -> list[dict[str, Any]]:
    """The parameters of :func:`usage_statement`: the calls per license on ``now``'s UTC day."""
    day = now.astimezone(timezone.utc).date()
    return [
        {"license_id": license_id, "day": day, "calls": calls, "created_at": now}
        for license_id, calls in sorted(usage.items())
    ]


async def _add_usage(connection: AsyncConnection, usage: Counter[int], now: datetime) -> None:
    """Add the calls per license and day (one upsert each, in one executemany)."""
    if not usage:
        return
    await connection.execute(usage_statement(connection.dialect.name), usage_params(usage, now))


def _spend(facts: QuotaFacts, amount: int, minute: int) -> QuotaFacts:
    window = rules.calls_in_window(facts.window_minute, facts.window_calls, minute)
    return dataclasses.replace(
        facts,
        calls_used=facts.calls_used + amount,
        window_minute=minute,
        window_calls=window + amount,
    )


def _outcome(facts: QuotaFacts, reason: Reason | None, minute: int) -> ConsumeOutcome:
    return ConsumeOutcome(
        found=True,
        reason=reason,
        limit=facts.calls_limit,
        used=facts.calls_used,
        rate_limit_per_minute=facts.rate_limit_per_minute,
        window_calls=rules.calls_in_window(facts.window_minute, facts.window_calls, minute),
        minute=minute,
    )


@dataclass(frozen=True)
class Decision:
    """What a batch decided (step 2): each consume's outcome, the rows to write (quota id →
    (calls spent, facts after)), the calls per license, and the grants' crossings (license,
    share, limit, used)."""

    outcomes: list[ConsumeOutcome]
    spent: dict[int, tuple[int, QuotaFacts]]
    usage: Counter[int]
    crossings: list[tuple[int, int, int, int]]


def decide(
    calls: Sequence[ConsumeCall], keys: dict[str, tuple[int, KeyQuota]], now: datetime
) -> Decision:
    """Decide ``calls`` in order on the read rows ``keys`` (key → (tenant, quota)): a key
    missing there, or another tenant's, is not found."""
    minute = rules.utc_minute(now)
    state = {key: quota.facts for key, (_, quota) in keys.items()}
    outcomes: list[ConsumeOutcome] = []
    usage: Counter[int] = Counter()
    crossings: list[tuple[int, int, int, int]] = []
    for call in calls:
        entry = keys.get(call.key)
        if entry is None or entry[0] != call.tenant_id:
            outcomes.append(ConsumeOutcome(found=False))
            continue
        facts = state[call.key]
        reason = rules.consume_refusal(facts, call.amount, now)
        if reason is None:
            license_id = entry[1].license_id
            after = _spend(facts, call.amount, minute)
            usage[license_id] += call.amount
            crossings += [
                (license_id, share, after.calls_limit, after.calls_used)
                for share in rules.quota_crossings(
                    after.calls_limit, facts.calls_used, after.calls_used
                )
            ]
            state[call.key] = facts = after
        outcomes.append(_outcome(facts, reason, minute))
    spent: dict[int, tuple[int, QuotaFacts]] = {}
    for key, facts in state.items():
        before = keys[key][1]
        if facts.calls_used != before.facts.calls_used:
            assert before.quota_id is not None  # spending needs a row (an API key has one)
            spent[before.quota_id] = (facts.calls_used - before.facts.calls_used, facts)
    return Decision(outcomes, spent, usage, crossings)


async def consume_many(
    session: AsyncSession, calls: Sequence[ConsumeCall], now: datetime | None = None
) -> list[ConsumeOutcome]:
    """Decide and spend ``calls`` in order, in ``session``'s write transaction (see the module
    docstring); ``1 <= amount <= MAX_AMOUNT`` is checked by the caller."""
    moment = now or utc_now()
    decision = decide(calls, await _lock_keys(session, _asked(calls), moment), moment)
    connection = await session.connection()
    await _write_rows(connection, decision.spent, moment)
    await _add_usage(connection, decision.usage, moment)
    for license_id, share, limit, used in decision.crossings:
        await webhooks.quota_crossed(session, license_id, share, limit, used)
    return decision.outcomes


async def consume(
    session: AsyncSession, tenant_id: int, key: str, amount: int, now: datetime | None = None
) -> ConsumeOutcome:
    """:func:`consume_many` of one consume."""
    return (await consume_many(session, [ConsumeCall(tenant_id, key, amount)], now))[0]
