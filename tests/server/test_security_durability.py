"""Durability: activations and key generations acknowledged before a ``kill -9`` of the
server are all in the database afterwards, with no half-written rows (SQLite: WAL, FULL)."""

from __future__ import annotations

import asyncio
import itertools
import uuid

import httpx
import pytest
from sqlalchemy import func, select, text

from exisone_server.config import Settings
from exisone_server.crypto.master_key import MasterKey
from exisone_server.db import Database
from exisone_server.migrate import upgrade
from exisone_server.models import (
    Activation,
    AuditEvent,
    HistoryAction,
    License,
    LicenseHistory,
    license_features,
)

from .security_servers import running
from .seeding import Seed

pytestmark = pytest.mark.slow

WORKERS = 8
ACKS_BEFORE_KILL = 60


async def _seed(settings: Settings) -> tuple[str, str, int, str]:
    database = Database.from_settings(settings)
    try:
        async with httpx.AsyncClient() as unused:
            seed = await Seed.create(
                database, MasterKey.from_base64(settings.master_key or ""), unused
            )
        product = await seed.product("Durable")
        plan = await seed.plan("Durable plan", features=("Alpha", "Beta"))
        license = await seed.license(product, is_corporate=True, max_seats=None)
        return seed.api.token, license.activation_key, plan.id, product.name
    finally:
        await database.dispose()


async def test_acknowledged_writes_survive_kill_9(empty_settings: Settings) -> None:
    upgrade(empty_settings)
    token, corporate_key, plan_id, product = await _seed(empty_settings)
    headers = {"Authorization": f"ExisOneApi {token}"}
    activated: list[str] = []
    generated: list[str] = []
    counter = itertools.count()

    with running(empty_settings, 1, "--log-level", "warning") as (server,):
        done = asyncio.Event()

        async def stream(client: httpx.AsyncClient, worker: int) -> None:
            while not done.is_set():
                n = next(counter)
                try:
                    if n % 2:
                        device = f"dev-{worker}-{n}-{uuid.uuid4().hex[:6]}"
                        response = await client.post(
                            "/api/license/activate",
                            json={
                                "activationKey": corporate_key,
                                "hardwareId": device,
                                "productName": product,
                                "email": "d@example.com",
                            },
                            headers=headers,
                        )
                        if response.status_code == 200:
                            activated.append(device.upper())
                    else:
                        response = await client.post(
                            "/api/activationkey/generate",
                            json={
                                "productName": product,
                                "email": "g@example.com",
                                "planId": plan_id,
                            },
                            headers=headers,
                        )
                        if response.status_code == 200:
                            generated.append(response.json()["activationKey"])
                except httpx.TransportError:
                    return  # the server is gone: this request was never acknowledged
                if len(activated) + len(generated) >= ACKS_BEFORE_KILL and not done.is_set():
                    done.set()
                    server.kill()  # SIGKILL while the other workers' requests are in flight

        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            await asyncio.gather(*(stream(client, worker) for worker in range(WORKERS)))
        assert server.process.returncode == -9

    assert len(activated) + len(generated) >= ACKS_BEFORE_KILL
    database = Database.from_settings(empty_settings)
    try:
        async with database.read() as connection:
            corporate_id = await connection.scalar(
                select(License.id).where(License.activation_key == corporate_key)
            )
            devices = set(
                await connection.scalars(
                    select(Activation.hardware_id).where(
                        Activation.license_id == corporate_id, Activation.deactivated_at.is_(None)
                    )
                )
            )
            assert set(activated) <= devices  # every acknowledged activation is there
            events = await connection.scalar(
                select(func.count())
                .select_from(LicenseHistory)
                .where(
                    LicenseHistory.license_id == corporate_id,
                    LicenseHistory.action == HistoryAction.ACTIVATED,
                )
            )
            assert events == len(devices)  # no activation without its history event
            keys = set(
                await connection.scalars(
                    select(License.activation_key).where(License.plan_id == plan_id)
                )
            )
            assert set(generated) <= keys  # every acknowledged key is there
            for key in keys:  # and each one whole: features, created event, audit entry
                license_id = await connection.scalar(
                    select(License.id).where(License.activation_key == key)
                )
                features = await connection.scalar(
                    select(func.count())
                    .select_from(license_features)
                    .where(license_features.c.license_id == license_id)
                )
                created = await connection.scalar(
                    select(func.count())
                    .select_from(LicenseHistory)
                    .where(
                        LicenseHistory.license_id == license_id,
                        LicenseHistory.action == HistoryAction.CREATED,
                    )
                )
                audited = await connection.scalar(
                    select(func.count())
                    .select_from(AuditEvent)
                    .where(AuditEvent.action == "license.generate", AuditEvent.target == key)
                )
                assert (features, created, audited) == (2, 1, 1), key
            if database.dialect == "sqlite":
                assert (await connection.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
                assert (await connection.execute(text("PRAGMA synchronous"))).scalar() == 2  # FULL
    finally:
        await database.dispose()

    with running(empty_settings, 1, "--log-level", "warning") as (server,):  # restart
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            answer = await client.post(
                "/api/license/validate",
                json={
                    "activationKey": corporate_key,
                    "hardwareId": activated[0],
                    "productName": product,
                },
                headers=headers,
            )
    assert answer.json()["status"] == "licensed", answer.text
