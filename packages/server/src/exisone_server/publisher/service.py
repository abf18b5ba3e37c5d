"""Publisher rules that write: generate a key, revoke / suspend / resume, extend, free a device,
change email or note, issue an offline code.

Each function runs in the caller's write session (``Database.write()``) with the license locked
(``find_license(..., lock=True)``), records a history event and raises the documented errors.
The license rules themselves (validity, seats, binding, signing) are the foundation's
(:mod:`licenses.service`, :mod:`licenses.offline`); this module only decides what to call.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from msgspec import UNSET
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit import record_license_audit
from ..crypto.master_key import MasterKey
from ..errors import BadRequest, Conflict, NotFound
from ..kit.time import format_expiration, utc_now
from ..licenses.history import record_history
from ..licenses.offline import OfflineActivation, issue_offline_activation
from ..licenses.rules import Releaser
from ..licenses.service import (
    check_hardware_id,
    create_license,
    deactivate_device,
    find_product,
    get_license,
)
from ..models import HistoryAction, License, LicenseStatus, Plan
from ..webhooks import hooks as webhooks
from .checks import MAX_DAYS, bounded_int, check_email, optional_text, parse_date, required_text
from .schemas import LicenseExtend, LicenseUpdate

__all__ = [
    "STATUS_CHANGES",
    "change_status",
    "extend_license",
    "free_device",
    "generate_license",
    "issue_offline_code",
    "update_license",
]

#: The latest expiration a license can be given (later dates are refused with 400).
LATEST_EXPIRATION = datetime(2999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)

#: action → (states it is allowed from, resulting state, history event).
STATUS_CHANGES: dict[str, tuple[frozenset[LicenseStatus], LicenseStatus, HistoryAction]] = {
    "revoke": (
        frozenset({LicenseStatus.ACTIVE, LicenseStatus.SUSPENDED}),
        LicenseStatus.REVOKED,
        HistoryAction.REVOKED,
    ),
    "suspend": (
        frozenset({LicenseStatus.ACTIVE}),
        LicenseStatus.SUSPENDED,
        HistoryAction.SUSPENDED,
    ),
    "resume": (frozenset({LicenseStatus.SUSPENDED}), LicenseStatus.ACTIVE, HistoryAction.RESUMED),
}


async def generate_license(
    session: AsyncSession,
    tenant_id: int,
    *,
    product_name: str,
    email: str,
    plan_id: int | None,
    validity_days: int | None,
    access_token_id: int | None = None,
) -> License:
    """POST /api/activationkey/generate.

    ``planId`` wins over ``validityDays``; with neither, the product's default plan, else its
    ``defaultLicenseDays`` (0 = perpetual). A plan gives the features and, when corporate, the
    seats. 404 ``product_not_found`` / ``plan_not_found`` (also for another tenant's),
    409 ``product_inactive`` / ``plan_inactive`` / ``plan_product_mismatch``.
    """
    name = required_text("productName", product_name, 200)
    address = check_email(email)
    if validity_days is not None:
        bounded_int("validityDays", validity_days, 0, MAX_DAYS)
    product = await find_product(session, tenant_id, name)
    if product is None:
        raise NotFound("product_not_found", f"No product named {name!r}.")
    if not product.is_active:
        raise Conflict("product_inactive", "This product is not active.")
    plan: Plan | None = None
    if plan_id is not None:
        plan = await session.scalar(
            select(Plan).where(Plan.tenant_id == tenant_id, Plan.id == plan_id)
        )
        if plan is None:
            raise NotFound("plan_not_found", f"No plan with id {plan_id}.")
    elif validity_days is None and product.default_plan_id is not None:
        plan = await session.get(Plan, product.default_plan_id)
    if plan is not None:
        if not plan.is_active:
            raise Conflict("plan_inactive", f"The plan {plan.name!r} is not active.")
        if plan.product_id is not None and plan.product_id != product.id:
            raise Conflict(
                "plan_product_mismatch", f"The plan {plan.name!r} is for another product."
            )
    license = await create_license(
        session,
        product=product,
        email=address,
        plan=plan,
        validity_days=None if plan is not None else validity_days,
        is_corporate=plan.is_corporate if plan is not None else False,
        max_seats=plan.max_seats if plan is not None else None,
        access_token_id=access_token_id,
    )
    await record_license_audit(
        session, license, "license.generate", product=product.name, planId=plan_id
    )
    return license


async def change_status(
    session: AsyncSession,
    tenant_id: int,
    activation_key: str,
    action: str,
    *,
    note: str | None = None,
    access_token_id: int | None = None,
) -> License:
    """Revoke, suspend or resume; 409 ``license_state_conflict`` from a state not allowed."""
    allowed, target, event = STATUS_CHANGES[action]
    license = await get_license(session, tenant_id, activation_key, lock=True)
    if license.status not in allowed:
        states = ", ".join(sorted(state.value for state in allowed))
        raise Conflict(
            "license_state_conflict",
            f"Cannot {action} a {license.status.value} license; allowed from: {states}.",
        )
    license.status = target
    await record_history(
        session,
        license.id,
        event,
        access_token_id=access_token_id,
        note=optional_text("note", note, 2000),
    )
    await record_license_audit(session, license, f"license.{action}", note=note)
    if target is LicenseStatus.REVOKED:  # outbox, same transaction
        await webhooks.license_revoked(
            session, license, access_token_id=access_token_id, reason=note
        )
    return license


async def extend_license(
    session: AsyncSession,
    tenant_id: int,
    activation_key: str,
    data: LicenseExtend,
    *,
    access_token_id: int | None = None,
    now: datetime | None = None,
) -> License:
    """Set a new expiration: a date, ``days`` more, or perpetual (history ``renewed``)."""
    moment = now or utc_now()
    chosen = [data.expiration_date is not None, data.days is not None, data.perpetual]
    if sum(chosen) != 1:
        raise BadRequest(
            "invalid_request",
            "Invalid request: send exactly one of expirationDate, days or perpetual: true.",
        )
    note = optional_text("note", data.note, 2000)
    license = await get_license(session, tenant_id, activation_key, lock=True)
    if license.status is LicenseStatus.REVOKED:
        raise Conflict(
            "license_state_conflict",
            "Cannot extend a revoked license; allowed from: active, suspended.",
        )
    new_expiry: datetime | None
    if data.perpetual:
        new_expiry = None
    elif data.days is not None:
        days = bounded_int("days", data.days, 1, MAX_DAYS)
        if license.expires_at is None:
            raise Conflict(
                "license_perpetual",
                "This license never expires; send expirationDate to give it an end.",
            )
        new_expiry = max(license.expires_at, moment) + timedelta(days=days)
    else:
        new_expiry = parse_date("expirationDate", data.expiration_date or "")
    if new_expiry is not None and new_expiry > LATEST_EXPIRATION:
        raise BadRequest(
            "invalid_request",
            "Invalid request: the expiration cannot be after "
            f"{format_expiration(LATEST_EXPIRATION)}.",
        )
    change = (
        f"expiration {format_expiration(license.expires_at)} -> {format_expiration(new_expiry)}"
    )
    license.expires_at = new_expiry
    await record_history(
        session,
        license.id,
        HistoryAction.RENEWED,
        access_token_id=access_token_id,
        note=f"{change}; {note}" if note else change,
        at=moment,
    )
    await record_license_audit(session, license, "license.extend", change=change)
    return license


async def update_license(
    session: AsyncSession,
    tenant_id: int,
    activation_key: str,
    data: LicenseUpdate,
    *,
    access_token_id: int | None = None,
) -> License:
    """Change email, note, version, corporateName or isFloating (history ``updated`` naming the
    fields)."""
    license = await get_license(session, tenant_id, activation_key, lock=True)
    changed = []
    if data.is_floating is not UNSET and data.is_floating != license.is_floating:
        license.is_floating = data.is_floating
        changed.append("isFloating")
    if data.email is not UNSET:
        email = check_email(data.email)
        if email != license.email:
            license.email = email
            changed.append("email")
    for field, wire, limit in (
        ("note", "note", 10_000),
        ("version", "version", 50),
        ("corporate_name", "corporateName", 200),
    ):
        value = getattr(data, field)
        if value is UNSET:
            continue
        text = optional_text(wire, value, limit)
        if text != getattr(license, field):
            setattr(license, field, text)
            changed.append(wire)
    if changed:
        await session.flush()
        await record_history(
            session,
            license.id,
            HistoryAction.UPDATED,
            access_token_id=access_token_id,
            note="changed: " + ", ".join(changed),
        )
        await record_license_audit(session, license, "license.update", fields=changed)
    return license


async def free_device(
    session: AsyncSession,
    tenant_id: int,
    activation_key: str,
    hardware_id: str,
    *,
    ip_address: str | None = None,
    access_token_id: int | None = None,
) -> License:
    """Release the seat ``hardware_id`` holds; 404 ``device_not_found`` when it holds none."""
    check_hardware_id(hardware_id)
    license = await get_license(session, tenant_id, activation_key, lock=True)
    outcome = await deactivate_device(
        session,
        license,
        hardware_id,
        by=Releaser.PUBLISHER,
        ip_address=ip_address,
        access_token_id=access_token_id,
    )
    if not outcome.was_active:
        raise NotFound("device_not_found", "This device holds no seat of the license.")
    await record_license_audit(
        session, license, "license.free_device", hardwareId=hardware_id.strip()
    )
    return license


async def issue_offline_code(
    session: AsyncSession,
    tenant_id: int,
    activation_key: str,
    hardware_id: str,
    master_key: MasterKey,
    *,
    ip_address: str | None = None,
    access_token_id: int | None = None,
) -> tuple[License, OfflineActivation]:
    """Sign an offline code for the device (takes its seat, like an activation)."""
    required_text("activationKey", activation_key, 64)
    license = await get_license(session, tenant_id, activation_key, lock=True)
    outcome = await issue_offline_activation(
        session,
        license,
        hardware_id,
        master_key,
        ip_address=ip_address,
        access_token_id=access_token_id,
    )
    await record_license_audit(
        session, license, "license.offline_code", hardwareId=hardware_id.strip()
    )
    return license, outcome
