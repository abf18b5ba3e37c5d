"""Shared pieces of the payment tests: a selling tenant (an app per provider, a product that
e-mails its key) and events in each provider's shape."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from exisone_server.db import Database
from exisone_server.models import (
    License,
    MailMessage,
    PaymentApp,
    Product,
    ReceivedPaymentEvent,
)
from exisone_server.payments.apps import AppForm, save_app

from .fake_providers import (
    PADDLE_API_KEY,
    PAYPAL_CLIENT_ID,
    PAYPAL_SECRET,
    PAYPAL_WEBHOOK_ID,
    FakeProviders,
    running_fake_providers,
)
from .seeding import Seed
from .smtp_server import MailServer


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


@dataclass
class Shop:
    seed: Seed
    product: Product
    stripe_secret: str
    paddle_secret: str
    lemonsqueezy_secret: str
    apps: dict[str, PaymentApp]

    @property
    def client(self) -> httpx.AsyncClient:
        return self.seed.client

    async def post(self, provider: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return await self.client.post(f"/api/{provider}/webhook", content=body, headers=headers)

    async def licenses(self) -> list[License]:
        async with self.seed.database.read_session() as session:
            rows = await session.scalars(
                select(License)
                .where(License.tenant_id == self.seed.tenant.id)
                .order_by(License.seq)
            )
            return list(rows)

    async def events(self) -> list[ReceivedPaymentEvent]:
        async with self.seed.database.read_session() as session:
            rows = await session.scalars(
                select(ReceivedPaymentEvent)
                .where(ReceivedPaymentEvent.tenant_id == self.seed.tenant.id)
                .order_by(ReceivedPaymentEvent.seq)
            )
            return list(rows)

    async def messages(self) -> list[MailMessage]:
        async with self.seed.database.read_session() as session:
            rows = await session.scalars(
                select(MailMessage)
                .where(MailMessage.tenant_id == self.seed.tenant.id)
                .order_by(MailMessage.id)
            )
            return list(rows)


async def event_count(database: Database) -> int:
    async with database.read() as connection:
        return int(
            await connection.scalar(select(func.count()).select_from(ReceivedPaymentEvent)) or 0
        )


async def open_shop(seed: Seed, **product_fields: Any) -> Shop:
    fields = {"send_purchase_email": True, "default_license_days": 365, **product_fields}
    product = await seed.product(f"Shop Product {uuid.uuid4().hex[:6]}", **fields)
    secrets = {name: f"secret_{name}_{uuid.uuid4().hex}" for name in ("paddle", "ls")}
    stripe_secret = f"whsec_{uuid.uuid4().hex}"
    apps: dict[str, PaymentApp] = {}
    async with seed.database.write() as session:
        for form in (
            AppForm(
                provider="stripe",
                name="Stripe test",
                public_key="pk_test_abc",
                secret_key="sk_test_" + uuid.uuid4().hex,
                signing_secret=stripe_secret,
            ),
            AppForm(
                provider="paddle",
                name="Paddle sandbox",
                secret_key=PADDLE_API_KEY,
                signing_secret=secrets["paddle"],
            ),
            AppForm(provider="lemonsqueezy", name="Lemon", signing_secret=secrets["ls"]),
            AppForm(
                provider="paypal",
                name="PayPal sandbox",
                public_key=PAYPAL_CLIENT_ID,
                secret_key=PAYPAL_SECRET,
                webhook_id=f"{PAYPAL_WEBHOOK_ID}{seed.tenant.id}",
            ),
        ):
            apps[form.provider] = await save_app(session, seed.tenant.id, seed.master_key, form)
    return Shop(seed, product, stripe_secret, secrets["paddle"], secrets["ls"], apps)


def stripe_checkout(
    product_id: int | str | None,
    *,
    email: str = "buyer@example.com",
    quantity: int | None = None,
    payment_intent: str | None = None,
    subscription: str | None = None,
    event_id: str | None = None,
    extra_metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, str] = dict(extra_metadata or {})
    if product_id is not None:
        metadata["productId"] = str(product_id)
    if quantity is not None:
        metadata["quantity"] = str(quantity)
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": "checkout.session.completed",
        "data": {
            "object": {
                "id": f"cs_test_{uuid.uuid4().hex}",
                "object": "checkout.session",
                "mode": "subscription" if subscription else "payment",
                "payment_status": "paid",
                "payment_intent": None
                if subscription
                else (payment_intent or f"pi_{uuid.uuid4().hex}"),
                "subscription": subscription,
                "customer_details": {"email": email},
                "metadata": metadata,
            }
        },
    }


def stripe_event(event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": event_type,
        "data": {"object": obj},
    }


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProviders]:
    """The local provider stand-ins, with the server's settings pointing at them."""
    with running_fake_providers(tmp_path) as providers:
        for name, value in providers.env().items():
            monkeypatch.setenv(name, value)
        yield providers


@pytest.fixture
def smtp(mail_server: MailServer, monkeypatch: pytest.MonkeyPatch) -> MailServer:
    """The real SMTP server as the server-wide mail server."""
    monkeypatch.setenv("EXISONE_SMTP_URL", mail_server.url)
    monkeypatch.setenv("EXISONE_MAIL_FROM", "Shop <shop@example.com>")
    monkeypatch.setenv("EXISONE_SMTP_CA_FILE", str(mail_server.ca_file))
    return mail_server


@pytest.fixture
async def shop(seed: Seed, fake: FakeProviders) -> Shop:
    """A selling tenant: an app per provider and a product that e-mails its key."""
    return await open_shop(seed)
