"""POST /api/license/validate-bulk (``verify``), /bulk-info, /bulk-by-email, /bulk-by-hardware
(``generate``: they disclose customers' e-mail addresses and devices, so a ``verify`` token
shipped inside an application cannot read them).

Each entry is a lookup: an entry that finds nothing counts against the caller's failed-lookup
limits like a request would (:mod:`..security.lookups`)."""

from __future__ import annotations

from litestar import Router, post
from litestar.params import JSONBody

from ..auth import Permission, requires
from ..deps import DatabaseDep, PrincipalDep
from ..kit.time import utc_now
from ..security.lookups import looks_up
from . import service
from .schemas import (
    BulkByEmail,
    BulkByEmailRead,
    BulkByHardware,
    BulkByHardwareRead,
    BulkInfo,
    BulkInfoRead,
    BulkValidate,
    BulkValidateRead,
)

__all__ = ["router"]

_VERIFY_LOOKUP = {**requires(Permission.VERIFY), **looks_up()}
_GENERATE_LOOKUP = {**requires(Permission.GENERATE), **looks_up()}


@post("/license/validate-bulk", status_code=200, opt=_VERIFY_LOOKUP)
async def validate_bulk(
    data: JSONBody[BulkValidate], principal: PrincipalDep, database: DatabaseDep
) -> BulkValidateRead:
    """Validate up to 100 key/device pairs (an entry without key but with productName = trial)."""
    results = await service.validate_many(database, principal.tenant_id, data.licenses)
    valid = sum(1 for result in results if result.is_valid)
    return BulkValidateRead(
        results=results,
        total_processed=len(results),
        success_count=valid,
        failure_count=len(results) - valid,
    )


@post("/license/bulk-info", status_code=200, opt=_GENERATE_LOOKUP)
async def bulk_info(
    data: JSONBody[BulkInfo], principal: PrincipalDep, database: DatabaseDep
) -> BulkInfoRead:
    """Up to 100 licenses by key, in request order (``found: false`` for unknown keys)."""
    async with database.read_session() as session:
        licenses = await service.info(session, principal.tenant_id, data.activation_keys, utc_now())
    return BulkInfoRead(licenses=licenses)


@post(
    "/license/bulk-by-email", status_code=200, opt={**requires(Permission.GENERATE), **looks_up()}
)
async def bulk_by_email(
    data: JSONBody[BulkByEmail], principal: PrincipalDep, database: DatabaseDep
) -> BulkByEmailRead:
    """The licenses of up to 100 e-mail addresses (case-insensitive)."""
    async with database.read_session() as session:
        results = await service.licenses_by_email(
            session, principal.tenant_id, data.emails, utc_now()
        )
    return BulkByEmailRead(results=results)


@post(
    "/license/bulk-by-hardware",
    status_code=200,
    opt={**requires(Permission.GENERATE), **looks_up()},
)
async def bulk_by_hardware(
    data: JSONBody[BulkByHardware], principal: PrincipalDep, database: DatabaseDep
) -> BulkByHardwareRead:
    """The licenses on which each of up to 100 devices holds a seat."""
    async with database.read_session() as session:
        results = await service.licenses_by_hardware(
            session, principal.tenant_id, data.hardware_ids, utc_now()
        )
    return BulkByHardwareRead(results=results)


router = Router(
    path="/api",
    route_handlers=[validate_bulk, bulk_info, bulk_by_email, bulk_by_hardware],
    tags=["bulk"],
)
