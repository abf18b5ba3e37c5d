"""The delivery worker: an asyncio task in each server process.

Every poll it claims due deliveries one by one with a conditional UPDATE
(``... WHERE id = ? AND status = 'pending' AND (locked_until IS NULL OR locked_until < now)``),
so several processes on one database never send the same delivery at the same time; a claim
counts as an attempt and holds the row for :attr:`WebhookSettings.lease`, so a process killed
mid-delivery leaves a row that another (or the restarted) process picks up when the lease ends.
Failures are retried with exponential backoff and jitter until ``give_up_at``, then ``failed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import or_, select, update

from .. import __version__
from ..crypto.master_key import MasterKey
from ..db import Database
from ..kit.time import utc_now
from ..models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from .outbox import on_new_deliveries
from .scan import scan_expirations
from .settings import WebhookSettings
from .signing import decrypt_secret, sign
from .targets import TargetRefused, resolve_target

__all__ = ["WebhookWorker", "retry_delay"]

logger = logging.getLogger("exisone_server.webhooks")

#: Deliveries claimed per poll and process.
BATCH = 20
#: What a delivery refused by :mod:`.targets` records; the reason goes to the server log only
#: (it would tell a tenant admin what names resolve to inside the network).
TARGET_REFUSED = "target refused"


def retry_delay(attempts: int, settings: WebhookSettings) -> timedelta:
    """Delay before the next attempt after ``attempts`` failed ones: doubling, capped, ±20 %."""
    base = settings.retry_base_seconds * 2 ** min(attempts - 1, 30)
    seconds = min(base, settings.retry_max_seconds) * random.uniform(0.8, 1.2)
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class _Claimed:
    delivery_id: int
    attempts: int
    give_up_at: datetime
    url: str
    tenant_id: int
    secret_nonce: bytes
    secret_ciphertext: bytes
    public_id: str
    event_type: str
    body: str


class WebhookWorker:
    """Claims and sends due deliveries; runs the expiration scan now and then."""

    def __init__(
        self,
        database: Database,
        master_key: MasterKey,
        settings: WebhookSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.database = database
        self.master_key = master_key
        self.settings = settings
        self._transport = transport
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_scan = float("-inf")

    # -- one step -----------------------------------------------------------------------------

    async def run_once(self, now: datetime | None = None) -> int:
        """Claim and send every due delivery once; returns how many were attempted."""
        moment = now or utc_now()
        claimed = await self._claim(moment)
        if not claimed:
            return 0
        async with httpx.AsyncClient(
            transport=self._transport,
            timeout=self.settings.timeout_seconds,
            follow_redirects=False,
            trust_env=False,
            # Connections are made to checked addresses; one is never reused for another host
            # name (its certificate was checked against the first one's).
            limits=httpx.Limits(max_keepalive_connections=0),
        ) as client:
            await asyncio.gather(*(self._attempt(client, item) for item in claimed))
        return len(claimed)

    async def _due_ids(self, now: datetime) -> list[int]:
        async with self.database.read() as connection:
            rows = await connection.scalars(
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.status == DeliveryStatus.PENDING,
                    WebhookDelivery.next_attempt_at <= now,
                    or_(
                        WebhookDelivery.locked_until.is_(None),
                        WebhookDelivery.locked_until < now,
                    ),
                )
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(BATCH)
            )
            return list(rows)

    async def _claim(self, now: datetime) -> list[_Claimed]:
        claimed = []
        for delivery_id in await self._due_ids(now):
            async with self.database.read() as connection:
                result = await connection.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id == delivery_id,
                        WebhookDelivery.status == DeliveryStatus.PENDING,
                        or_(
                            WebhookDelivery.locked_until.is_(None),
                            WebhookDelivery.locked_until < now,
                        ),
                    )
                    .values(
                        locked_until=now + self.settings.lease,
                        attempts=WebhookDelivery.attempts + 1,
                    )
                )
                if result.rowcount != 1:
                    continue  # another process claimed it first
                row = (
                    await connection.execute(
                        select(
                            WebhookDelivery.attempts,
                            WebhookDelivery.give_up_at,
                            WebhookEndpoint.url,
                            WebhookEndpoint.tenant_id,
                            WebhookEndpoint.secret_nonce,
                            WebhookEndpoint.secret_ciphertext,
                            WebhookEvent.public_id,
                            WebhookEvent.event_type,
                            WebhookEvent.body,
                        )
                        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                        .where(WebhookDelivery.id == delivery_id)
                    )
                ).one_or_none()
            if row is not None:
                claimed.append(_Claimed(delivery_id, *row))
        return claimed

    async def _attempt(self, client: httpx.AsyncClient, item: _Claimed) -> None:
        status_code: int | None = None
        error: str | None = None
        try:
            status_code = await self._send(client, item)
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except TargetRefused as exc:
            logger.warning(
                "webhook delivery %s (tenant %s) refused: %s", item.delivery_id, item.tenant_id, exc
            )
            error = TARGET_REFUSED
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__
        except Exception as exc:  # a bad secret, a bug: record it, keep the worker alive
            logger.exception("webhook delivery %s crashed", item.delivery_id)
            error = f"{type(exc).__name__}: {exc}"[:500]
        await self._record(item, status_code, error)

    async def _send(self, client: httpx.AsyncClient, item: _Claimed) -> int:
        target = await resolve_target(
            item.url, allow_http_loopback=self.settings.allow_http_loopback
        )
        secret = decrypt_secret(
            self.master_key, item.tenant_id, item.url, item.secret_nonce, item.secret_ciphertext
        )
        body = item.body.encode()
        timestamp = int(time.time())
        headers = {
            "Host": target.host_header,
            "Content-Type": "application/json",
            "User-Agent": f"exisone-server/{__version__} (webhooks)",
            "ExisOne-Webhook-Id": item.public_id,
            "ExisOne-Webhook-Event": item.event_type,
            "ExisOne-Webhook-Timestamp": str(timestamp),
            "ExisOne-Webhook-Signature": sign(secret, timestamp, body),
            "ExisOne-Webhook-Attempt": str(item.attempts),
        }
        # The checked address, never the name again (DNS rebinding); TLS checks the name.
        extensions = {"sni_hostname": target.host} if target.is_https else {}
        async with asyncio.timeout(self.settings.timeout_seconds):
            response = await client.post(
                target.request_url, content=body, headers=headers, extensions=extensions
            )
        return response.status_code

    async def _record(self, item: _Claimed, status_code: int | None, error: str | None) -> None:
        now = utc_now()
        values: dict[str, object] = {
            "locked_until": None,
            "last_status_code": status_code,
            "last_error": error,
        }
        if error is None:
            values.update(status=DeliveryStatus.DELIVERED, delivered_at=now)
        else:
            next_at = now + retry_delay(item.attempts, self.settings)
            if next_at > item.give_up_at:
                values["status"] = DeliveryStatus.FAILED
            else:
                values["next_attempt_at"] = next_at
        async with self.database.read() as connection:
            await connection.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == item.delivery_id).values(values)
            )

    # -- the loop -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Poll until cancelled; errors are logged and the loop goes on."""
        remove = on_new_deliveries(self._wake.set)
        try:
            while True:
                try:
                    await self._scan_if_due()
                    while await self.run_once() >= BATCH:
                        pass
                except Exception:
                    logger.exception("webhook worker step failed")
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.poll_seconds)
        finally:
            remove()

    async def _scan_if_due(self) -> None:
        if time.monotonic() - self._last_scan < self.settings.scan_seconds:
            return
        self._last_scan = time.monotonic()
        await scan_expirations(self.database, self.settings)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="exisone-webhook-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
