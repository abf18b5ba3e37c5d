"""``GET /metrics``: Prometheus's text format (mounted only when ``EXISONE_METRICS`` is not off).

With ``EXISONE_METRICS=token`` a scrape sends ``Authorization: Bearer <token>``; the token's
SHA-256 is compared in constant time with ``EXISONE_METRICS_TOKEN_SHA256``. A missing or wrong
token is answered 401 in the documented error shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response, Router, get
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func, select

from ..db import Database
from ..deps import DatabaseDep
from ..errors import ApiError
from ..models import MailMessage, WebhookDelivery
from ..models.mail import MailStatus
from ..models.webhook import DeliveryStatus
from .collect import Metrics
from .settings import MetricsSettings
from .worker_files import forget_dead_workers, forget_worker

__all__ = ["FLUSH_EVERY_S", "metrics_lifespan", "metrics_router"]

#: Prometheus's text format (Litestar adds the charset).
TEXT_FORMAT = "text/plain; version=0.0.4"
#: Seconds between two writes of a worker's counts and pool use.
FLUSH_EVERY_S = 1.0


async def queue_depths(database: Database) -> list[Metric]:
    """The webhook deliveries and e-mails waiting to be sent, counted now."""
    async with database.read_session() as session:
        webhooks = await session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.status == DeliveryStatus.PENDING)
        )
        mails = await session.scalar(
            select(func.count())
            .select_from(MailMessage)
            .where(MailMessage.status == MailStatus.PENDING)
        )
    return [
        GaugeMetricFamily(
            "exisone_webhook_deliveries_pending",
            "Webhook deliveries waiting to be sent or retried (the outbox).",
            value=webhooks or 0,
        ),
        GaugeMetricFamily(
            "exisone_mail_messages_pending",
            "E-mails waiting to be sent or retried (the mail queue).",
            value=mails or 0,
        ),
    ]


def metrics_router(metrics: Metrics, settings: MetricsSettings) -> Router:
    """The ``/metrics`` route of an app recording into ``metrics``."""

    @get("/metrics", tags=["ops"], include_in_schema=False)
    async def scrape(request: Request[Any, Any, Any], database: DatabaseDep) -> Response[bytes]:
        authorization = request.headers.get("authorization")
        if not settings.allows(authorization):
            code = "invalid_token" if authorization else "missing_token"
            raise ApiError(
                code,
                "Send 'Authorization: Bearer <metrics token>'.",
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        metrics.flush()
        metrics.update_pool(database.engine.pool)
        families = await queue_depths(database)
        return Response(metrics.exposition(families), media_type=TEXT_FORMAT)

    return Router(path="/", route_handlers=[scrape])


def metrics_lifespan(
    database: Callable[[], Database], metrics: Metrics
) -> Callable[[Litestar], contextlib.AbstractAsyncContextManager[None]]:
    """While the app runs: write this worker's counts and pool use every
    :data:`FLUSH_EVERY_S` seconds; at the start, drop the gauges of workers gone; at the end,
    write the last counts and drop this worker's gauges."""

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        if metrics.directory:
            forget_dead_workers(metrics.directory)

        async def loop() -> None:
            while True:
                metrics.flush()
                metrics.update_pool(database().engine.pool)
                await asyncio.sleep(FLUSH_EVERY_S)

        task = asyncio.create_task(loop(), name="exisone-metrics pool")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            metrics.flush()
            if metrics.directory:
                forget_worker(metrics.directory, os.getpid())

    return lifespan
