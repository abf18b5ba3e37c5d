"""``exisone-server demo``: a ready-to-try tenant with a product, plan, keys and a token.

Idempotent for the tenant ``demo``, its product ``DemoApp`` and plan ``Demo Pro``; every run
creates NEW activation keys and a NEW access token (a token's secret can only be shown once, and
fresh keys are unbound), so the printed values always work.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .auth import Permission, create_access_token
from .crypto.master_key import MasterKey
from .crypto.service import current_crypto_key, find_current_key
from .licenses.service import create_license
from .models import Feature, KeyAlgorithm, Plan, Product, Tenant
from .tenants.service import create_tenant

__all__ = ["DEMO_PRODUCT", "DEMO_TENANT", "DemoData", "create_demo"]

DEMO_TENANT = "demo"
DEMO_PRODUCT = "DemoApp"
DEMO_PLAN = "Demo Pro"
#: A plan whose keys are floating: 5 seats leased for 60 s to 1 h, borrowed for up to 3 days.
DEMO_FLOATING_PLAN = "Demo Floating"
DEMO_BORROW_HOURS = 72
DEMO_FEATURES = ("Export", "Pro")
DEMO_VERSION = "1.2.0"
DEMO_MINIMUM_VERSION = "1.0.0"
DEMO_TRIAL_DAYS = 14
DEMO_SEATS = 5


@dataclass(frozen=True)
class DemoData:
    tenant_id: int
    tenant_name: str
    product_id: int
    product_name: str
    product_version: str
    minimum_required_version: str
    trial_days: int
    plan_id: int
    floating_plan_id: int
    features: tuple[str, ...]
    single_device_key: str
    corporate_key: str
    corporate_max_seats: int
    access_token: str
    permissions: tuple[str, ...]
    public_key_pem: str
    #: The public key of the Ed25519 key that signs the demo tenant's lease tokens (None when
    #: it has none: its RSA key signs them).
    lease_public_key_pem: str | None


async def create_demo(session: AsyncSession, master_key: MasterKey) -> DemoData:
    """Find or create the demo tenant, product and plan; add two new keys and a new token."""
    tenant = await session.scalar(select(Tenant).where(Tenant.name == DEMO_TENANT))
    if tenant is None:
        tenant = await create_tenant(session, DEMO_TENANT, master_key)
    plan = await session.scalar(
        select(Plan).where(Plan.tenant_id == tenant.id, Plan.name == DEMO_PLAN)
    )
    if plan is None:
        features = []
        for name in DEMO_FEATURES:
            feature = await session.scalar(
                select(Feature).where(Feature.tenant_id == tenant.id, Feature.name == name)
            )
            if feature is None:
                feature = Feature(tenant_id=tenant.id, name=name)
                session.add(feature)
            features.append(feature)
        plan = Plan(tenant_id=tenant.id, name=DEMO_PLAN, duration_days=0, features=features)
        session.add(plan)
        await session.flush()
    product = await session.scalar(
        select(Product).where(Product.tenant_id == tenant.id, Product.name == DEMO_PRODUCT)
    )
    if product is None:
        product = Product(
            tenant_id=tenant.id,
            name=DEMO_PRODUCT,
            description="Demo product created by `exisone-server demo`.",
            version=DEMO_VERSION,
            minimum_required_version=DEMO_MINIMUM_VERSION,
            enforce_version_check=True,
            trial_days=DEMO_TRIAL_DAYS,
            default_plan_id=plan.id,
        )
        session.add(product)
        await session.flush()
    floating = await _floating_plan(session, tenant.id)
    single = await create_license(
        session, product=product, email="single@example.com", plan=plan, note="demo"
    )
    corporate = await create_license(
        session,
        product=product,
        email="it@example.com",
        plan=plan,
        is_corporate=True,
        max_seats=DEMO_SEATS,
        corporate_name="Example Corp",
        note="demo",
    )
    token = await create_access_token(
        session, tenant_id=tenant.id, name="demo (all permissions)", permissions=tuple(Permission)
    )
    key = await current_crypto_key(session, tenant.id)
    lease_key = await find_current_key(session, tenant.id, KeyAlgorithm.ED25519)
    return DemoData(
        tenant_id=tenant.id,
        tenant_name=tenant.name,
        product_id=product.id,
        product_name=product.name,
        product_version=product.version or "",
        minimum_required_version=product.minimum_required_version or "",
        trial_days=product.trial_days,
        plan_id=plan.id,
        floating_plan_id=floating.id,
        features=DEMO_FEATURES,
        single_device_key=single.activation_key,
        corporate_key=corporate.activation_key,
        corporate_max_seats=DEMO_SEATS,
        access_token=token.token,
        permissions=tuple(sorted(token.record.permissions)),
        public_key_pem=key.public_key_pem,
        lease_public_key_pem=lease_key.public_key_pem if lease_key else None,
    )


async def _floating_plan(session: AsyncSession, tenant_id: int) -> Plan:
    """The demo's floating plan (made once): corporate, 5 seats, leases, borrowing."""
    plan = await session.scalar(
        select(Plan).where(Plan.tenant_id == tenant_id, Plan.name == DEMO_FLOATING_PLAN)
    )
    if plan is None:
        features = await session.scalars(
            select(Feature).where(Feature.tenant_id == tenant_id, Feature.name.in_(DEMO_FEATURES))
        )
        plan = Plan(
            tenant_id=tenant_id,
            name=DEMO_FLOATING_PLAN,
            duration_days=0,
            is_corporate=True,
            max_seats=DEMO_SEATS,
            is_floating=True,
            max_borrow_hours=DEMO_BORROW_HOURS,
            features=list(features),
        )
        session.add(plan)
        await session.flush()
    return plan
