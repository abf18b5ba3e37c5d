"""The cluster bed (session-scoped) and the drills' report.

The bed needs root, iproute2's ``ip netns``, HAProxy and Debian's PostgreSQL binaries: without
them the drills skip with the reason, except under ``CI=true`` where that is a failure. Every
drill hands its numbers to :func:`report`; they are printed at once (with ``-s``) and again in
pytest's terminal summary (always).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from exisone_server.auth import Permission, create_access_token
from exisone_server.config import Settings, normalize_database_url
from exisone_server.crypto.master_key import MasterKey
from exisone_server.db import Database
from exisone_server.licenses.service import create_license
from exisone_server.models import Product
from exisone_server.tenants.service import create_tenant

from .bed import Bed, missing_parts, new_bed, run_from

_REPORTS: list[str] = []


def report(drill: str, **numbers: object) -> None:
    """Print a drill's numbers now and in the terminal summary."""
    line = f"{drill}: " + ", ".join(f"{name}={value}" for name, value in numbers.items())
    print(f"\n[cluster] {line}")
    _REPORTS.append(line)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _REPORTS:
        terminalreporter.section("cluster drills")
        for line in _REPORTS:
            terminalreporter.write_line(line)


@dataclass
class Shop:
    """A tenant on the bed: its validate/activate token and a product."""

    bed: Bed
    token: str
    product: str
    tenant_id: int
    product_id: int

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"ExisOneApi {self.token}"}

    def license(self, max_seats: int = 5) -> str:
        """A new corporate license with ``max_seats`` seats: its activation key."""

        async def make() -> str:
            database = _database(self.bed)
            try:
                async with database.write() as session:
                    product = await session.get(Product, self.product_id)
                    assert product is not None
                    license = await create_license(
                        session,
                        product=product,
                        email="buyer@example.com",
                        is_corporate=True,
                        max_seats=max_seats,
                    )
                    return license.activation_key
            finally:
                await database.dispose()

        return run_from("client", make)


def _database(bed: Bed) -> Database:
    settings = Settings(
        data_dir=bed.root / "seed",
        database_url=normalize_database_url(bed.admin_url("pg1")),
        master_key=bed.master_key,
    )
    return Database.from_settings(settings)


@pytest.fixture(scope="session")
def bed() -> Iterator[Bed]:
    """The running bed; removed at the end, also when a drill failed."""
    problem = missing_parts()
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the cluster bed is required under CI: {problem}")
        pytest.skip(f"no cluster bed here: {problem}")
    bed = new_bed()
    try:
        bed.up()
        yield bed
    finally:
        bed.down()


@pytest.fixture(scope="session")
def shop(bed: Bed) -> Shop:
    """A tenant, a token (validate + activate) and a product, written on the primary."""

    async def make() -> Shop:
        database = _database(bed)
        try:
            async with database.write() as session:
                tenant = await create_tenant(
                    session,
                    f"cluster-{uuid.uuid4().hex[:8]}",
                    MasterKey.from_base64(bed.master_key),
                )
                product = Product(tenant_id=tenant.id, name="ClusterApp")
                session.add(product)
                await session.flush()
                issued = await create_access_token(
                    session, tenant_id=tenant.id, name="cluster", permissions=tuple(Permission)
                )
                return Shop(bed, issued.token, product.name, tenant.id, product.id)
        finally:
            await database.dispose()

    return run_from("client", make)
