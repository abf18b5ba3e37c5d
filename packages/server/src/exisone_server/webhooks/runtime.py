"""The worker's place in the app: a Litestar lifespan that starts and stops it."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from litestar import Litestar

from ..crypto.master_key import MasterKey
from ..db import Database
from ..kit.workers import worker_lifespan
from .settings import WebhookSettings
from .worker import WebhookWorker

__all__ = ["webhook_lifespan"]


def webhook_lifespan(
    database: Callable[[], Database],
    master_key: MasterKey,
    settings: WebhookSettings | None = None,
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """Runs the delivery worker while the app runs (unless ``EXISONE_WEBHOOKS_WORKER=0``).

    List it after the lifespan that opens the database: ``database()`` is called on startup.
    """

    def make() -> WebhookWorker | None:
        chosen = settings or WebhookSettings.from_env()
        return WebhookWorker(database(), master_key, chosen) if chosen.worker else None

    return worker_lifespan(make)
