"""Webhooks (both databases): registration, the outbox, signed delivery to a real receiver on a
loopback port, retries, tenant isolation, the expiration scan and concurrent workers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from exisone_server.config import Settings
from exisone_server.crypto.master_key import MasterKey
from exisone_server.db import Database
from exisone_server.kit.time import utc_now
from exisone_server.licenses.service import create_license
from exisone_server.models import (
    DeliveryStatus,
    Product,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from exisone_server.webhooks import WebhookSettings, WebhookWorker
from exisone_server.webhooks.scan import scan_expirations
from exisone_server.webhooks.signing import decrypt_secret

from .helpers import assert_error
from .seeding import Seed
from .webhook_receiver import Receiver, running_receiver, verify_signature

FAST = WebhookSettings(
    allow_http_loopback=True, retry_base_seconds=0, timeout_seconds=5, poll_seconds=0.05
)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture(autouse=True)
def _loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXISONE_WEBHOOKS_ALLOW_HTTP_LOOPBACK", "1")


@pytest.fixture(autouse=True)
async def _no_endpoints_left(database: Database) -> AsyncIterator[None]:
    """Remove every endpoint (and so its deliveries) afterwards: workers see the whole database."""
    yield
    async with database.write() as session:
        await session.execute(delete(WebhookEndpoint))


@pytest.fixture
def worker(database: Database, master_key: MasterKey) -> WebhookWorker:
    return WebhookWorker(database, master_key, FAST)


async def _register(seed: Seed, url: str, events: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url}
    if events is not None:
        body["events"] = events
    response = await seed.api.post("/api/webhook", body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _drain(worker: WebhookWorker, receiver: Receiver, count: int, path: str | None = None):  # type: ignore[no-untyped-def]
    """Run the worker until the receiver got ``count`` requests (at ``path``)."""
    for _ in range(400):
        if len(receiver.of(path) if path else receiver.requests) >= count:
            return
        await worker.run_once()
        await asyncio.sleep(0.01)
    raise AssertionError(f"only {len(receiver.requests)} requests arrived, wanted {count}")


async def _generate(seed: Seed, product: Product) -> str:
    response = await seed.api.post(
        "/api/activationkey/generate", {"productName": product.name, "email": "a@example.com"}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["activationKey"])


async def _events(database: Database, tenant_id: int) -> list[WebhookEvent]:
    async with database.read_session() as session:
        rows = await session.scalars(
            select(WebhookEvent)
            .where(WebhookEvent.tenant_id == tenant_id)
            .order_by(WebhookEvent.id)
        )
        return list(rows)


# -- registration -----------------------------------------------------------------------------


async def test_secret_is_shown_once_and_stored_encrypted(
    seed: Seed, receiver: Receiver, master_key: MasterKey
) -> None:
    created = await _register(seed, receiver.url + "/hook", ["license.created"])
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    assert created["events"] == ["license.created"]

    listed = (await seed.api.get("/api/webhook")).json()
    assert [item["id"] for item in listed] == [created["id"]]
    assert "secret" not in listed[0]

    async with seed.database.read_session() as session:
        row = await session.get(WebhookEndpoint, created["id"])
    assert row is not None
    assert secret.encode() not in row.secret_ciphertext
    assert row.master_key_id == master_key.key_id
    assert (
        decrypt_secret(master_key, row.tenant_id, row.url, row.secret_nonce, row.secret_ciphertext)
        == secret
    )


async def test_delete_and_other_tenants_endpoints(seed: Seed, receiver: Receiver) -> None:
    created = await _register(seed, receiver.url)
    other = await Seed.create(seed.database, seed.master_key, seed.client)
    assert_error(
        await other.api.client.delete(f"/api/webhook/{created['id']}", headers=other.api.headers),
        404,
        "webhook_not_found",
    )
    assert_error(
        await other.api.get(f"/api/webhook/{created['id']}/deliveries"), 404, "webhook_not_found"
    )
    response = await seed.api.client.delete(
        f"/api/webhook/{created['id']}", headers=seed.api.headers
    )
    assert response.status_code == 204
    assert (await seed.api.get("/api/webhook")).json() == []


async def test_webhook_api_needs_admin(seed: Seed, receiver: Receiver) -> None:
    from exisone_server.auth import Permission

    api = seed.api_with(await seed.token(Permission.GENERATE))
    response = await api.post("/api/webhook", {"url": receiver.url})
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("http://example.com/hook", True),
        ("ftp://example.com/hook", True),
        ("https://10.0.0.5/hook", True),
        ("https://169.254.169.254/latest", True),
        ("https://user:pw@example.com/", True),
        ("http://127.0.0.1:9/hook", False),
        ("https://127.0.0.1/hook", False),
        ("https://localhost/hook", False),
        ("not a url", True),
    ],
)
async def test_refused_urls(
    seed: Seed, monkeypatch: pytest.MonkeyPatch, url: str, allow: bool
) -> None:
    monkeypatch.setenv("EXISONE_WEBHOOKS_ALLOW_HTTP_LOOPBACK", "1" if allow else "0")
    assert_error(await seed.api.post("/api/webhook", {"url": url}), 400, "invalid_webhook_url")


async def test_unknown_event_is_refused(seed: Seed, receiver: Receiver) -> None:
    response = await seed.api.post("/api/webhook", {"url": receiver.url, "events": ["nope"]})
    assert_error(response, 400, "invalid_request")


async def test_private_address_is_refused_at_delivery_time(
    seed: Seed, worker: WebhookWorker
) -> None:
    """Registered while allowed, then delivered by a worker that refuses loopback targets."""
    await _register(seed, "http://127.0.0.1:9/never", ["license.created"])
    await _generate(seed, await seed.product())
    strict = WebhookWorker(
        worker.database, worker.master_key, FAST.with_changes(allow_http_loopback=False)
    )
    assert await strict.run_once() >= 1
    async with seed.database.read_session() as session:
        delivery = (await session.scalars(select(WebhookDelivery))).all()[-1]
    assert delivery.status is DeliveryStatus.PENDING
    assert delivery.last_status_code is None
    assert delivery.last_error == "target refused"  # the reason is in the server log only


# -- the outbox ----------------------------------------------------------------------------------


async def test_no_endpoint_no_event(seed: Seed) -> None:
    product = await seed.product(trial_days=5)
    key = await _generate(seed, product)
    await seed.api.post("/api/license/validate", {"activationKey": key, "hardwareId": "X"})
    await seed.api.post("/api/license/validate", {"hardwareId": "T", "productName": product.name})
    assert await _events(seed.database, seed.tenant.id) == []


async def test_event_is_written_in_the_transaction_of_the_change(
    seed: Seed, receiver: Receiver
) -> None:
    await _register(seed, receiver.url, ["license.created"])
    product = await seed.product()
    with pytest.raises(RuntimeError):
        async with seed.database.write() as session:
            row = await session.get(Product, product.id)
            assert row is not None
            await create_license(session, product=row, email="x@example.com")
            raise RuntimeError("the change fails after the event was emitted")
    assert await _events(seed.database, seed.tenant.id) == []

    await _generate(seed, product)
    events = await _events(seed.database, seed.tenant.id)
    assert [event.event_type for event in events] == ["license.created"]
    async with seed.database.read_session() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.event_id == events[0].id)
        )
    assert count == 1


async def test_lifecycle_events_are_delivered_signed(
    seed: Seed, receiver: Receiver, worker: WebhookWorker
) -> None:
    created = await _register(seed, receiver.url + "/all")
    product = await seed.product(trial_days=14)
    key = await _generate(seed, product)
    license_body = {"activationKey": key, "productName": product.name, "email": "u@example.com"}
    response = await seed.api.post("/api/license/activate", {**license_body, "hardwareId": "HW-1"})
    assert response.status_code == 200, response.text
    failed = await seed.api.post(
        "/api/license/validate", {"activationKey": key, "hardwareId": "OTHER-HW"}
    )
    assert failed.json()["isValid"] is False
    ok = await seed.api.post("/api/license/validate", {"activationKey": key, "hardwareId": "HW-1"})
    assert ok.json()["isValid"] is True
    response = await seed.api.post(
        "/api/license/deactivate",
        {"licenseKey": key, "hardwareId": "HW-1", "productName": product.name},
    )
    assert response.status_code == 200, response.text
    response = await seed.api.post(f"/api/license/{key}/revoke", {"note": "chargeback"})
    assert response.status_code == 200, response.text
    for _ in range(2):  # the second visit of the device starts nothing
        trial = await seed.api.post(
            "/api/license/validate", {"hardwareId": "TRIAL-HW", "productName": product.name}
        )
        assert trial.json()["status"] == "trial"

    await _drain(worker, receiver, 6)
    await worker.run_once()
    order = [
        "license.created",
        "license.activated",
        "license.validation.failed",
        "device.deactivated",
        "license.revoked",
        "trial.started",
    ]
    # Sent concurrently: arrival order is free; one request per event.
    received = sorted(
        receiver.requests, key=lambda item: order.index(item.headers["exisone-webhook-event"])
    )
    assert [item.headers["exisone-webhook-event"] for item in received] == order
    for item in received:
        assert verify_signature(created["secret"], item)
        assert not verify_signature("whsec_wrong", item)
        assert item.headers["content-type"] == "application/json"
        body = item.json
        assert body["id"] == item.event_id and body["type"] == item.headers["exisone-webhook-event"]
        assert body["tenantId"] == seed.tenant.id
    data = [item.json["data"] for item in received]
    assert data[0]["activationKey"] == key and data[0]["productName"] == product.name
    assert data[0]["email"] == "a@example.com"
    assert (data[1]["hardwareId"], data[1]["currentSeats"]) == ("HW-1", 1)
    assert data[2]["status"] == "invalid" and data[2]["reason"] == "not_activated"
    assert data[2]["activationKey"] == key and data[2]["hardwareId"] == "OTHER-HW"
    assert (data[3]["hardwareId"], data[3]["currentSeats"]) == ("HW-1", 0)
    assert data[4]["reason"] == "chargeback"
    assert data[5]["hardwareId"] == "TRIAL-HW" and data[5]["productName"] == product.name

    deliveries = (await seed.api.get(f"/api/webhook/{created['id']}/deliveries")).json()
    assert len(deliveries) == 6
    assert {(d["status"], d["lastStatusCode"], d["attempts"]) for d in deliveries} == {
        ("delivered", 200, 1)
    }


async def test_tampered_body_does_not_verify(
    seed: Seed, receiver: Receiver, worker: WebhookWorker
) -> None:
    created = await _register(seed, receiver.url, ["license.created"])
    await _generate(seed, await seed.product())
    await _drain(worker, receiver, 1)
    item = receiver.requests[0]
    assert verify_signature(created["secret"], item)
    forged = type(item)(item.path, item.headers, item.body.replace(b"a@example", b"b@example"))
    assert not verify_signature(created["secret"], forged)


# -- retries ----------------------------------------------------------------------------------


async def test_fails_three_times_then_succeeds_exactly_once_more(
    seed: Seed, receiver: Receiver, worker: WebhookWorker
) -> None:
    created = await _register(seed, receiver.url, ["license.created"])
    receiver.script = [500, 503, 404]
    await _generate(seed, await seed.product())
    await _drain(worker, receiver, 4)
    for _ in range(5):
        await worker.run_once()
    assert len(receiver.requests) == 4
    assert len({item.event_id for item in receiver.requests}) == 1
    assert [item.headers["exisone-webhook-attempt"] for item in receiver.requests] == [
        "1",
        "2",
        "3",
        "4",
    ]
    [delivery] = (await seed.api.get(f"/api/webhook/{created['id']}/deliveries")).json()
    assert (delivery["status"], delivery["attempts"], delivery["lastStatusCode"]) == (
        "delivered",
        4,
        200,
    )
    assert "lastError" not in delivery


async def test_retries_are_spaced_exponentially(seed: Seed, receiver: Receiver) -> None:
    from exisone_server.webhooks.worker import retry_delay

    settings = WebhookSettings()
    delays = [retry_delay(attempt, settings).total_seconds() for attempt in range(1, 12)]
    assert 24 <= delays[0] <= 36 and 48 <= delays[1] <= 72
    assert max(delays) <= 3600 * 1.2
    # The whole schedule keeps retrying for at least 24 hours before a delivery is failed.
    assert settings.retry_window >= timedelta(hours=24) + timedelta(seconds=3600 * 1.2)


async def test_failed_after_the_retry_window_then_resent(
    seed: Seed, receiver: Receiver, database: Database, master_key: MasterKey
) -> None:
    created = await _register(seed, receiver.url, ["license.created"])
    receiver.script = [500]
    short = WebhookWorker(database, master_key, FAST.with_changes(retry_base_seconds=3600))
    await _generate(seed, await seed.product())
    async with database.write() as session:  # the window ends before the next retry
        delivery = (
            await session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.endpoint_id == created["id"])
            )
        ).one()
        delivery.give_up_at = utc_now() + timedelta(minutes=1)
    await _drain(short, receiver, 1)
    [row] = (await seed.api.get(f"/api/webhook/{created['id']}/deliveries")).json()
    assert (row["status"], row["lastStatusCode"], row["lastError"]) == ("failed", 500, "HTTP 500")
    assert await short.run_once() == 0

    response = await seed.api.post(f"/api/webhook/deliveries/{row['id']}/resend")
    assert response.status_code == 202, response.text
    await _drain(short, receiver, 2)
    [row] = (await seed.api.get(f"/api/webhook/{created['id']}/deliveries")).json()
    assert (row["status"], row["attempts"]) == ("delivered", 2)
    other = await Seed.create(seed.database, seed.master_key, seed.client)
    assert_error(
        await other.api.post(f"/api/webhook/deliveries/{row['id']}/resend"),
        404,
        "delivery_not_found",
    )


# -- tenants ------------------------------------------------------------------------------------


async def test_no_event_is_delivered_for_another_tenant(
    seed: Seed, receiver: Receiver, worker: WebhookWorker
) -> None:
    other = await Seed.create(seed.database, seed.master_key, seed.client)
    await _register(seed, receiver.url + "/mine")
    await _register(other, receiver.url + "/theirs")
    mine, theirs = await seed.product(), await other.product()
    for _ in range(3):
        await _generate(seed, mine)
    await _generate(other, theirs)
    await _drain(worker, receiver, 4)
    await worker.run_once()
    assert len(receiver.of("/mine")) == 3 and len(receiver.of("/theirs")) == 1
    assert {item.json["tenantId"] for item in receiver.of("/mine")} == {seed.tenant.id}
    assert {item.json["tenantId"] for item in receiver.of("/theirs")} == {other.tenant.id}


# -- time-based events ------------------------------------------------------------------------


async def test_expiration_scan_is_idempotent(
    seed: Seed, receiver: Receiver, database: Database, worker: WebhookWorker
) -> None:
    await _register(seed, receiver.url, ["license.expired", "license.expiring_soon"])
    product = await seed.product()
    now = utc_now()
    soon = await seed.license(product, validity_days=3)
    later = await seed.license(product, validity_days=30)
    await seed.license(product)  # perpetual
    settings = FAST.with_changes(expiring_days=7)

    assert await scan_expirations(database, settings, now) == 1  # soon: expiring
    assert await scan_expirations(database, settings, now) == 0
    past_soon = now + timedelta(days=4)
    assert await scan_expirations(database, settings, past_soon) == 1  # soon: expired
    assert await scan_expirations(database, settings, past_soon) == 0
    await seed.update_license(soon, expires_at=now + timedelta(days=20))  # renewed
    assert await scan_expirations(database, settings, now + timedelta(days=15)) == 1
    assert await scan_expirations(database, settings, now + timedelta(days=25)) == 2
    assert await scan_expirations(database, settings, now + timedelta(days=25)) == 0

    events = await _events(database, seed.tenant.id)
    assert [(e.event_type, e.idempotency_key is not None) for e in events] == [
        ("license.expiring_soon", True),
        ("license.expired", True),
        ("license.expiring_soon", True),
        ("license.expired", True),
        ("license.expiring_soon", True),
    ]
    await _drain(worker, receiver, 5)
    keys = [item.json["data"]["activationKey"] for item in receiver.requests]
    assert sorted(keys) == sorted([soon.activation_key] * 4 + [later.activation_key])


async def test_concurrent_scans_write_each_event_once(
    seed: Seed, receiver: Receiver, settings: Settings
) -> None:
    await _register(seed, receiver.url, ["license.expiring_soon"])
    product = await seed.product()
    for _ in range(5):
        await seed.license(product, validity_days=2)
    engines = [Database.from_settings(settings) for _ in range(3)]
    try:
        now = utc_now()
        counts = await asyncio.gather(*(scan_expirations(db, FAST, now) for db in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    assert sum(counts) == 5
    assert len(await _events(seed.database, seed.tenant.id)) == 5


# -- several workers ------------------------------------------------------------------------------


async def test_two_workers_never_deliver_the_same_event_twice(
    seed: Seed, receiver: Receiver, settings: Settings, master_key: MasterKey
) -> None:
    """Two worker instances, each with its own engine (as two server processes would)."""
    await _register(seed, receiver.url, ["license.created"])
    product = await seed.product()
    for _ in range(12):
        await _generate(seed, product)
    receiver.delay = 0.05
    engines = [Database.from_settings(settings) for _ in range(2)]
    workers = [WebhookWorker(engine, master_key, FAST) for engine in engines]
    try:

        async def loop(worker: WebhookWorker) -> int:
            sent = 0
            for _ in range(200):
                if len(receiver.requests) >= 12:
                    break
                sent += await worker.run_once()
                await asyncio.sleep(0.005)
            return sent

        sent = await asyncio.gather(*(loop(worker) for worker in workers))
    finally:
        for engine in engines:
            await engine.dispose()
    ids = [item.event_id for item in receiver.requests]
    assert len(ids) == 12 and len(set(ids)) == 12
    assert sum(sent) >= 12  # (a refused connection would be an attempt, then a retry)
    async with seed.database.read_session() as session:
        statuses = list(
            await session.scalars(
                select(WebhookDelivery.status)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(WebhookEndpoint.tenant_id == seed.tenant.id)
            )
        )
    assert statuses.count(DeliveryStatus.DELIVERED) >= 12
    assert DeliveryStatus.PENDING not in statuses
