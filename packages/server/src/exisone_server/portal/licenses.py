"""What a signed-in customer sees and does: their licenses, devices, releases, offline codes.

A customer reaches only licenses of their tenant whose e-mail is theirs (any case): every
function here looks the license up by its id AND the customer's tenant AND address, and a
license that does not match is answered like a missing one (404 ``license_not_found``).
Releases and offline codes go through the same services as the API's
(:func:`..licenses.service.deactivate_device` with the customer as releaser, and
:func:`..licenses.offline.issue_offline_activation`), so the same rules apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit import record_license_audit
from ..crypto.master_key import MasterKey
from ..errors import NotFound
from ..licenses import rules
from ..licenses.offline import OfflineActivation, issue_offline_activation
from ..licenses.rules import ReleasePolicy, Releaser, ReleaseRefusal
from ..licenses.service import (
    count_active_seats,
    deactivate_device,
    license_feature_names,
    plan_grace_days,
    release_outlook,
    seat_limit,
)
from ..models import Activation, License, Product
from .access import Customer
from .renewal import renewal_url

__all__ = [
    "DeviceView",
    "LicenseView",
    "customer_license",
    "issue_code",
    "license_view",
    "list_license_views",
    "release_device",
    "reveal_key",
    "short_hardware_id",
]


def short_hardware_id(hardware_id: str) -> str:
    """The first 8 and last 4 characters of a long hardware ID."""
    return hardware_id if len(hardware_id) <= 16 else f"{hardware_id[:8]}…{hardware_id[-4:]}"


@dataclass(frozen=True)
class DeviceView:
    activation_id: int
    hardware_id: str
    short_id: str
    first_seen: datetime
    last_seen: datetime | None
    version: str | None
    is_offline: bool
    #: Why the customer may not release it (None: they may, or must only wait).
    refusal: str | None


@dataclass(frozen=True)
class LicenseView:
    id: int
    activation_key: str
    product_name: str
    state: str
    expires_at: datetime | None
    features: list[str]
    seats_used: int
    #: None = unlimited.
    seats_total: int | None
    renewal_url: str | None
    devices: list[DeviceView]
    policy: ReleasePolicy
    #: When the next release must wait, why and until when.
    wait: ReleaseRefusal | None

    @property
    def masked_key(self) -> str:
        return "XXXX-XXXX-XXXX-" + self.activation_key[-4:]


def _device_refusal(policy: ReleasePolicy, activation: Activation) -> str | None:
    refusal = rules.release_refusal(
        policy,
        by=Releaser.CUSTOMER,
        activation_is_offline=activation.is_offline,
        releases=(),
        now=activation.created_at,
    )
    return refusal.reason.value if refusal is not None else None


async def customer_license(
    session: AsyncSession, customer: Customer, license_id: int, *, lock: bool = False
) -> License:
    """The customer's license ``license_id``, or 404 (also for anyone else's)."""
    statement = select(License).where(
        License.id == license_id,
        License.tenant_id == customer.tenant_id,
        func.lower(License.email) == customer.email,
    )
    if lock:
        statement = statement.with_for_update()
    license = await session.scalar(statement)
    if license is None:
        raise NotFound("license_not_found", "No such license of yours.")
    return license


async def license_view(
    session: AsyncSession,
    license: License,
    now: datetime,
    portal_base: str,
    *,
    with_devices: bool = True,
) -> LicenseView:
    product = await session.get(Product, license.product_id)
    assert product is not None  # foreign key
    policy, wait = await release_outlook(session, license, product, now)
    devices: list[DeviceView] = []
    if with_devices:
        activations = await session.scalars(
            select(Activation)
            .where(Activation.license_id == license.id, Activation.deactivated_at.is_(None))
            .order_by(Activation.created_at, Activation.id)
        )
        devices = [
            DeviceView(
                activation_id=activation.id,
                hardware_id=activation.hardware_id,
                short_id=short_hardware_id(activation.hardware_id),
                first_seen=activation.created_at,
                last_seen=activation.last_seen_at,
                version=activation.client_version,
                is_offline=activation.is_offline,
                refusal=_device_refusal(policy, activation),
            )
            for activation in activations
        ]
    return LicenseView(
        id=license.id,
        activation_key=license.activation_key,
        product_name=product.name,
        state=rules.license_state(
            license.status, license.expires_at, now, await plan_grace_days(session, license)
        ).value,
        expires_at=license.expires_at,
        features=await license_feature_names(session, license.id),
        seats_used=await count_active_seats(session, license.id),
        seats_total=seat_limit(license),
        renewal_url=await renewal_url(session, license, portal_base),
        devices=devices,
        policy=policy,
        wait=wait,
    )


async def list_license_views(
    session: AsyncSession, customer: Customer, now: datetime, portal_base: str
) -> list[LicenseView]:
    """Every license of the customer in the tenant, by product and age."""
    licenses = await session.scalars(
        select(License)
        .where(License.tenant_id == customer.tenant_id, func.lower(License.email) == customer.email)
        .order_by(License.product_id, License.created_at, License.id)
    )
    return [
        await license_view(session, item, now, portal_base, with_devices=False) for item in licenses
    ]


async def reveal_key(session: AsyncSession, customer: Customer, license_id: int) -> License:
    """The license, its key shown to the customer (audited)."""
    license = await customer_license(session, customer, license_id)
    await record_license_audit(session, license, "portal.key_reveal")
    return license


async def release_device(
    session: AsyncSession,
    customer: Customer,
    license_id: int,
    activation_id: int,
    *,
    ip_address: str | None,
) -> License:
    """Free the seat of one of the license's devices under the product's rules (404
    ``device_not_found`` when it holds none; the rules' refusals otherwise)."""
    license = await customer_license(session, customer, license_id, lock=True)
    activation = await session.scalar(
        select(Activation).where(
            Activation.id == activation_id,
            Activation.license_id == license.id,
            Activation.deactivated_at.is_(None),
        )
    )
    if activation is None:
        raise NotFound("device_not_found", "This device holds no seat of the license.")
    await deactivate_device(
        session,
        license,
        activation.hardware_id,
        by=Releaser.CUSTOMER,
        ip_address=ip_address,
        note="customer portal",
    )
    await record_license_audit(
        session, license, "portal.release", hardwareId=activation.hardware_id
    )
    return license


async def issue_code(
    session: AsyncSession,
    customer: Customer,
    license_id: int,
    hardware_id: str,
    master_key: MasterKey,
    *,
    ip_address: str | None,
) -> tuple[License, OfflineActivation]:
    """An offline code for a pasted hardware ID (takes a seat, like the publisher's)."""
    license = await customer_license(session, customer, license_id, lock=True)
    outcome = await issue_offline_activation(
        session, license, hardware_id, master_key, ip_address=ip_address
    )
    await record_license_audit(
        session, license, "portal.offline_code", hardwareId=outcome.payload["hardwareId"]
    )
    return license, outcome
