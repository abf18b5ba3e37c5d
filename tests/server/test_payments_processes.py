"""Two real ``exisone-server serve`` processes on one database (SQLite file, PostgreSQL) receive
the same Stripe events at once: every order makes exactly one license, every event is stored
once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from exisone_server.config import Settings
from exisone_server.crypto.master_key import MasterKey
from exisone_server.db import Database
from exisone_server.models import License, PaymentOrder, ReceivedPaymentEvent

from .fake_providers import stripe_headers
from .payment_helpers import dumps, open_shop, stripe_checkout, stripe_event
from .security_servers import Server, running
from .seeding import Seed

pytestmark = pytest.mark.slow

ORDERS = 12


@pytest.fixture(scope="module")
def servers(settings: Settings) -> Iterator[list[Server]]:
    with running(settings, 2, "--log-level", "warning") as started:
        yield started


async def test_concurrent_duplicates_across_two_processes(
    servers: list[Server], database: Database, settings: Settings
) -> None:
    servers_key = MasterKey.from_base64(settings.master_key or "")  # the processes' own
    async with httpx.AsyncClient() as unused:
        seed = await Seed.create(database, servers_key, unused)
    shop = await open_shop(seed, send_purchase_email=False)
    deliveries: list[tuple[str, bytes, dict[str, str]]] = []
    intents = []
    for _ in range(ORDERS):
        intent = "pi_" + uuid.uuid4().hex
        intents.append(intent)
        checkout = dumps(stripe_checkout(shop.product.id, payment_intent=intent))
        backup = dumps(
            stripe_event(
                "payment_intent.succeeded",
                {
                    "id": intent,
                    "receipt_email": "buyer@example.com",
                    "metadata": {"productId": str(shop.product.id)},
                },
            )
        )
        for server in servers:  # the same event to both processes, and the backup event
            deliveries.append((server.url, checkout, stripe_headers(checkout, shop.stripe_secret)))
            deliveries.append((server.url, backup, stripe_headers(backup, shop.stripe_secret)))
    async with httpx.AsyncClient(timeout=60) as client:
        answers = await asyncio.gather(
            *(
                client.post(f"{url}/api/stripe/webhook", content=body, headers=headers)
                for url, body, headers in deliveries
            )
        )
    assert {answer.status_code for answer in answers} == {200}, [a.text for a in answers][:3]
    # A duplicate that arrives after its original committed says so, with the stored status.
    fulfilled = [
        a.json()
        for a in answers
        if a.json().get("status") == "fulfilled" and not a.json().get("duplicate")
    ]
    assert len(fulfilled) == ORDERS
    async with database.read() as connection:
        licenses = await connection.scalar(
            select(func.count()).select_from(License).where(License.tenant_id == seed.tenant.id)
        )
        orders = await connection.scalar(
            select(func.count())
            .select_from(PaymentOrder)
            .where(PaymentOrder.order_ref.in_(intents))
        )
        events = await connection.scalar(
            select(func.count())
            .select_from(ReceivedPaymentEvent)
            .where(ReceivedPaymentEvent.tenant_id == seed.tenant.id)
        )
    assert licenses == ORDERS and orders == ORDERS and events == 2 * ORDERS
