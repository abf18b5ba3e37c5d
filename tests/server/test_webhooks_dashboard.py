"""The dashboard's Webhooks page: add an endpoint (secret once), deliveries, resend, remove."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import delete, select

from exisone_server.crypto.master_key import MasterKey
from exisone_server.db import Database
from exisone_server.models import WebhookEndpoint
from exisone_server.webhooks import WebhookSettings, WebhookWorker

from ..dashboard.helpers import csrf_of, login
from .seeding import Seed
from .webhook_receiver import Receiver, running_receiver, verify_signature


@pytest.fixture(autouse=True)
async def _no_endpoints_left(database: Database) -> AsyncIterator[None]:
    """Remove every endpoint (and so its deliveries) afterwards: workers see the whole database."""
    yield
    async with database.write() as session:
        await session.execute(delete(WebhookEndpoint))


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setenv("EXISONE_WEBHOOKS_ALLOW_HTTP_LOOPBACK", "1")
    with running_receiver() as running:
        yield running


async def _post(
    client: httpx.AsyncClient, page: str, action: str, **fields: str | list[str]
) -> httpx.Response:
    token = csrf_of((await client.get(page)).text)
    return await client.post(action, data={"csrf_token": token, **fields})


async def _deliver(worker: WebhookWorker, receiver: Receiver, count: int) -> None:
    for _ in range(100):
        if len(receiver.requests) >= count:
            return
        await worker.run_once()
    raise AssertionError(f"{len(receiver.requests)} requests arrived, wanted {count}")


async def test_webhooks_page(
    seed: Seed,
    client: httpx.AsyncClient,
    receiver: Receiver,
    database: Database,
    master_key: MasterKey,
) -> None:
    await login(client, seed.database, seed.tenant.id)
    assert "Webhooks" in (await client.get("/dashboard/")).text
    refused = await _post(
        client, "/dashboard/webhooks", "/dashboard/webhooks", url="http://example.com/x"
    )
    assert refused.status_code == 400 and "https://" in refused.text

    added = await _post(
        client,
        "/dashboard/webhooks",
        "/dashboard/webhooks",
        url=receiver.url + "/dash",
        events=["license.created", "license.revoked"],
    )
    assert added.status_code == 200, added.text
    found = re.search(r'id="webhook-secret" readonly value="(whsec_[^"]+)"', added.text)
    assert found
    secret = found.group(1)
    listing = (await client.get("/dashboard/webhooks")).text
    assert receiver.url + "/dash" in listing and secret not in listing
    async with database.read_session() as session:
        endpoint = await session.scalar(
            select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == seed.tenant.id)
        )
    assert endpoint is not None and endpoint.events == ["license.created", "license.revoked"]

    receiver.script = [500]
    product = await seed.product()
    await seed.api.post(
        "/api/activationkey/generate", {"productName": product.name, "email": "d@example.com"}
    )
    worker = WebhookWorker(
        database, master_key, WebhookSettings(allow_http_loopback=True, retry_base_seconds=600)
    )
    await _deliver(worker, receiver, 1)
    page = (await client.get(f"/dashboard/webhooks/{endpoint.id}")).text
    assert "license.created" in page and "pending" in page and "HTTP 500" in page
    assert ">500<" in page

    action = re.search(r'action="(/dashboard/webhooks/deliveries/\d+/resend)"', page)
    assert action
    resent = await _post(client, f"/dashboard/webhooks/{endpoint.id}", action.group(1))
    assert resent.status_code == 302
    assert resent.headers["location"] == f"/dashboard/webhooks/{endpoint.id}"
    await _deliver(worker, receiver, 2)
    page = (await client.get(f"/dashboard/webhooks/{endpoint.id}")).text
    assert "delivered" in page and ">200<" in page
    assert len(receiver.requests) == 2 and verify_signature(secret, receiver.requests[1])

    removed = await _post(
        client, "/dashboard/webhooks", f"/dashboard/webhooks/{endpoint.id}/delete"
    )
    assert removed.status_code == 302
    assert "No endpoints yet." in (await client.get("/dashboard/webhooks")).text
