"""Create and find tenants; a new tenant gets its first key pairs (RSA, and Ed25519 for lease
tokens)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..crypto.master_key import MasterKey
from ..crypto.service import create_crypto_key
from ..errors import Conflict, NotFound
from ..models import KeyAlgorithm, Tenant

__all__ = ["create_tenant", "find_tenant", "get_tenant"]


async def create_tenant(session: AsyncSession, name: str, master_key: MasterKey) -> Tenant:
    """A new tenant named ``name`` with current RSA and Ed25519 keys; 409 if the name is
    taken."""
    name = name.strip()
    if not name:
        raise ValueError("a tenant needs a name")
    if await session.scalar(select(Tenant.id).where(Tenant.name == name)) is not None:
        raise Conflict("tenant_exists", f"A tenant named {name!r} already exists.")
    tenant = Tenant(name=name)
    session.add(tenant)
    await session.flush()
    await create_crypto_key(session, tenant.id, master_key)
    await create_crypto_key(session, tenant.id, master_key, algorithm=KeyAlgorithm.ED25519)
    return tenant


async def find_tenant(session: AsyncSession, reference: str) -> Tenant | None:
    """A tenant by id (digits) or by exact name."""
    reference = reference.strip()
    if reference.isdigit():
        tenant = await session.get(Tenant, int(reference))
        if tenant is not None:
            return tenant
    return await session.scalar(select(Tenant).where(Tenant.name == reference))


async def get_tenant(session: AsyncSession, reference: str) -> Tenant:
    """Like :func:`find_tenant` but 404 ``tenant_not_found`` when there is none."""
    tenant = await find_tenant(session, reference)
    if tenant is None:
        raise NotFound("tenant_not_found", f"No tenant {reference!r}.")
    return tenant
