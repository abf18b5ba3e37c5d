"""The delivery worker: an asyncio task in each server process.

Every poll it claims due deliveries with a conditional UPDATE (:func:`..kit.outbox.claim_due`),
so several processes on one database never send the same delivery at the same time; a claim
counts as an attempt and holds the row for :attr:`WebhookSettings.lease`, so a process killed
mid-delivery leaves a row that another (or the restarted) process picks up when the lease ends.
Failures are retried with exponential backoff and jitter until ``give_up_at``, then ``failed``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select, update

from .. import __version__
from ..crypto.master_key import MasterKey
from ..db import Database
from ..kit.outbox import claim_due
from ..kit.outbox import retry_delay as kit_retry_delay
from ..kit.time import utc_now
from ..kit.workers import PollingWorker
from ..licenses.lease_purge import purge_leases
from ..models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from .outbox import new_deliveries
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
    return kit_retry_delay(attempts, settings.retry_base_seconds, settings.retry_max_seconds)


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


class WebhookWorker(PollingWorker):
    """Claims and sends due deliveries; runs the expiration scan now and then."""

    batch = BATCH
    label = "webhook worker"

    def __init__(
        self,
        database: Database,
        master_key: MasterKey,
        settings: WebhookSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            new_deliveries,
            poll_seconds=settings.poll_seconds,
            scan_seconds=settings.scan_seconds,
            logger=logger,
        )
        self.database = database
        self.master_key = master_key
        self.settings = settings
        self._transport = transport

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

    async def _claim(self, now: datetime) -> list[_Claimed]:
        claimed_ids = await claim_due(
            self.database, WebhookDelivery, DeliveryStatus.PENDING, now, self.settings.lease, BATCH
        )
        if not claimed_ids:
            return []
        async with self.database.read() as connection:
            rows = await connection.execute(
                select(
                    WebhookDelivery.id.label("delivery_id"),
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
                .where(WebhookDelivery.id.in_(claimed_ids))
                .order_by(WebhookDelivery.id)
            )
            return [_Claimed(**row._mapping) for row in rows]

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

    async def scan(self) -> None:
        """The periodic work: due time-based events, then leases long gone forgotten."""
        await scan_expirations(self.database, self.settings)
        await purge_leases(self.database, utc_now())
