"""Test data helpers: a tenant and its products, plans, licenses and tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from exisone.protocol import TrustedKeys, load_trusted_keys
from exisone_server.auth import Permission, create_access_token
from exisone_server.crypto.master_key import MasterKey
from exisone_server.db import Database
from exisone_server.licenses.service import create_license
from exisone_server.models import CryptoKey, Feature, License, Plan, Product, Tenant
from exisone_server.tenants.service import create_tenant

from .helpers import check_protocol

ALL_PERMISSIONS = tuple(Permission)


class Api:
    """The test client with one token's Authorization header on every call."""

    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client = client
        self.token = token
        self.headers = {"Authorization": f"ExisOneApi {token}"}

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = await self.client.post(path, json=body, headers=headers, **kwargs)
        check_protocol(path, response)
        return response

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = await self.client.get(path, headers=headers, **kwargs)
        check_protocol(path, response)
        return response


@dataclass
class Seed:
    database: Database
    master_key: MasterKey
    client: httpx.AsyncClient
    tenant: Tenant
    api: Api = field(init=False)

    @classmethod
    async def create(
        cls, database: Database, master_key: MasterKey, client: httpx.AsyncClient
    ) -> Seed:
        async with database.write() as session:
            tenant = await create_tenant(session, f"tenant-{uuid.uuid4().hex[:10]}", master_key)
        seed = cls(database, master_key, client, tenant)
        seed.api = Api(client, await seed.token(*ALL_PERMISSIONS))
        return seed

    async def token(
        self,
        *permissions: Permission,
        expires_in: timedelta | None = None,
        tenant_id: int | None = None,
    ) -> str:
        async with self.database.write() as session:
            issued = await create_access_token(
                session,
                tenant_id=tenant_id or self.tenant.id,
                name="test",
                permissions=permissions or (Permission.VERIFY,),
                expires_in=expires_in,
            )
        return issued.token

    def api_with(self, token: str) -> Api:
        return Api(self.client, token)

    async def product(self, name: str = "MyProduct", **fields: Any) -> Product:
        async with self.database.write() as session:
            product = Product(tenant_id=self.tenant.id, name=name, **fields)
            session.add(product)
        return product

    async def floating_plan(self, **fields: Any) -> Plan:
        """A floating plan with the feature ``Pro`` and leases of 30 s to 15 min (2 by
        default), ``fields`` overriding any of it."""
        settings: dict[str, Any] = {
            "features": ("Pro",),
            "is_floating": True,
            "lease_ttl_min_seconds": 30,
            "lease_ttl_max_seconds": 900,
            "lease_ttl_default_seconds": 120,
            **fields,
        }
        return await self.plan(**settings)

    async def plan(
        self,
        name: str = "Pro",
        features: tuple[str, ...] = (),
        duration_days: int = 0,
        **fields: Any,
    ) -> Plan:
        async with self.database.write() as session:
            rows = []
            for feature_name in features:
                feature = await session.scalar(
                    select(Feature).where(
                        Feature.tenant_id == self.tenant.id, Feature.name == feature_name
                    )
                )
                if feature is None:
                    feature = Feature(tenant_id=self.tenant.id, name=feature_name)
                    session.add(feature)
                rows.append(feature)
            plan = Plan(
                tenant_id=self.tenant.id,
                name=name,
                duration_days=duration_days,
                features=rows,
                **fields,
            )
            session.add(plan)
        return plan

    async def license(self, product: Product, **fields: Any) -> License:
        fields.setdefault("email", "user@example.com")
        async with self.database.write() as session:
            return await create_license(session, product=product, **fields)

    async def update_license(self, license: License, **values: Any) -> None:
        async with self.database.write() as session:
            row = await session.get(License, license.id)
            assert row is not None
            for name, value in values.items():
                setattr(row, name, value)

    async def public_keys(self) -> TrustedKeys:
        """The tenant's public keys as a client trusts them: ``rsa_keys`` (offline codes) and
        ``lease_keys`` (every key: lease tokens)."""
        async with self.database.read_session() as session:
            pems = list(
                await session.scalars(
                    select(CryptoKey.public_key_pem).where(CryptoKey.tenant_id == self.tenant.id)
                )
            )
        return load_trusted_keys(pems)
