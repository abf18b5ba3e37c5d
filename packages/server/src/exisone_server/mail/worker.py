"""The sending worker: an asyncio task in each server process.

Every poll it claims due messages (:func:`..kit.outbox.claim_due`: one conditional UPDATE, a
lease of :attr:`MailSettings.lease`), groups them by route (mail server and sender) and sends
each group over one SMTP connection. Outcomes:

* accepted by the server → ``sent``;
* recipient refused for good (5xx on RCPT TO) → ``undeliverable``;
* anything else (server down, refused login, a 4xx, not configured) → retried with exponential
  backoff and jitter until ``give_up_at`` (at least 24 h after queueing), then ``failed``.

Delivery is at least once: a process killed after the server accepted a message but before
its row was marked sent sends it again when the lease ends, with the same ``Message-ID``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import aiosmtplib
from sqlalchemy import select, update

from ..crypto.master_key import MasterKey
from ..db import Database
from ..errors import ApiError
from ..kit.outbox import claim_due, retry_delay
from ..kit.time import utc_now
from ..kit.workers import PollingWorker
from ..models import MailMessage, MailStatus, TenantMailSettings
from .message import build_message, envelope_sender
from .outbox import new_messages
from .routing import Route, resolve_route
from .scan import scan_due_mail
from .settings import MailSettings
from .smtp import describe_error, is_permanent_refusal, open_connection

__all__ = ["BATCH", "MailWorker"]

logger = logging.getLogger("exisone_server.mail")

#: Messages claimed per poll and process.
BATCH = 100

_SENT, _RETRY, _UNDELIVERABLE, _RELEASE = "sent", "retry", "undeliverable", "release"


@dataclass(frozen=True)
class _Claimed:
    id: int
    tenant_id: int
    to_address: str
    subject: str
    text_body: str
    html_body: str
    message_id: str
    attempts: int
    give_up_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class _Outcome:
    item: _Claimed
    result: str
    error: str | None = None


class MailWorker(PollingWorker):
    """Claims and sends due messages; runs the reminder scan now and then."""

    batch = BATCH
    label = "mail worker"

    def __init__(self, database: Database, master_key: MasterKey, settings: MailSettings) -> None:
        super().__init__(
            new_messages,
            poll_seconds=settings.poll_seconds,
            scan_seconds=settings.scan_seconds,
            logger=logger,
        )
        self.database = database
        self.master_key = master_key
        self.settings = settings

    # -- one step -----------------------------------------------------------------------------

    async def run_once(self, now: datetime | None = None) -> int:
        """Claim and try every due message once; returns how many were claimed."""
        started = time.monotonic()
        moment = now or utc_now()
        ids = await claim_due(
            self.database, MailMessage, MailStatus.PENDING, moment, self.settings.lease, BATCH
        )
        if not ids:
            return 0
        claimed = await self._load(ids)
        routes = await self._routes({item.tenant_id for item in claimed})
        groups: dict[Route, list[_Claimed]] = defaultdict(list)
        outcomes: list[_Outcome] = []
        for item in claimed:
            route = routes[item.tenant_id]
            if isinstance(route, Route):
                groups[route].append(item)
            else:
                outcomes.append(_Outcome(item, _RETRY, route))
        sent = await asyncio.gather(
            *(self._send_group(route, items, started) for route, items in groups.items())
        )
        for group_outcomes in sent:
            outcomes.extend(group_outcomes)
        await self._record(outcomes, max(moment, utc_now()))
        return len(claimed)

    async def _load(self, ids: list[int]) -> list[_Claimed]:
        async with self.database.read() as connection:
            rows = await connection.execute(
                select(
                    MailMessage.id,
                    MailMessage.tenant_id,
                    MailMessage.to_address,
                    MailMessage.subject,
                    MailMessage.text_body,
                    MailMessage.html_body,
                    MailMessage.message_id,
                    MailMessage.attempts,
                    MailMessage.give_up_at,
                    MailMessage.created_at,
                )
                .where(MailMessage.id.in_(ids))
                .order_by(MailMessage.id)
            )
            return [_Claimed(**row._mapping) for row in rows]

    async def _routes(self, tenant_ids: set[int]) -> dict[int, Route | str]:
        async with self.database.read_session() as session:
            rows = {
                row.tenant_id: row
                for row in await session.scalars(
                    select(TenantMailSettings).where(TenantMailSettings.tenant_id.in_(tenant_ids))
                )
            }
        routes: dict[int, Route | str] = {}
        for tenant_id in tenant_ids:
            try:
                routes[tenant_id] = resolve_route(
                    rows.get(tenant_id), self.settings, self.master_key
                )
            except (ApiError, ValueError) as exc:
                routes[tenant_id] = str(exc.message if isinstance(exc, ApiError) else exc)
        return routes

    async def _send_group(
        self, route: Route, items: list[_Claimed], started: float
    ) -> list[_Outcome]:
        """Send ``items`` over one connection; a connection failure fails the rest of them."""
        timeout = self.settings.timeout_seconds
        outcomes: list[_Outcome] = []
        remaining = list(items)
        try:
            async with contextlib.AsyncExitStack() as stack:
                async with asyncio.timeout(timeout):
                    connection = await stack.enter_async_context(
                        open_connection(
                            route.server, ca_file=self.settings.ca_file, timeout=timeout
                        )
                    )
                while remaining and time.monotonic() - started < self.settings.send_budget:
                    item = remaining[0]
                    try:
                        async with asyncio.timeout(timeout):
                            await connection.send(
                                self._message(route, item),
                                envelope_sender(route),
                                [item.to_address],
                            )
                    except (
                        aiosmtplib.SMTPResponseException,
                        aiosmtplib.SMTPRecipientsRefused,
                    ) as exc:
                        # The server answered: the connection is still good for the others.
                        result = _UNDELIVERABLE if is_permanent_refusal(exc) else _RETRY
                        outcomes.append(_Outcome(item, result, describe_error(exc, route.server)))
                    else:
                        outcomes.append(_Outcome(item, _SENT))
                    remaining.pop(0)
        except Exception as exc:  # down, refused login, TLS, timeout, a dropped connection
            error = describe_error(exc, route.server)
            if not isinstance(exc, (aiosmtplib.SMTPException, OSError, TimeoutError)):
                logger.exception("mail worker: sending through %s crashed", route.server.describe())
            outcomes.extend(_Outcome(item, _RETRY, error) for item in remaining)
            remaining = []
        outcomes.extend(_Outcome(item, _RELEASE) for item in remaining)  # out of time: not tried
        return outcomes

    @staticmethod
    def _message(route: Route, item: _Claimed):  # type: ignore[no-untyped-def]
        return build_message(
            route,
            to=item.to_address,
            subject=item.subject,
            text=item.text_body,
            html=item.html_body,
            message_id=item.message_id,
            created_at=item.created_at,
        )

    async def _record(self, outcomes: list[_Outcome], now: datetime) -> None:
        sent = [outcome.item.id for outcome in outcomes if outcome.result == _SENT]
        async with self.database.write() as session:
            if sent:
                await session.execute(
                    update(MailMessage)
                    .where(MailMessage.id.in_(sent))
                    .values(status=MailStatus.SENT, sent_at=now, locked_until=None, last_error=None)
                )
            for outcome in outcomes:
                values: dict[str, object] = {"locked_until": None}
                if outcome.result == _SENT:
                    continue
                if outcome.result == _RELEASE:
                    values["attempts"] = MailMessage.attempts - 1
                elif outcome.result == _UNDELIVERABLE:
                    values.update(status=MailStatus.UNDELIVERABLE, last_error=outcome.error)
                else:
                    delay = retry_delay(
                        outcome.item.attempts,
                        self.settings.retry_base_seconds,
                        self.settings.retry_max_seconds,
                    )
                    values["last_error"] = outcome.error
                    if now + delay > outcome.item.give_up_at:
                        values["status"] = MailStatus.FAILED
                    else:
                        values["next_attempt_at"] = now + delay
                await session.execute(
                    update(MailMessage).where(MailMessage.id == outcome.item.id).values(values)
                )

    async def scan(self) -> None:
        await scan_due_mail(self.database, self.settings)
