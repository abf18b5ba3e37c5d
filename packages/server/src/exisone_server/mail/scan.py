"""The periodic job: renewal reminders, "license expired" and "trial ending" e-mails.

Runs inside the server (:mod:`.worker`); any number of processes may run it at once: each
message has a dedupe key ``<kind>:<license id>:<expiry>`` under a unique index, so a license
gets each of these mails once per expiry date (a renewed license, with a new date, gets them
again). Which products and licenses:

* renewal reminder: products with ``send_renewal_reminders``; licenses (not trial) expiring
  within ``renewal_reminder_days`` (default 7);
* license expired: the same products and licenses, expired within the last :data:`LOOKBACK`
  (a server stopped for longer, or a product switched on later, does not mail old expiries);
* trial ending: products with ``send_trial_ending``; trial licenses ending within
  ``trial_ending_days`` (default 3).

Only active licenses with an e-mail address are mailed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, tuple_

from ..db import Database
from ..kit.time import utc_now
from ..models import License, LicenseStatus, MailMessage, Product
from .kinds import MailKind
from .outbox import enqueue
from .settings import MailSettings

__all__ = [
    "DEFAULT_REMINDER_DAYS",
    "DEFAULT_TRIAL_ENDING_DAYS",
    "LOOKBACK",
    "dedupe_key",
    "scan_due_mail",
]

#: Licenses read per query.
PAGE = 500
#: How far back "license expired" looks.
LOOKBACK = timedelta(days=3)
DEFAULT_REMINDER_DAYS = 7
DEFAULT_TRIAL_ENDING_DAYS = 3


@dataclass(frozen=True)
class _Rule:
    kind: MailKind
    product_id: int
    tenant_id: int
    is_trial: bool
    low: datetime
    high: datetime


def dedupe_key(kind: MailKind, license: License) -> str:
    """``<kind>:<license id>:<expiry as YYYY-MM-DDTHH:MM:SS>``."""
    assert license.expires_at is not None
    return f"{kind.value}:{license.id}:{license.expires_at.strftime('%Y-%m-%dT%H:%M:%S')}"


def _rules(product: Product, now: datetime) -> list[_Rule]:
    rules = []
    if product.send_renewal_reminders:
        days = product.renewal_reminder_days
        ahead = timedelta(days=DEFAULT_REMINDER_DAYS if days is None else days)
        for kind, low, high in (
            (MailKind.RENEWAL_REMINDER, now, now + ahead),
            (MailKind.LICENSE_EXPIRED, now - LOOKBACK, now),
        ):
            rules.append(_Rule(kind, product.id, product.tenant_id, False, low, high))
    if product.send_trial_ending:
        days = product.trial_ending_days
        ahead = timedelta(days=DEFAULT_TRIAL_ENDING_DAYS if days is None else days)
        rules.append(
            _Rule(MailKind.TRIAL_ENDING, product.id, product.tenant_id, True, now, now + ahead)
        )
    return rules


async def scan_due_mail(
    database: Database, settings: MailSettings, now: datetime | None = None
) -> int:
    """Queue the due time-based messages; returns how many were queued."""
    moment = now or utc_now()
    async with database.read_session() as session:
        products = list(
            await session.scalars(
                select(Product).where(
                    or_(Product.send_renewal_reminders.is_(True), Product.send_trial_ending)
                )
            )
        )
    queued = 0
    for product in products:
        for rule in _rules(product, moment):
            queued += await _scan_rule(database, settings, rule, moment)
    return queued


async def _scan_rule(database: Database, settings: MailSettings, rule: _Rule, now: datetime) -> int:
    queued = 0
    after: tuple[datetime, int] = (rule.low, 0)
    while True:
        async with database.read_session() as session:
            licenses = list(
                await session.scalars(
                    select(License)
                    .where(
                        License.product_id == rule.product_id,
                        License.status == LicenseStatus.ACTIVE,
                        License.is_trial.is_(rule.is_trial),
                        License.email != "",
                        tuple_(License.expires_at, License.id) > after,
                        License.expires_at <= rule.high,
                    )
                    .order_by(License.expires_at, License.id)
                    .limit(PAGE)
                )
            )
            keys = {dedupe_key(rule.kind, license): license for license in licenses}
            done = set(
                await session.scalars(
                    select(MailMessage.dedupe_key).where(MailMessage.dedupe_key.in_(list(keys)))
                )
            )
        for key, license in keys.items():
            if key in done:
                continue
            async with database.write() as session:
                queued_message = await enqueue(
                    session,
                    rule.tenant_id,
                    rule.kind,
                    license=license,
                    dedupe_key=key,
                    settings=settings,
                    now=now,
                )
            queued += queued_message is not None
        if len(licenses) < PAGE:
            return queued
        last = licenses[-1]
        assert last.expires_at is not None
        after = (last.expires_at, last.id)
