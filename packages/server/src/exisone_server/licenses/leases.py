"""Floating seats: check a lease out, renew it (heartbeat), return it, end it (publisher).

Every function runs inside the caller's write transaction: a session's (``Database.write()``),
or for the batches of checkouts and heartbeats any :class:`..statements.Statements` (on SQLite
the driver's connection, :mod:`..compiled_statements`). A checkout locks
the license row as activation does (``FOR UPDATE`` on PostgreSQL; SQLite's writers take turns)
and only then reads the clock and counts the leases that have not run out: a lease that ran out
frees its seat for the very next checkout, with no background job. A heartbeat takes the same
lock before it reads the clock, so a renewal and a checkout that counts the lease as run out
can never both win.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit.context import Actor, current_actor
from ..db import on_sqlite_only
from ..errors import ApiError, BadRequest, Conflict, NotFound
from ..kit.activation_keys import normalize_activation_key
from ..kit.time import format_expiration, utc_now
from ..models import CryptoKey, Lease, License, Plan, Product, table_of
from ..security.lookups import lookup_found, lookup_missed
from ..statements import Statements
from . import rules
from .binding import LICENSE_COLUMNS, TARGET_COLUMNS, ActivatedProduct, SeatLicense, row_facts
from .lease_keys import LEASE_KEY, LeaseKeys
from .rules import LeasePolicy, Reason
from .service import (
    features_of_licenses,
    license_not_found,
    refusal_error,
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


@dataclass(frozen=True)
class LeaseGrant:
    """A lease checked out or renewed, with what its answer and signed token need."""

    lease: LeaseTerms
    license: SeatLicense
    product_name: str
    features: list[str]
    seats_in_use: int
    max_seats: int | None
    #: The tenant's lease key (:class:`.lease_keys.LeaseKeys`): the lease token is signed with
    #: it (after the commit).
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


async def _next_free_at(statements: Statements, license_id: int, now: datetime) -> datetime | None:
    """When the first live lease of the license runs out."""
    ((first,),) = await statements.rows(_NEXT_FREE_AT, {"license_id": license_id, "now": now})
    value: datetime | None = first
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


_leases = table_of(Lease)
_licenses = table_of(License)
_products = table_of(Product)
_plans = table_of(Plan)
#: A batch of checkouts' licenses with their products, plans (grace and lease bounds) and
#: tenants' signing keys, locked in license order (Core rows, no ORM objects). The keys alone
#: as well as the pairs: SQLite looks a pair list up by scanning the tenant's licenses, a key
#: list by the keys' index.
_CHECKING_OUT = (
    select(
        *TARGET_COLUMNS,
        _plans.c.id.label("plan_id"),
        _plans.c.lease_ttl_min_seconds,
        _plans.c.lease_ttl_max_seconds,
        _plans.c.lease_ttl_default_seconds,
        _plans.c.max_borrow_hours,
        LEASE_KEY.label("lease_key"),
    )
    .select_from(
        _licenses.join(_products, _products.c.id == _licenses.c.product_id).outerjoin(
            _plans, _plans.c.id == _licenses.c.plan_id
        )
    )
    .where(
        _licenses.c.activation_key.in_(bindparam("activation_keys", expanding=True)),
        tuple_(_licenses.c.tenant_id, _licenses.c.activation_key).in_(
            bindparam("tenant_keys", expanding=True)
        ),
    )
    .order_by(_licenses.c.id)
    .with_for_update(of=_licenses)
)
#: The leases not ended of the batch's (license, device) pairs, locked: a release or a
#: heartbeat waiting for them sees the checkout's change. PostgreSQL looks each pair up in the
#: (license, device) index (with a license list beside them it read every lease of the
#: license); SQLite needs the license and device lists to, and neither a condition on nor an
#: order by the expiry (else it walks every live lease of the license in expiry order).
_DEVICE_LEASES = (
    select(
        _leases.c.id,
        _leases.c.license_id,
        _leases.c.hardware_id,
        _leases.c.lease_id,
        _leases.c.expires_at,
    )
    .where(
        on_sqlite_only(_leases.c.license_id.in_(bindparam("device_licenses", expanding=True))),
        on_sqlite_only(_leases.c.hardware_id.in_(bindparam("hardware_ids", expanding=True))),
        tuple_(_leases.c.license_id, _leases.c.hardware_id).in_(
            bindparam("devices", expanding=True)
        ),
        _leases.c.ended_at.is_(None),
    )
    .with_for_update()
)
_NEW_LEASE = insert(_leases)
#: When the first live lease of a license runs out.
_NEXT_FREE_AT = select(func.min(_leases.c.expires_at)).where(
    _leases.c.license_id == bindparam("license_id"),
    _leases.c.ended_at.is_(None),
    _leases.c.expires_at > bindparam("now"),
)
#: A checkout of a device that holds a live lease: the lease renewed.
_RETAKE = (
    update(_leases)
    .where(_leases.c.lease_id == bindparam("taken"))
    .values(
        expires_at=bindparam("new_expires_at"),
        ttl_seconds=bindparam("new_ttl_seconds"),
        borrowed=bindparam("new_borrowed"),
        last_heartbeat_at=bindparam("new_last_heartbeat_at"),
    )
)


class _LeaseWrites:
    """A batch of checkouts' new and renewed leases, by lease id, written together (before a
    count that must see them, and at the end)."""

    def __init__(self) -> None:
        self.new: dict[str, dict[str, Any]] = {}
        self.renewed: dict[str, dict[str, Any]] = {}

    def renew(self, lease_id: str, values: dict[str, Any]) -> None:
        (self.new.get(lease_id) or self.renewed.setdefault(lease_id, {})).update(values)

    async def write(self, statements: Statements) -> None:
        if self.new:
            await statements.run(_NEW_LEASE, list(self.new.values()))
        if self.renewed:
            await statements.run(
                _RETAKE,
                [
                    {"taken": taken, **{f"new_{name}": value for name, value in values.items()}}
                    for taken, values in self.renewed.items()
                ],
            )
        self.new.clear()
        self.renewed.clear()


async def check_out_many(
    statements: Statements, checkouts: Sequence[Checkout], keys: LeaseKeys
) -> list[LeaseOutcome]:
    """POST /api/license/lease for several devices at once, in order: the device's live lease
    renewed, or a new one if a seat is free (409 ``no_free_seat`` with ``nextFreeAt``
    otherwise); 404 ``license_not_found``, the activation refusals, ``not_floating`` and the
    plan's TTL and borrowing bounds as refusals.

    A few statements however many checkouts: the licenses (locked) with their products and
    plans and their tenants' signing keys; the devices' live leases; the licenses' seat
    counts; then the new and renewed leases, and the features. A checkout later in the batch
    sees the seats the earlier ones took.
    """
    asked = [(c.tenant_id, normalize_activation_key(c.activation_key)) for c in checkouts]
    # a key with a NUL cannot be stored, so cannot exist
    tenant_keys = sorted({(tenant, key) for tenant, key in asked if key and "\x00" not in key})
    activation_keys = sorted({key for _, key in tenant_keys})
    rows = (
        await statements.rows(
            _CHECKING_OUT, {"activation_keys": activation_keys, "tenant_keys": tenant_keys}
        )
        if tenant_keys
        else []
    )
    found = {(row.tenant_id, row.activation_key): row for row in rows}
    licensed = [found.get(tenant_key) for tenant_key in asked]  # per checkout
    now = utc_now()  # read after the lock: see the module's docstring
    devices: dict[tuple[int, str], str] = {}  # (license, device) → its live lease's id
    seats: dict[int, int] = {}
    if rows:
        pairs = {
            (row.id, checkout.hardware_id)
            for row, checkout in zip(licensed, checkouts, strict=True)
            if row is not None
        }
        parameters = {
            "device_licenses": sorted({license_id for license_id, _ in pairs}),
            "hardware_ids": sorted({hardware_id for _, hardware_id in pairs}),
            "devices": sorted(pairs),
        }
        latest: dict[tuple[int, str], Any] = {}  # (license, device) → its latest lease
        for lease in await statements.rows(_DEVICE_LEASES, parameters):
            pair = (lease.license_id, lease.hardware_id)
            last = latest.get(pair)
            if last is None or (lease.expires_at, lease.id) > (last.expires_at, last.id):
                latest[pair] = lease
        devices = {pair: last.lease_id for pair, last in latest.items() if last.expires_at > now}
        seats = await _live_seats(statements, sorted({row.id for row in rows}), now)
    writes = _LeaseWrites()
    outcomes: list[LeaseOutcome | None] = []
    granted: list[tuple[int, LeaseTerms, SeatLicense, str, int]] = []
    for position, (checkout, row) in enumerate(zip(checkouts, licensed, strict=True)):
        if row is None:
            outcomes.append(LeaseOutcome(None, license_not_found(), found=False))
            continue
        span = _checkout_span(row, checkout, now)
        if isinstance(span, ApiError):
            outcomes.append(LeaseOutcome(None, span))
            continue
        length, ttl = span
        license = SeatLicense.of(row)
        held: dict[str, Any] = {
            "expires_at": now + length,
            "ttl_seconds": ttl,
            "borrowed": checkout.borrow_hours is not None,
        }
        lease_id = devices.get((license.id, checkout.hardware_id))
        if lease_id is None:
            limit, in_use = license.seat_limit, seats.get(license.id, 0)
            if rules.lease_seat_refusal(limit, in_use) is not None:
                await writes.write(statements)  # the batch's new leases count for nextFreeAt
                next_free = await _next_free_at(statements, license.id, now)
                outcomes.append(LeaseOutcome(None, _no_free_seat(limit, in_use, next_free)))
                continue
            lease_id = new_lease_id()
            writes.new[lease_id] = {
                "license_id": license.id,
                "lease_id": lease_id,
                "hardware_id": checkout.hardware_id,
                **held,
                "last_heartbeat_at": None,
                "ended_at": None,
                "ended_by": None,
                "ip_address": checkout.ip_address,
                "client_version": (checkout.client_version or "").strip()[:50] or None,
                "created_at": now,
            }
            devices[(license.id, checkout.hardware_id)] = lease_id
            seats[license.id] = seats.get(license.id, 0) + 1
        else:
            writes.renew(lease_id, {**held, "last_heartbeat_at": now})
        terms = LeaseTerms(lease_id, checkout.hardware_id, issued_at=now, **held)
        granted.append((position, terms, license, row.product_name, seats.get(license.id, 0)))
        outcomes.append(None)
    await writes.write(statements)
    if granted:
        entries = [entry[1:] for entry in granted]
        signers = {row.tenant_id: row.lease_key for row in rows}
        grants = await _grants(statements, entries, keys, signers, _actors(checkouts))
        for (position, *_), grant in zip(granted, grants, strict=True):
            outcomes[position] = LeaseOutcome(grant)
    return [outcome for outcome in outcomes if outcome is not None]


def _actors(requests: Sequence[Checkout | Heartbeat]) -> dict[int, Actor]:
    """An asker per tenant of the batch (the first)."""
    actors: dict[int, Actor] = {}
    for request in requests:
        actors.setdefault(request.tenant_id, request.actor)
    return actors


def _checkout_span(row: Any, checkout: Checkout, now: datetime) -> tuple[timedelta, int] | ApiError:
    """The lease's length and TTL for this checkout of ``row``'s license (a row of
    :data:`_CHECKING_OUT`), or why it lends no seat (before seats are counted)."""
    refusal = rules.lease_refusal(
        row_facts(row),
        floating=row.is_floating,
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
        return refusal_error(refusal, ActivatedProduct.of(row), checkout.client_version)
    policy = lease_policy(row if row.plan_id is not None else None)
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


#: A batch of heartbeats' statements, built once (heartbeats are a hot path; Core rows, no ORM
#: objects). The leases with their licenses, products, plans' grace and tenants' signing keys;
#: the licenses and the leases locked, in license order (PostgreSQL then reads the lease as it
#: is after a checkout or release it waited for):
_RENEWING = (
    select(
        _leases.c.id.label("lease_row"),
        _leases.c.lease_id,
        _leases.c.hardware_id,
        _leases.c.expires_at.label("lease_expires_at"),
        _leases.c.ended_at,
        _leases.c.ttl_seconds,
        _leases.c.borrowed,
        _leases.c.created_at,
        _leases.c.last_heartbeat_at,
        *LICENSE_COLUMNS,
        _products.c.name.label("product_name"),
        _plans.c.grace_days,
        LEASE_KEY.label("lease_key"),
    )
    .select_from(
        _leases.join(_licenses, _licenses.c.id == _leases.c.license_id)
        .join(_products, _products.c.id == _licenses.c.product_id)
        .outerjoin(_plans, _plans.c.id == _licenses.c.plan_id)
    )
    .where(_leases.c.lease_id.in_(bindparam("lease_ids", expanding=True)))
    .order_by(_licenses.c.id)
    .with_for_update(of=(_licenses, _leases))
)
#: The renewal: conditional, so a lease released meanwhile stays released.
_RENEW = (
    update(_leases)
    .where(_leases.c.id == bindparam("lease_row"), _leases.c.ended_at.is_(None))
    .values(expires_at=bindparam("until"), last_heartbeat_at=bindparam("now"))
)
#: A lease ended with its license's state.
_END = (
    update(_leases)
    .where(_leases.c.id == bindparam("lease_row"))
    .values(ended_at=bindparam("at"), ended_by=bindparam("by"))
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


async def renew_leases(
    statements: Statements, heartbeats: Sequence[Heartbeat], keys: LeaseKeys
) -> list[LeaseOutcome]:
    """POST /api/license/lease/heartbeat for several leases at once, in order: each lease runs
    ``ttl_seconds`` from now.

    404 ``lease_not_found`` (unknown, another tenant's, ended); 410 ``lease_expired`` (it ran
    out: its seat may be someone else's now). A revoked, suspended or expired license ends the
    lease: its renewal carries the 409 to raise. A borrowed lease is answered unchanged.

    A few statements however many heartbeats: the leases with their licenses (both locked),
    products, plans' grace and tenants' signing keys; the renewals, conditional UPDATEs (a
    lease released meanwhile stays released: :class:`StaleRenewal`); then the seat counts
    (one per license) and the features of the licenses renewed.
    """
    wanted = sorted(
        {
            h.lease_id
            for h in heartbeats
            if h.lease_id.startswith(LEASE_ID_PREFIX) and len(h.lease_id) <= _MAX_LEASE_ID
        }
    )
    rows = await statements.rows(_RENEWING, {"lease_ids": wanted}) if wanted else []
    found = {row.lease_id: row for row in rows}
    now = utc_now()  # read after the lock: see the module's docstring
    renewals: dict[int, datetime] = {}  # lease row → its new expiry
    ended: dict[int, str] = {}  # lease row → the license state that ended it
    granted: list[tuple[int, LeaseTerms, Any]] = []  # position, lease, row
    outcomes: list[LeaseOutcome | None] = []
    for position, heartbeat in enumerate(heartbeats):
        row = found.get(heartbeat.lease_id)
        if (
            row is None
            or row.tenant_id != heartbeat.tenant_id
            or row.ended_at is not None
            or row.lease_row in ended  # by an earlier heartbeat of this batch
        ):
            outcomes.append(LeaseOutcome(None, _lease_not_found(), found=False))
            continue
        if not rules.lease_live(row.lease_expires_at, row.ended_at, now):
            outcomes.append(LeaseOutcome(None, _lease_expired(row.lease_expires_at)))
            continue
        state = rules.license_state(row.status, row.expires_at, now, int(row.grace_days or 0))
        reason = rules.state_reason(state)
        if reason is not None:
            ended[row.lease_row] = state.value
            outcomes.append(LeaseOutcome(None, Conflict(reason, _STATE_MESSAGES[reason])))
            continue
        if row.borrowed:  # answered unchanged
            expires_at, issued_at = row.lease_expires_at, row.last_heartbeat_at or row.created_at
        else:
            expires_at = renewals[row.lease_row] = now + timedelta(seconds=row.ttl_seconds)
            issued_at = now
        terms = LeaseTerms(
            row.lease_id, row.hardware_id, expires_at, row.ttl_seconds, row.borrowed, issued_at
        )
        granted.append((position, terms, row))
        outcomes.append(None)
    if renewals:
        renewed = await statements.run(
            _RENEW,
            [{"lease_row": row, "until": until, "now": now} for row, until in renewals.items()],
        )
        if renewed != len(renewals):
            raise StaleRenewal(f"{len(renewals) - renewed} lease(s) ended meanwhile")
    if ended:
        await statements.run(
            _END, [{"lease_row": row, "at": now, "by": by} for row, by in ended.items()]
        )
    if granted:
        seats = await _live_seats(statements, sorted({row.id for _, _, row in granted}), now)
        entries = [
            (terms, SeatLicense.of(row), row.product_name, seats.get(row.id, 0))
            for _, terms, row in granted
        ]
        signers = {row.tenant_id: row.lease_key for row in rows}
        grants = await _grants(statements, entries, keys, signers, _actors(heartbeats))
        for (position, *_), grant in zip(granted, grants, strict=True):
            outcomes[position] = LeaseOutcome(grant)
    return [outcome for outcome in outcomes if outcome is not None]


async def _live_seats(
    statements: Statements, license_ids: Sequence[int], now: datetime
) -> dict[int, int]:
    """Each license's leases holding a seat at ``now`` (licenses with none are left out)."""
    counted = await statements.rows(_LIVE_SEATS, {"license_ids": license_ids, "now": now})
    return {license_id: int(count) for license_id, count in counted}


async def _grants(
    statements: Statements,
    entries: Sequence[tuple[LeaseTerms, SeatLicense, str, int]],
    keys: LeaseKeys,
    signers: Mapping[int, str | None],
    actors: dict[int, Actor],
) -> list[LeaseGrant]:
    """The answers of leases granted or renewed ((lease, license, product name, seats in
    use)): with the tenants' signing keys (``signers``: the fingerprints :data:`LEASE_KEY`
    read; a key made, when a tenant has none yet, by its actor in ``actors``) and the
    licenses' features."""
    license_ids = sorted({license.id for _, license, _, _ in entries})
    tenant_ids = {license.tenant_id for _, license, _, _ in entries}
    signing = await keys.of_tenants(
        statements.session, {tenant: signers[tenant] for tenant in sorted(tenant_ids)}, actors
    )
    features = await features_of_licenses(statements, license_ids)
    return [
        LeaseGrant(
            lease=lease,
            license=license,
            product_name=product_name,
            features=features[license.id],
            seats_in_use=seats_in_use,
            max_seats=license.seat_limit,
            crypto_key=signing[license.tenant_id],
        )
        for lease, license, product_name, seats_in_use in entries
    ]


def _lease_expired(expired_at: datetime) -> ApiError:
    return ApiError(
        Reason.LEASE_EXPIRED,
        f"This lease ran out at {format_expiration(expired_at)}; check a seat out again.",
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
