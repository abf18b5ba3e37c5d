"""The worker's place in the app: a Litestar lifespan that starts and stops it."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from litestar import Litestar

from ..crypto.master_key import MasterKey
from ..db import Database
from ..kit.workers import worker_lifespan
from .settings import MailSettings
from .worker import MailWorker

__all__ = ["mail_lifespan"]


def mail_lifespan(
    database: Callable[[], Database],
    master_key: MasterKey,
    settings: MailSettings | None = None,
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """Runs the sending worker while the app runs (unless ``EXISONE_MAIL_WORKER=0``).

    List it after the lifespan that opens the database: ``database()`` is called on startup.
    """

    def make() -> MailWorker | None:
        chosen = settings or MailSettings.from_env()
        return MailWorker(database(), master_key, chosen) if chosen.worker else None

    return worker_lifespan(make)
