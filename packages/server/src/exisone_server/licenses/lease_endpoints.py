"""The floating-seat endpoints: check a lease out, heartbeat it, release it.

Token permission ``verify``; errors as activate's (docs/floating.md). The lease token is
signed after the transaction commits, so the signature never holds the write lock. The
checkout and the heartbeat are answered by the seam ahead of the framework
(:func:`checkout_route`, :func:`heartbeat_route`; the routes here answer a body that does not
decode).
"""

from __future__ import annotations

import msgspec
from litestar import Router, post
from litestar.params import JSONBody

from exisone.protocol import issue_lease_token

from ..auth import Permission, requires
from ..auth.permissions import PERMISSION_OPT
from ..auth.principal import Principal
from ..crypto.key_cache import cached_private_key
from ..crypto.master_key import MasterKey
from ..db import Database
from ..deps import ClientIpDep, DatabaseDep, MasterKeyDep, PrincipalDep
from ..kit.time import format_expiration
from ..seam import HotRoute, for_caller
from ..security.lookups import looks_up, lookup_found, lookup_missed
from .lease_batches import lease_batches
from .lease_schemas import LeaseCheckout, LeaseHeartbeatRead, LeaseRead, LeaseRef, LeaseReleased
from .leases import Checkout, LeaseGrant, LeaseOutcome, release_lease
from .service import check_hardware_id

__all__ = [
    "HEARTBEAT_PATH",
    "LEASE_PATH",
    "checkout",
    "checkout_route",
    "heartbeat",
    "heartbeat_route",
    "router",
]

_OPT = {**requires(Permission.VERIFY), **looks_up(writes=True)}
_LEASE_ROUTE = "/license/lease"
_HEARTBEAT_ROUTE = "/license/lease/heartbeat"
#: The checkout's and the heartbeat's paths (the app's seam receives them ahead of the
#: framework).
LEASE_PATH = "/api" + _LEASE_ROUTE
HEARTBEAT_PATH = "/api" + _HEARTBEAT_ROUTE


def _token(grant: LeaseGrant, master_key: MasterKey) -> str:
    lease = grant.lease
    return issue_lease_token(
        lease_id=lease.lease_id,
        tenant_id=grant.license.tenant_id,
        activation_key=grant.license.activation_key,
        hardware_id=lease.hardware_id,
        product_name=grant.product_name,
        features=grant.features,
        issued_at=lease.issued_at,
        expires_at=lease.expires_at,
        borrowed=lease.borrowed,
        private_key=cached_private_key(grant.crypto_key, master_key),
        key_id=grant.crypto_key.fingerprint,  # the SHA-256 of the public key, as key_id's
    )


def _granted(outcome: LeaseOutcome) -> LeaseGrant:
    """The grant of a checkout or heartbeat, its lookup counted in the request; or its
    refusal raised (committed: a lease that ended with its license's state stays ended)."""
    if outcome.found:
        lookup_found()
    else:
        lookup_missed()
    if outcome.refusal is not None:
        raise outcome.refusal
    assert outcome.grant is not None
    return outcome.grant


async def checkout(
    database: Database,
    master_key: MasterKey,
    principal: Principal,
    data: LeaseCheckout,
    ip: str | None,
) -> LeaseRead:
    """Check a seat out for ``principal`` (in this process's next batch of checkouts): the
    route's and the seam's handler."""
    outcome = await lease_batches(database, master_key).check_out(
        Checkout(
            tenant_id=principal.tenant_id,
            activation_key=data.activation_key.strip(),
            hardware_id=check_hardware_id(data.hardware_id),
            product_name=data.product_name,
            client_version=data.version,
            ttl_seconds=data.ttl_seconds,
            borrow_hours=data.borrow_hours,
            ip_address=ip,
        )
    )
    grant = _granted(outcome)
    lease = grant.lease
    return LeaseRead(
        lease_id=lease.lease_id,
        expires_at=format_expiration(lease.expires_at),
        lease_token=_token(grant, master_key),
        seats_in_use=grant.seats_in_use,
        max_seats=grant.max_seats,
        features=grant.features,
        borrowed=lease.borrowed,
        ttl_seconds=lease.ttl_seconds,
    )


@post(_LEASE_ROUTE, status_code=200, opt=_OPT)
async def lease_seat(
    data: JSONBody[LeaseCheckout],
    principal: PrincipalDep,
    database: DatabaseDep,
    master_key: MasterKeyDep,
    client_ip: ClientIpDep,
) -> LeaseRead:
    """Check a seat of a floating license out (or renew this device's lease)."""
    return await checkout(database, master_key, principal, data, client_ip)


def checkout_route(master_key: MasterKey) -> HotRoute:
    """``POST /api/license/lease`` in the seam (:mod:`..seam`), signing with the app's
    ``master_key``: the same handler as the route."""

    async def check(
        database: Database, principal: Principal, data: LeaseCheckout, ip: str | None
    ) -> LeaseRead:
        return await checkout(database, master_key, principal, data, ip)

    return HotRoute(
        decode=msgspec.json.Decoder(LeaseCheckout).decode,
        handle=for_caller(check),
        permissions=lease_seat.opt[PERMISSION_OPT],
        writes=True,
    )


async def heartbeat(
    database: Database, master_key: MasterKey, principal: Principal, data: LeaseRef
) -> LeaseHeartbeatRead:
    """Renew ``principal``'s lease (in this process's next batch of heartbeats): the route's
    and the seam's handler."""
    batches = lease_batches(database, master_key)
    grant = _granted(await batches.renew(principal.tenant_id, data.lease_id.strip()))
    lease = grant.lease
    return LeaseHeartbeatRead(
        lease_id=lease.lease_id,
        expires_at=format_expiration(lease.expires_at),
        lease_token=_token(grant, master_key),
        seats_in_use=grant.seats_in_use,
        max_seats=grant.max_seats,
        ttl_seconds=lease.ttl_seconds,
    )


@post(_HEARTBEAT_ROUTE, status_code=200, opt=_OPT)
async def heartbeat_lease(
    data: JSONBody[LeaseRef],
    principal: PrincipalDep,
    database: DatabaseDep,
    master_key: MasterKeyDep,
) -> LeaseHeartbeatRead:
    """Renew a lease for its TTL from now (410 ``lease_expired`` once it ran out)."""
    return await heartbeat(database, master_key, principal, data)


def heartbeat_route(master_key: MasterKey) -> HotRoute:
    """``POST /api/license/lease/heartbeat`` in the seam (:mod:`..seam`), signing with the
    app's ``master_key``: the same handler as the route."""

    async def renew(
        database: Database, principal: Principal, data: LeaseRef, ip: str | None
    ) -> LeaseHeartbeatRead:
        return await heartbeat(database, master_key, principal, data)

    return HotRoute(
        decode=msgspec.json.Decoder(LeaseRef).decode,
        handle=for_caller(renew),
        permissions=heartbeat_lease.opt[PERMISSION_OPT],
        writes=True,
    )


@post("/license/lease/release", status_code=200, opt=_OPT)
async def release_seat(
    data: JSONBody[LeaseRef], principal: PrincipalDep, database: DatabaseDep
) -> LeaseReleased:
    """Return a lease: its seat is free at once."""
    async with database.write() as session:
        lease = await release_lease(
            session, tenant_id=principal.tenant_id, lease_id=data.lease_id.strip()
        )
    return LeaseReleased(success=True, lease_id=lease.lease_id)


router = Router(
    path="/api", route_handlers=[lease_seat, heartbeat_lease, release_seat], tags=["client"]
)
