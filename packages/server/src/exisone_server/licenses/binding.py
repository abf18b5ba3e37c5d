"""Binding a device to a license: activation (and offline codes) under :mod:`.rules`.

An activation is the busiest write of a licensing server (a company rolls a key out to its
machines at once), and on SQLite the writes of all processes take turns, so the time one
spends in its transaction is the ceiling of all. So this path reads and writes with Core
statements built once at import (SQLAlchemy then reuses their compiled forms instead of keying
a new statement per call), with no ORM objects to load, track or flush:

1. the license, its product and its plan's grace days, in one ``SELECT`` (on PostgreSQL
   ``FOR UPDATE OF licenses``, so concurrent activations of one key count seats in turn;
   SQLite's write transaction holds the whole database);
2. the license's taken seats and whether this device holds one, in one ``SELECT``;
3. the new activation and the license's first activation time; then the history row
   (:func:`.history.record_history`) and the ``license.activated`` webhook (the outbox's
   :func:`~..webhooks.outbox.emit`: one read of the tenant's endpoints, rows only when one
   subscribes).

The decisions are the pure rules' (:func:`.rules.activation_refusal`, :func:`.rules.seat_refusal`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import Conflict
from ..kit.activation_keys import normalize_activation_key
from ..kit.time import utc_now
from ..models import Activation, HistoryAction, License, Plan, Product, table_of
from ..webhooks import hooks as webhooks
from . import rules
from .history import record_history
from .rules import KeyFacts, Reason
from .service import check_hardware_id, found_license, refusal_error

__all__ = [
    "LICENSE_COLUMNS",
    "TARGET_COLUMNS",
    "ActivatedProduct",
    "ActivationOutcome",
    "SeatLicense",
    "activate_device",
    "bind_device",
    "row_facts",
]

_licenses = table_of(License)
_products = table_of(Product)
_plans = table_of(Plan)
_activations = table_of(Activation)

#: What binding and the lease batches read of a license: :meth:`SeatLicense.of`'s columns and
#: its state's.
LICENSE_COLUMNS = (
    _licenses.c.id,
    _licenses.c.tenant_id,
    _licenses.c.activation_key,
    _licenses.c.email,
    _licenses.c.status,
    _licenses.c.expires_at,
    _licenses.c.is_corporate,
    _licenses.c.max_seats,
    _licenses.c.is_floating,
    _licenses.c.activated_at,
)
#: What step 1 reads of the license, its product and its plan (the rows :func:`row_facts`,
#: :meth:`SeatLicense.of` and :meth:`ActivatedProduct.of` take).
TARGET_COLUMNS = (
    *LICENSE_COLUMNS,
    _products.c.name.label("product_name"),
    _products.c.is_active.label("product_active"),
    _products.c.enforce_version_check,
    _products.c.minimum_required_version,
    _products.c.version,
    _plans.c.grace_days,
)
#: Step 1: the license (locked on PostgreSQL), its product and its plan's grace days.
_TARGET = (
    select(*TARGET_COLUMNS)
    .select_from(
        _licenses.join(_products, _products.c.id == _licenses.c.product_id).outerjoin(
            _plans, _plans.c.id == _licenses.c.plan_id
        )
    )
    .where(
        _licenses.c.tenant_id == bindparam("tenant_id"),
        _licenses.c.activation_key == bindparam("activation_key"),
    )
    .with_for_update(of=_licenses)
)
#: Step 2: the seats taken, and the id of this device's activation (None: it has none).
_SEATS = select(
    func.count(),
    func.max(case((_activations.c.hardware_id == bindparam("hardware_id"), _activations.c.id))),
).where(
    _activations.c.license_id == bindparam("license_id"), _activations.c.deactivated_at.is_(None)
)
_INSERT_ACTIVATION = insert(_activations)
_FIRST_ACTIVATION = (
    update(_licenses)
    .where(_licenses.c.id == bindparam("license_id"), _licenses.c.activated_at.is_(None))
    .values(activated_at=bindparam("at"))
)
_MARK_OFFLINE = (
    update(_activations)
    .where(_activations.c.id == bindparam("activation_id"))
    .values(is_offline=True)
)


@dataclass(frozen=True, slots=True)
class SeatLicense:
    """What binding reads of a license: its seats, and the fields its webhook names."""

    id: int
    tenant_id: int
    activation_key: str
    email: str
    expires_at: datetime | None
    is_corporate: bool
    max_seats: int | None
    is_floating: bool
    activated: bool  # its first device was bound before

    @classmethod
    def of(cls, license: License | Any) -> SeatLicense:
        """Of a :class:`License`, or of a row with its columns (step 1's)."""
        return cls(
            id=license.id,
            tenant_id=license.tenant_id,
            activation_key=license.activation_key,
            email=license.email,
            expires_at=license.expires_at,
            is_corporate=license.is_corporate,
            max_seats=license.max_seats,
            is_floating=license.is_floating,
            activated=license.activated_at is not None,
        )

    @property
    def seat_limit(self) -> int | None:
        """:func:`.rules.seat_limit` of the license."""
        return rules.seat_limit(self.is_corporate, self.max_seats)


@dataclass(frozen=True, slots=True)
class ActivatedProduct:
    """What an activation's answer names of the product."""

    name: str
    version: str | None
    minimum_required_version: str | None

    @classmethod
    def of(cls, row: Any) -> ActivatedProduct:
        """Of a row with step 1's product columns."""
        return cls(row.product_name, row.version, row.minimum_required_version)


def row_facts(row: Any) -> KeyFacts:
    """The rules' facts of a row with step 1's columns (the lease checkouts read them too)."""
    return KeyFacts(
        grace_days=int(row.grace_days or 0),
        status=row.status,
        expires_at=row.expires_at,
        product_name=row.product_name,
        product_active=row.product_active,
        enforce_version_check=row.enforce_version_check,
        minimum_required_version=row.minimum_required_version,
    )


@dataclass(frozen=True)
class ActivationOutcome:
    """The result of an activation: ``created`` is False for an idempotent repeat."""

    license: SeatLicense
    product: ActivatedProduct
    hardware_id: str
    created: bool
    current_seats: int


async def bind_device(
    session: AsyncSession,
    license: SeatLicense,
    hardware_id: str,
    *,
    email: str = "",
    ip_address: str | None = None,
    client_version: str | None = None,
    offline: bool = False,
    access_token_id: int | None = None,
    now: datetime | None = None,
) -> tuple[bool, int]:
    """Bind ``hardware_id`` (normalised) to a locked ``license``: ``(created, seats taken)``.

    Same device again → nothing new (idempotent; with ``offline`` its seat is marked
    offline). Single-device license bound to another device → 409 ``license_in_use``;
    corporate license full → 409 ``seat_limit_reached``. A floating license binds no device:
    its seats are leases (409 ``no_free_seat``).
    """
    moment = now or utc_now()
    if license.is_floating:
        raise Conflict(
            Reason.NO_FREE_SEAT,
            "This is a floating license: its seats are leases (POST /api/license/lease), "
            "not activations.",
            extra={"floating": True},
        )
    connection = await session.connection()
    taken = (
        await connection.execute(_SEATS, {"hardware_id": hardware_id, "license_id": license.id})
    ).one()
    seats, existing = int(taken[0]), taken[1]
    if existing is not None:
        if offline:
            await connection.execute(_MARK_OFFLINE, {"activation_id": existing})
        return False, seats
    limit = license.seat_limit
    refusal = rules.seat_refusal(license.is_corporate, limit, seats)
    if refusal is Reason.SEAT_LIMIT_REACHED:
        raise Conflict(
            "seat_limit_reached",
            f"All {limit} seats of this corporate license are in use; "
            "deactivate a device to free one.",
            extra={"currentSeats": seats, "maxSeats": limit},
        )
    if refusal is not None:
        raise Conflict(
            "license_in_use",
            "This license is already activated on another device; deactivate it there first.",
        )
    await connection.execute(
        _INSERT_ACTIVATION,
        {
            "license_id": license.id,
            "hardware_id": hardware_id,
            "email": email,
            "ip_address": ip_address,
            "client_version": client_version,
            "is_offline": offline,
            "created_at": moment,
        },
    )
    if not license.activated:
        await connection.execute(_FIRST_ACTIVATION, {"license_id": license.id, "at": moment})
    await record_history(
        session,
        license.id,
        HistoryAction.ACTIVATED,
        hardware_id=hardware_id,
        ip_address=ip_address,
        access_token_id=access_token_id,
        note="offline code" if offline else None,
        at=moment,
    )
    await webhooks.license_activated(  # outbox
        session,
        license,
        hardware_id=hardware_id,
        ip_address=ip_address,
        email=email,
        offline=offline,
        current_seats=seats + 1,
    )
    return True, seats + 1


async def _target(session: AsyncSession, tenant_id: int, activation_key: str) -> Any:
    """Step 1's row, or 404 ``license_not_found`` (counted as a failed lookup)."""
    row = None
    if "\x00" not in activation_key:  # else it cannot be stored, so cannot exist
        connection = await session.connection()
        parameters = {
            "tenant_id": tenant_id,
            "activation_key": normalize_activation_key(activation_key),
        }
        row = (await connection.execute(_TARGET, parameters)).first()
    return found_license(row)


async def activate_device(
    session: AsyncSession,
    *,
    tenant_id: int,
    activation_key: str,
    hardware_id: str,
    product_name: str,
    email: str = "",
    client_version: str | None = None,
    ip_address: str | None = None,
    access_token_id: int | None = None,
    now: datetime | None = None,
) -> ActivationOutcome:
    """POST /api/license/activate: every check, then :func:`bind_device`."""
    moment = now or utc_now()
    normalized_hardware_id = check_hardware_id(hardware_id)
    row = await _target(session, tenant_id, activation_key)
    product = ActivatedProduct.of(row)
    refusal = rules.activation_refusal(
        row_facts(row), product_name=product_name, version=client_version, now=moment
    )
    if refusal is not None:
        raise refusal_error(refusal, product, client_version)
    license = SeatLicense.of(row)
    created, seats = await bind_device(
        session,
        license,
        normalized_hardware_id,
        email=email.strip(),
        ip_address=ip_address,
        client_version=client_version,
        access_token_id=access_token_id,
        now=moment,
    )
    return ActivationOutcome(license, product, normalized_hardware_id, created, seats)
