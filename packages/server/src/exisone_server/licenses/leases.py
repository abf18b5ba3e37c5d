"""Floating seats: check a lease out, renew it (heartbeat), return it, end it (publisher).

Every function runs inside the caller's write session (``Database.write()``). A checkout locks
the license row as activation does (``FOR UPDATE`` on PostgreSQL; SQLite's writers take turns)
and only then reads the clock and counts the leases that have not run out: a lease that ran out
frees its seat for the very next checkout, with no background job. A heartbeat takes the same
lock before it reads the clock, so a renewal and a checkout that counts the lease as run out
can never both win.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from ..audit.context import Actor, acting_as, current_actor
from ..crypto.master_key import MasterKey
from ..crypto.service import create_crypto_key
from ..errors import ApiError, BadRequest, Conflict, NotFound
from ..kit.activation_keys import normalize_activation_key
from ..kit.time import format_expiration, utc_now
from ..models import CryptoKey, KeyAlgorithm, Lease, License, Plan, Product, table_of
from ..security.lookups import lookup_found, lookup_missed
from . import rules
from .rules import LeasePolicy, Reason
from .service import (
    features_of_licenses,
    key_facts,
    license_not_found,
    refusal_error,
    seat_limit,
)

__all__ = [
    "LEASE_ID_PREFIX",
    "Checkout",
    "Heartbeat",
    "LeaseGrant",
    "LeaseOutcome",
    "LeaseTerms",
    "StaleRenewal",
    "check_out_many",
    "end_lease",
    "lease_policy",
    "new_lease_id",
    "release_lease",
    "renew_leases",
]

#: Every lease id starts with this.
LEASE_ID_PREFIX = "l_"
#: The longest lease id a request may name (longer ones cannot exist).
_MAX_LEASE_ID = 40

#: ``Lease.ended_by`` of the ways a lease ends before it runs out.
ENDED_BY_APPLICATION = "application"
ENDED_BY_PUBLISHER = "publisher"

_STATE_MESSAGES = {
    Reason.LICENSE_REVOKED: "This license has been revoked; the lease has ended.",
    Reason.LICENSE_SUSPENDED: "This license is suspended; the lease has ended.",
    Reason.LICENSE_EXPIRED: "This license has expired; the lease has ended.",
}


def new_lease_id() -> str:
    """A fresh unguessable lease id: ``l_`` and 128 random bits, URL-safe."""
    return LEASE_ID_PREFIX + secrets.token_urlsafe(16)


def lease_policy(plan: Plan | None) -> LeasePolicy:
    """The plan's floating-seat settings (the defaults without a plan)."""
    if plan is None:
        return LeasePolicy()
    return LeasePolicy(
        ttl_min_seconds=plan.lease_ttl_min_seconds,
        ttl_max_seconds=plan.lease_ttl_max_seconds,
        ttl_default_seconds=plan.lease_ttl_default_seconds,
        max_borrow_hours=plan.max_borrow_hours,
    )


@dataclass(frozen=True)
class LeaseTerms:
    """A lease as one checkout or heartbeat left it (a later request in the same batch may
    change the row: each answer and token says what its own request did)."""

    lease_id: str
    hardware_id: str
    expires_at: datetime
    ttl_seconds: int
    borrowed: bool
    #: When this checkout or heartbeat took or renewed it (the token's ``issuedAt``).
    issued_at: datetime

    @classmethod
    def of(cls, lease: Lease) -> LeaseTerms:
        return cls(
            lease_id=lease.lease_id,
            hardware_id=lease.hardware_id,
            expires_at=lease.expires_at,
            ttl_seconds=lease.ttl_seconds,
            borrowed=lease.borrowed,
            issued_at=lease.last_heartbeat_at or lease.created_at,
        )


@dataclass(frozen=True)
class LeaseGrant:
    """A lease checked out or renewed, with what its answer and signed token need."""

    lease: LeaseTerms
    license: License
    product_name: str
    features: list[str]
    seats_in_use: int
    max_seats: int | None
    #: The tenant's lease key (:func:`_lease_keys`): the lease token is signed with it (after
    #: the commit).
    crypto_key: CryptoKey


@dataclass(frozen=True)
class LeaseOutcome:
    """A checkout's or heartbeat's outcome: the lease granted or renewed, or the refusal to
    raise once the transaction committed (a lease that ended with its license's state stays
    ended). ``found``: whether the activation key named a license of the tenant, or the lease
    id a lease of the tenant not ended (the caller counts the lookup)."""

    grant: LeaseGrant | None
    refusal: ApiError | None = None
    found: bool = True


@dataclass(frozen=True)
class Checkout:
    """A checkout of a seat of the tenant's license ``activation_key`` for the device
    ``hardware_id`` (as :func:`.service.check_hardware_id` normalised it)."""

    tenant_id: int
    activation_key: str
    hardware_id: str
    product_name: str
    client_version: str | None = None
    ttl_seconds: int | None = None
    borrow_hours: float | None = None
    ip_address: str | None = None
    #: Who asked (the request's audit actor: a batch runs outside the request).
    actor: Actor = field(default_factory=current_actor)


@dataclass(frozen=True)
class Heartbeat:
    """A heartbeat of the tenant's lease ``lease_id`` (as sent, stripped)."""

    tenant_id: int
    lease_id: str
    #: Who asked (the request's audit actor: a batch runs outside the request).
    actor: Actor = field(default_factory=current_actor)


class StaleRenewal(RuntimeError):
    """A renewal's condition (the lease not ended) no longer held at its UPDATE: roll back and
    renew the batch again. The read locks the leases, so this guards against what the lock
    already prevents."""


async def _next_free_at(session: AsyncSession, license_id: int, now: datetime) -> datetime | None:
    """When the first live lease of the license runs out."""
    value = await session.scalar(
        select(func.min(Lease.expires_at)).where(
            Lease.license_id == license_id, Lease.ended_at.is_(None), Lease.expires_at > now
        )
    )
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=now.tzinfo)


def _span_error(policy: LeasePolicy, borrowing: bool) -> ApiError:
    if borrowing and policy.max_borrow_hours <= 0:
        return BadRequest(
            "invalid_request", "Invalid request: this license's plan does not allow borrowing."
        )
    bounds = f"ttlSeconds must be between {policy.ttl_min_seconds} and {policy.ttl_max_seconds}"
    if borrowing:
        bounds += f"; borrowHours must be more than 0 and at most {policy.max_borrow_hours}"
    return BadRequest("invalid_request", f"Invalid request: {bounds}.")


#: A batch of checkouts' licenses with their products and plans, locked in license order.
_CHECKING_OUT = (
    select(License, Product, Plan)
    .join(Product, Product.id == License.product_id)
    .outerjoin(Plan, Plan.id == License.plan_id)
    .where(
        tuple_(License.tenant_id, License.activation_key).in_(
            bindparam("tenant_keys", expanding=True)
        )
    )
    .order_by(License.id)
    .with_for_update(of=License)
)
#: The live leases of the batch's (license, device) pairs, the latest first, locked: a release
#: or a heartbeat waiting for them sees the checkout's change. Pairs, not a license list and a
#: device list: PostgreSQL read every lease of a license for the device list.
_DEVICE_LEASES = (
    select(Lease)
    .where(
        tuple_(Lease.license_id, Lease.hardware_id).in_(bindparam("devices", expanding=True)),
        Lease.ended_at.is_(None),
        Lease.expires_at > bindparam("now"),
    )
    .order_by(Lease.expires_at.desc(), Lease.id.desc())
    .with_for_update()
)


async def check_out_many(
    session: AsyncSession, checkouts: Sequence[Checkout], master_key: MasterKey
) -> list[LeaseOutcome]:
    """POST /api/license/lease for several devices at once, in order: the device's live lease
    renewed, or a new one if a seat is free (409 ``no_free_seat`` with ``nextFreeAt``
    otherwise); 404 ``license_not_found``, the activation refusals, ``not_floating`` and the
    plan's TTL and borrowing bounds as refusals.

    A few statements however many checkouts: the licenses (locked) with their products and
    plans; the devices' live leases; the licenses' seat counts; then, once the new leases are
    written, the signing keys and features. A checkout later in the batch sees the seats the
    earlier ones took.
    """
    asked = [(c.tenant_id, normalize_activation_key(c.activation_key)) for c in checkouts]
    # a key with a NUL cannot be stored, so cannot exist
    tenant_keys = sorted({(tenant, key) for tenant, key in asked if key and "\x00" not in key})
    rows = (
        (await session.execute(_CHECKING_OUT, {"tenant_keys": tenant_keys})).all()
        if tenant_keys
        else []
    )
    found = {(row[0].tenant_id, row[0].activation_key): row for row in rows}
    licensed = [found.get(tenant_key) for tenant_key in asked]  # per checkout
    now = utc_now()  # read after the lock: see the module's docstring
    devices: dict[tuple[int, str], Lease] = {}
    seats: dict[int, int] = {}
    if rows:
        pairs = {
            (row[0].id, checkout.hardware_id)
            for row, checkout in zip(licensed, checkouts, strict=True)
            if row is not None
        }
        parameters = {"devices": sorted(pairs), "now": now}
        for live in await session.scalars(_DEVICE_LEASES, parameters):
            devices.setdefault((live.license_id, live.hardware_id), live)
        seats = await _live_seats(session, sorted({row[0].id for row in rows}), now)
    outcomes: list[LeaseOutcome | None] = []
    granted: list[tuple[int, LeaseTerms, License, str, int]] = []
    for position, (checkout, row) in enumerate(zip(checkouts, licensed, strict=True)):
        if row is None:
            outcomes.append(LeaseOutcome(None, license_not_found(), found=False))
            continue
        license, product, plan = row
        span = _checkout_span(license, product, plan, checkout, now)
        if isinstance(span, ApiError):
            outcomes.append(LeaseOutcome(None, span))
            continue
        length, ttl = span
        lease = devices.get((license.id, checkout.hardware_id))
        if lease is None:
            limit, in_use = seat_limit(license), seats.get(license.id, 0)
            if rules.lease_seat_refusal(limit, in_use) is not None:
                await session.flush()  # the batch's new leases count for nextFreeAt
                next_free = await _next_free_at(session, license.id, now)
                outcomes.append(LeaseOutcome(None, _no_free_seat(limit, in_use, next_free)))
                continue
            lease = Lease(
                license_id=license.id,
                lease_id=new_lease_id(),
                hardware_id=checkout.hardware_id,
                expires_at=now + length,
                ttl_seconds=ttl,
                borrowed=checkout.borrow_hours is not None,
                ip_address=checkout.ip_address,
                client_version=(checkout.client_version or "").strip()[:50] or None,
                created_at=now,
            )
            session.add(lease)
            devices[(license.id, checkout.hardware_id)] = lease
            seats[license.id] = seats.get(license.id, 0) + 1
        else:
            lease.expires_at = now + length
            lease.ttl_seconds = ttl
            lease.borrowed = checkout.borrow_hours is not None
            lease.last_heartbeat_at = now
        granted.append(
            (position, LeaseTerms.of(lease), license, product.name, seats.get(license.id, 0))
        )
        outcomes.append(None)
    await session.flush()
    if granted:
        entries = [entry[1:] for entry in granted]
        for (position, *_), grant in zip(
            granted, await _grants(session, entries, master_key, _actors(checkouts)), strict=True
        ):
            outcomes[position] = LeaseOutcome(grant)
    return [outcome for outcome in outcomes if outcome is not None]


def _actors(requests: Sequence[Checkout | Heartbeat]) -> dict[int, Actor]:
    """An asker per tenant of the batch (the first)."""
    actors: dict[int, Actor] = {}
    for request in requests:
        actors.setdefault(request.tenant_id, request.actor)
    return actors


def _checkout_span(
    license: License, product: Product, plan: Plan | None, checkout: Checkout, now: datetime
) -> tuple[timedelta, int] | ApiError:
    """The lease's length and TTL for this checkout, or why this license lends it no seat
    (before seats are counted)."""
    refusal = rules.lease_refusal(
        key_facts(license, product, plan.grace_days if plan else 0),
        floating=license.is_floating,
        product_name=checkout.product_name,
        version=checkout.client_version,
        now=now,
    )
    if refusal is Reason.NOT_FLOATING:
        return Conflict(
            refusal,
            "This license is not floating: activate the device instead of leasing a seat.",
        )
    if refusal is not None:
        return refusal_error(refusal, product, checkout.client_version)
    policy = lease_policy(plan)
    span = rules.lease_span(policy, checkout.ttl_seconds, checkout.borrow_hours)
    return span if span is not None else _span_error(policy, checkout.borrow_hours is not None)


def _no_free_seat(limit: int | None, seats_in_use: int, next_free: datetime | None) -> ApiError:
    return Conflict(
        Reason.NO_FREE_SEAT,
        f"All {limit} seats of this floating license are leased; the first lease runs "
        f"out at {format_expiration(next_free)}.",
        extra={
            "seatsInUse": seats_in_use,
            "maxSeats": limit,
            "nextFreeAt": format_expiration(next_free),
        },
    )


def _lease_not_found() -> NotFound:
    return NotFound(Reason.LEASE_NOT_FOUND, "No lease with this id (or it was released).")


async def _find_lease(session: AsyncSession, tenant_id: int, lease_id: str) -> Lease | None:
    """The tenant's lease with this id, not ended; counts the lookup."""
    lease = None
    if lease_id.startswith(LEASE_ID_PREFIX) and len(lease_id) <= _MAX_LEASE_ID:
        lease = await session.scalar(
            select(Lease)
            .join(License, License.id == Lease.license_id)
            .where(Lease.lease_id == lease_id, License.tenant_id == tenant_id)
        )
    if lease is None or lease.ended_at is not None:
        lookup_missed()
        return None
    lookup_found()
    return lease


_leases = table_of(Lease)
_grace_days = (
    select(Plan.grace_days).where(Plan.id == License.plan_id).correlate(License).scalar_subquery()
)
#: A batch of heartbeats' statements, built once (heartbeats are a hot path). The leases with
#: their licenses, products and plans' grace; the licenses and the leases locked, in license
#: order (PostgreSQL then reads the lease as it is after a checkout or release it waited for):
_RENEWING = (
    select(Lease, License, Product.name, func.coalesce(_grace_days, 0))
    .join(License, License.id == Lease.license_id)
    .join(Product, Product.id == License.product_id)
    .where(Lease.lease_id.in_(bindparam("lease_ids", expanding=True)))
    .order_by(License.id)
    .with_for_update(of=(License, Lease))
)
#: The renewal: conditional, so a lease released meanwhile stays released.
_RENEW = (
    update(_leases)
    .where(_leases.c.id == bindparam("lease_row"), _leases.c.ended_at.is_(None))
    .values(expires_at=bindparam("until"), last_heartbeat_at=bindparam("now"))
)
#: The live leases of each of the licenses.
_LIVE_SEATS = (
    select(_leases.c.license_id, func.count())
    .where(
        _leases.c.license_id.in_(bindparam("license_ids", expanding=True)),
        _leases.c.ended_at.is_(None),
        _leases.c.expires_at > bindparam("now"),
    )
    .group_by(_leases.c.license_id)
)
#: The tenants' current keys (RSA, and Ed25519 where they have one).
_CURRENT_KEYS = select(CryptoKey).where(
    CryptoKey.tenant_id.in_(bindparam("tenant_ids", expanding=True)),
    CryptoKey.is_current.is_(True),
)


async def renew_leases(
    session: AsyncSession, heartbeats: Sequence[Heartbeat], master_key: MasterKey
) -> list[LeaseOutcome]:
    """POST /api/license/lease/heartbeat for several leases at once, in order: each lease runs
    ``ttl_seconds`` from now.

    404 ``lease_not_found`` (unknown, another tenant's, ended); 410 ``lease_expired`` (it ran
    out: its seat may be someone else's now). A revoked, suspended or expired license ends the
    lease: its renewal carries the 409 to raise. A borrowed lease is answered unchanged.

    A few statements however many heartbeats: the leases with their licenses (both locked),
    products and plans' grace; the renewals, conditional UPDATEs (a lease released meanwhile
    stays released: :class:`StaleRenewal`); then the seat counts, the tenants' signing keys
    and the features of the licenses renewed.
    """
    wanted = sorted(
        {
            h.lease_id
            for h in heartbeats
            if h.lease_id.startswith(LEASE_ID_PREFIX) and len(h.lease_id) <= _MAX_LEASE_ID
        }
    )
    rows = (await session.execute(_RENEWING, {"lease_ids": wanted})).all() if wanted else []
    found = {row[0].lease_id: row for row in rows}
    now = utc_now()  # read after the lock: see the module's docstring
    renewals: dict[int, datetime] = {}  # lease row → its new expiry
    granted: list[tuple[int, LeaseTerms, License, str]] = []  # position, lease, license, product
    outcomes: list[LeaseOutcome | None] = []
    for position, heartbeat in enumerate(heartbeats):
        row = found.get(heartbeat.lease_id)
        if row is None or row[1].tenant_id != heartbeat.tenant_id or row[0].ended_at is not None:
            outcomes.append(LeaseOutcome(None, _lease_not_found(), found=False))
            continue
        lease, license, product_name, grace_days = row
        if not rules.lease_live(lease.expires_at, lease.ended_at, now):
            outcomes.append(LeaseOutcome(None, _lease_expired(lease)))
            continue
        state = rules.license_state(license.status, license.expires_at, now, int(grace_days))
        reason = rules.state_reason(state)
        if reason is not None:
            lease.ended_at, lease.ended_by = now, state.value
            outcomes.append(LeaseOutcome(None, Conflict(reason, _STATE_MESSAGES[reason])))
            continue
        if not lease.borrowed:
            renewals[lease.id] = now + timedelta(seconds=lease.ttl_seconds)
            set_committed_value(lease, "expires_at", renewals[lease.id])
            set_committed_value(lease, "last_heartbeat_at", now)
        granted.append((position, LeaseTerms.of(lease), license, product_name))
        outcomes.append(None)
    connection = await session.connection()
    if renewals:
        renewed = await connection.execute(
            _RENEW,
            [{"lease_row": row, "until": until, "now": now} for row, until in renewals.items()],
        )
        if renewed.rowcount != len(renewals):
            raise StaleRenewal(f"{len(renewals) - renewed.rowcount} lease(s) ended meanwhile")
    await session.flush()  # the leases ended with their license's state
    if granted:
        seats = await _live_seats(session, sorted({entry[2].id for entry in granted}), now)
        entries = [
            (lease, license, name, seats.get(license.id, 0)) for _, lease, license, name in granted
        ]
        for (position, *_), grant in zip(
            granted, await _grants(session, entries, master_key, _actors(heartbeats)), strict=True
        ):
            outcomes[position] = LeaseOutcome(grant)
    return [outcome for outcome in outcomes if outcome is not None]


async def _live_seats(
    session: AsyncSession, license_ids: Sequence[int], now: datetime
) -> dict[int, int]:
    """Each license's leases holding a seat at ``now`` (licenses with none are left out)."""
    connection = await session.connection()
    counted = await connection.execute(_LIVE_SEATS, {"license_ids": license_ids, "now": now})
    return {license_id: int(count) for license_id, count in counted}


async def _lease_keys(
    session: AsyncSession,
    tenant_ids: Sequence[int],
    master_key: MasterKey,
    actors: dict[int, Actor],
) -> dict[int, CryptoKey]:
    """The key that signs each tenant's lease tokens: its current Ed25519 key when it has one,
    else its current RSA key (made now, by its actor in ``actors``, if it has none yet)."""
    keys: dict[int, CryptoKey] = {}
    for key in await session.scalars(_CURRENT_KEYS, {"tenant_ids": tenant_ids}):
        if key.tenant_id not in keys or key.algorithm == KeyAlgorithm.ED25519:
            keys[key.tenant_id] = key
    for tenant_id in tenant_ids:
        if tenant_id not in keys:  # a tenant without a key yet: made for the asker
            with acting_as(actors[tenant_id]):
                keys[tenant_id] = await create_crypto_key(session, tenant_id, master_key)
    return keys


async def _grants(
    session: AsyncSession,
    entries: Sequence[tuple[LeaseTerms, License, str, int]],
    master_key: MasterKey,
    actors: dict[int, Actor],
) -> list[LeaseGrant]:
    """The answers of leases granted or renewed ((lease, license, product name, seats in
    use)): with the tenants' signing keys (made, when a tenant has none yet, by its actor in
    ``actors``) and the licenses' features."""
    license_ids = sorted({license.id for _, license, _, _ in entries})
    tenant_ids = sorted({license.tenant_id for _, license, _, _ in entries})
    keys = await _lease_keys(session, tenant_ids, master_key, actors)
    features = await features_of_licenses(session, license_ids)
    return [
        LeaseGrant(
            lease=lease,
            license=license,
            product_name=product_name,
            features=features[license.id],
            seats_in_use=seats_in_use,
            max_seats=seat_limit(license),
            crypto_key=keys[license.tenant_id],
        )
        for lease, license, product_name, seats_in_use in entries
    ]


def _lease_expired(lease: Lease) -> ApiError:
    return ApiError(
        Reason.LEASE_EXPIRED,
        f"This lease ran out at {format_expiration(lease.expires_at)}; check a seat out again.",
        status_code=410,
    )


async def release_lease(session: AsyncSession, *, tenant_id: int, lease_id: str) -> Lease:
    """POST /api/license/lease/release: the lease ends now and its seat is free (404
    ``lease_not_found`` for an unknown or already ended one)."""
    lease = await _find_lease(session, tenant_id, lease_id)
    if lease is None:
        raise _lease_not_found()
    lease.ended_at, lease.ended_by = utc_now(), ENDED_BY_APPLICATION
    await session.flush()
    return lease


async def end_lease(session: AsyncSession, license: License, lease_id: str) -> Lease:
    """The publisher ends a lease of ``license`` (404 ``lease_not_found`` otherwise)."""
    lease = await session.scalar(
        select(Lease).where(Lease.lease_id == lease_id, Lease.license_id == license.id)
    )
    if lease is None or lease.ended_at is not None:
        raise _lease_not_found()
    lease.ended_at, lease.ended_by = utc_now(), ENDED_BY_PUBLISHER
    await session.flush()
    return lease
