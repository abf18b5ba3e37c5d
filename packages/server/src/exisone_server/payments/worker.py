"""The retry worker: events that wait (``pending``: a renewal before its purchase, a purchase
without the customer's address) are fulfilled again when due, from their stored body."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta

from litestar import Litestar
from sqlalchemy import select

from ..crypto.master_key import MasterKey
from ..db import Database
from ..kit.outbox import CommitSignal, claim_due
from ..kit.time import utc_now
from ..kit.workers import PollingWorker, worker_lifespan
from ..mail.settings import MailSettings
from ..models import PaymentApp, PaymentEventStatus, ReceivedPaymentEvent
from .apps import app_keys
from .fulfilment import fulfil
from .providers import PROVIDERS
from .receiver import complete_email
from .settings import PaymentSettings

__all__ = ["PaymentWorker", "payment_lifespan", "waiting_events"]

logger = logging.getLogger("exisone_server.payments")

#: Fired after a transaction that left events waiting commits.
waiting_events = CommitSignal()

_LEASE = timedelta(minutes=2)


class PaymentWorker(PollingWorker):
    label = "payment worker"
    batch = 20

    def __init__(
        self,
        database: Database,
        master_key: MasterKey,
        settings: PaymentSettings,
        mail_settings: MailSettings | None = None,
    ) -> None:
        super().__init__(
            waiting_events,
            poll_seconds=settings.poll_seconds,
            scan_seconds=3600.0,
            logger=logger,
        )
        self.database = database
        self.master_key = master_key
        self.settings = settings
        self.mail_settings = mail_settings

    async def run_once(self, now: datetime | None = None) -> int:
        """Retry the due waiting events; returns how many were claimed."""
        moment = now or utc_now()
        claimed = await claim_due(
            self.database,
            ReceivedPaymentEvent,
            PaymentEventStatus.PENDING,
            moment,
            _LEASE,
            self.batch,
        )
        for event_id in claimed:
            try:
                await self._retry(event_id, moment)
            except Exception:
                logger.exception("retrying payment event %s failed", event_id)
        return len(claimed)

    async def _retry(self, row_id: int, moment: datetime) -> None:
        async with self.database.read_session() as session:
            row = await session.get(ReceivedPaymentEvent, row_id)
            app = await session.get(PaymentApp, row.app_id) if row and row.app_id else None
        if row is None or row.provider not in PROVIDERS:
            return
        provider = PROVIDERS[row.provider]
        event = provider.parse(json.loads(row.body))
        if app is not None:
            event, _ = await complete_email(
                self.database, provider, app_keys(self.master_key, app), event, self.settings
            )
        async with self.database.write() as session:
            locked = await session.scalar(
                select(ReceivedPaymentEvent)
                .where(ReceivedPaymentEvent.id == row_id)
                .with_for_update()
            )
            if locked is None or locked.status is not PaymentEventStatus.PENDING:
                return
            await fulfil(
                session,
                locked,
                event,
                settings=self.settings,
                mail_settings=self.mail_settings,
                now=moment,
                count_attempt=False,  # claim_due counted it
            )


def payment_lifespan(
    database: Callable[[], Database],
    master_key: MasterKey,
    settings: PaymentSettings | None = None,
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """Runs the retry worker while the app runs (unless ``EXISONE_PAYMENTS_WORKER=0``)."""

    def make() -> PaymentWorker | None:
        chosen = settings or PaymentSettings.from_env()
        if not chosen.worker:
            return None
        return PaymentWorker(database(), master_key, chosen, MailSettings.from_env())

    return worker_lifespan(make)
