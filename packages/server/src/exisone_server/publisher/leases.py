"""The publisher's view of a floating license's leases: list the live ones, end one.

``GET /api/license/{key}/leases`` (``generate``) and
``POST /api/license/{key}/leases/{leaseId}/end`` (``admin``); docs/api.md.
"""

from __future__ import annotations

from litestar import Router, get, post
from litestar.params import FromPath
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit import record_license_audit
from ..auth import Permission, requires
from ..deps import DatabaseDep, PrincipalDep
from ..kit.time import format_expiration, utc_now
from ..kit.wire import WireResponse
from ..licenses.leases import end_lease
from ..licenses.service import get_license
from ..models import Lease, License
from ..security.lookups import looks_up

__all__ = ["LeaseLine", "live_leases", "router"]


class LeaseLine(WireResponse):
    """A lease as the publisher sees it: who holds it, since when, its last heartbeat."""

    lease_id: str
    hardware_id: str
    since: str
    expires_at: str
    borrowed: bool
    ttl_seconds: int
    last_heartbeat_at: str | None = None
    ip_address: str | None = None
    client_version: str | None = None


def lease_line(lease: Lease) -> LeaseLine:
    return LeaseLine(
        lease_id=lease.lease_id,
        hardware_id=lease.hardware_id,
        since=format_expiration(lease.created_at),
        expires_at=format_expiration(lease.expires_at),
        borrowed=lease.borrowed,
        ttl_seconds=lease.ttl_seconds,
        last_heartbeat_at=(
            format_expiration(lease.last_heartbeat_at) if lease.last_heartbeat_at else None
        ),
        ip_address=lease.ip_address,
        client_version=lease.client_version,
    )


async def live_leases(session: AsyncSession, license: License) -> list[Lease]:
    """The license's leases holding a seat now, the oldest first."""
    rows = await session.scalars(
        select(Lease)
        .where(
            Lease.license_id == license.id,
            Lease.ended_at.is_(None),
            Lease.expires_at > utc_now(),
        )
        .order_by(Lease.created_at, Lease.id)
    )
    return list(rows)


@get(
    "/license/{activation_key:str}/leases",
    opt={**requires(Permission.GENERATE), **looks_up()},
)
async def list_leases(
    activation_key: FromPath[str], principal: PrincipalDep, database: DatabaseDep
) -> list[LeaseLine]:
    """The live leases of a license (``LeaseLine[]``); 404 ``license_not_found``."""
    async with database.read_session() as session:
        license = await get_license(session, principal.tenant_id, activation_key)
        return [lease_line(lease) for lease in await live_leases(session, license)]


@post(
    "/license/{activation_key:str}/leases/{lease_id:str}/end",
    status_code=200,
    opt={**requires(Permission.ADMIN), **looks_up(writes=True)},
)
async def end_license_lease(
    activation_key: FromPath[str],
    lease_id: FromPath[str],
    principal: PrincipalDep,
    database: DatabaseDep,
) -> LeaseLine:
    """End a lease now: its seat is free and its next heartbeat answers 404."""
    async with database.write() as session:
        license = await get_license(session, principal.tenant_id, activation_key, lock=True)
        lease = await end_lease(session, license, lease_id)
        await record_license_audit(
            session, license, "license.end_lease", hardware_id=lease.hardware_id
        )
    return lease_line(lease)


router = Router(path="/api", route_handlers=[list_leases, end_license_lease], tags=["publisher"])
