"""The worker's place in the app: a Litestar lifespan that starts and stops it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from litestar import Litestar

from ..crypto.master_key import MasterKey
from ..db import Database
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

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        chosen = settings or WebhookSettings.from_env()
        if not chosen.worker:
            yield
            return
        worker = WebhookWorker(database(), master_key, chosen)
        worker.start()
        try:
            yield
        finally:
            await worker.stop()

    return lifespan
