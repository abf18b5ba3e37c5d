"""The API-key endpoints (docs/api-keys.md).

* ``POST /api/license/consume`` (``verify``): spend calls of a key;
* ``GET /api/license/{key}/quota`` (``verify``): its quota and usage;
* ``POST /api/license/{key}/topup`` (``admin``): add calls, set its per-minute limit.

Each looks the key up, so each counts its failed lookups (:func:`..security.lookups.looks_up`).
"""

from __future__ import annotations

import math
from typing import Annotated

import msgspec
from litestar import Router, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from ..auth import Permission, requires
from ..auth.permissions import PERMISSION_OPT
from ..auth.principal import Principal
from ..db import Database
from ..deps import DatabaseDep, PrincipalDep
from ..errors import BadRequest
from ..kit.time import format_expiration, utc_now
from ..licenses.rules import Reason
from ..licenses.service import found_license
from ..seam import HotRoute, for_caller
from ..security.lookups import looks_up
from .batcher import consume_batcher
from .consume import MAX_AMOUNT, ConsumeOutcome, lookup_key
from .schemas import ConsumeCalls, ConsumeRead, QuotaRead, QuotaTopUp
from .service import add_calls, key_usage, window_end

__all__ = ["CONSUME_PATH", "CONSUME_ROUTE", "consume_read", "router", "spend_calls"]


def consume_read(outcome: ConsumeOutcome, amount: int) -> ConsumeRead:
    """The wire answer of a consume of ``amount`` calls."""
    rate = outcome.rate_limit_per_minute
    reset = window_end(outcome.minute) if rate is not None else None
    retry_after = None
    if outcome.reason is Reason.RATE_LIMIT_EXCEEDED and rate is not None and amount <= rate:
        assert reset is not None
        retry_after = max(1, math.ceil((reset - utc_now()).total_seconds()))
    return ConsumeRead(
        allowed=outcome.allowed,
        remaining=max(0, outcome.limit - outcome.used),
        limit=outcome.limit,
        used=outcome.used,
        reset_at=format_expiration(reset) if reset is not None else None,
        retry_after=retry_after,
        reason=outcome.reason.value if outcome.reason is not None else None,
        rate_limit_per_minute=rate,
        rate_remaining=max(0, rate - outcome.window_calls) if rate is not None else None,
    )


async def spend_calls(database: Database, tenant_id: int, data: ConsumeCalls) -> ConsumeRead:
    """Spend ``amount`` calls of an API key, all or nothing: ``allowed`` says which."""
    if not 1 <= data.amount <= MAX_AMOUNT:
        raise BadRequest(
            "invalid_request", f"Invalid request: amount must be between 1 and {MAX_AMOUNT}."
        )
    if not data.activation_key.strip():
        raise BadRequest("invalid_request", "Invalid request: activationKey is required.")
    key = lookup_key(data.activation_key)
    outcome = (
        await consume_batcher(database).consume(tenant_id, key, data.amount)
        if key is not None
        else ConsumeOutcome(found=False)
    )
    found_license(outcome if outcome.found else None)
    return consume_read(outcome, data.amount)


@post(
    "/license/consume",
    status_code=200,
    opt={**requires(Permission.VERIFY), **looks_up(writes=True)},
)
async def consume_calls(
    data: JSONBody[ConsumeCalls], principal: PrincipalDep, database: DatabaseDep
) -> ConsumeRead:
    """Spend ``amount`` calls of an API key, all or nothing: ``allowed`` says which."""
    return await spend_calls(database, principal.tenant_id, data)


async def _consume_as(
    database: Database, principal: Principal, data: ConsumeCalls, ip: str | None
) -> ConsumeRead:
    return await spend_calls(database, principal.tenant_id, data)


#: The consume endpoint's path (the app's seam receives it ahead of the framework).
CONSUME_PATH = "/api/license/consume"

#: ``POST /api/license/consume`` in the seam (:mod:`..seam`): the same handler as the route.
CONSUME_ROUTE = HotRoute(
    decode=msgspec.json.Decoder(ConsumeCalls).decode,
    handle=for_caller(_consume_as),
    permissions=consume_calls.opt[PERMISSION_OPT],
    writes=True,
)


@get("/license/{activation_key:str}/quota", opt={**requires(Permission.VERIFY), **looks_up()})
async def read_quota(
    activation_key: FromPath[str],
    principal: PrincipalDep,
    database: DatabaseDep,
    days: Annotated[int, QueryParameter(name="days")] = 30,
) -> QuotaRead:
    """The key's quota, calls this minute, and calls per UTC day (last ``days``, max 366)."""
    async with database.read_session() as session:
        return await key_usage(session, principal.tenant_id, activation_key, days=days)


@post(
    "/license/{activation_key:str}/topup",
    status_code=200,
    opt={**requires(Permission.ADMIN), **looks_up(writes=True)},
)
async def top_up(
    activation_key: FromPath[str],
    data: JSONBody[QuotaTopUp],
    principal: PrincipalDep,
    database: DatabaseDep,
) -> QuotaRead:
    """Add ``calls`` to the key (a renewal, a purchase) and optionally set its per-minute
    limit; the answer is its quota as after the change."""
    async with database.write() as session:
        await add_calls(
            session,
            principal.tenant_id,
            activation_key,
            data.calls,
            rate_limit_per_minute=data.rate_limit_per_minute,
            access_token_id=principal.token_id,
        )
        return await key_usage(session, principal.tenant_id, activation_key)


router = Router(path="/api", route_handlers=[consume_calls, read_quota, top_up], tags=["api keys"])
