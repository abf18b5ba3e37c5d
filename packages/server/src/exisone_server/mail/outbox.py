"""The outbox: :func:`enqueue` writes a rendered message in the caller's transaction.

This is the module the rest of the server (payments, the license service, the customer portal)
uses to send e-mail. The worker (:mod:`.worker`) sends what is queued.
"""

from __future__ import annotations

import functools
import logging
import math
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from jinja2 import TemplateError
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import insert_for
from ..kit.outbox import CommitSignal
from ..kit.time import utc_now
from ..licenses.service import license_feature_names, seat_limit
from ..models import (
    License,
    LicenseStatus,
    MailMessage,
    MailStatus,
    MailTemplate,
    Product,
    table_of,
)
from .addresses import recipient
from .kinds import LICENSE_KINDS, MailKind
from .routing import load_tenant_settings, support_address
from .settings import MailSettings
from .templates import DEFAULT_TEMPLATES, Rendered, TemplateSource, render

__all__ = [
    "enqueue",
    "license_context",
    "new_message_id",
    "new_messages",
    "purchase_email",
    "send_keys",
    "template_source",
]

logger = logging.getLogger("exisone_server.mail")

#: Fired after a transaction that queued messages commits (wakes the worker).
new_messages = CommitSignal()
#: ``last_error`` of a message whose recipient is not an address.
NOT_AN_ADDRESS = "not an e-mail address"


def new_message_id(settings: MailSettings) -> str:
    """A fresh ``Message-ID`` value: ``<random@domain>``."""
    return f"<{secrets.token_hex(16)}@{settings.message_domain}>"


async def template_source(
    session: AsyncSession, tenant_id: int, product_id: int | None, kind: MailKind
) -> tuple[TemplateSource, MailTemplate | None]:
    """The template used for ``kind``: the product's, else the tenant's, else the default; and
    the stored row it came from (None = the shipped default)."""
    owners: list[ColumnElement[bool]] = [MailTemplate.product_id.is_(None)]  # the tenant's
    if product_id is not None and kind in LICENSE_KINDS:
        owners.append(MailTemplate.product_id == product_id)
    row = await session.scalar(
        select(MailTemplate)
        .where(
            MailTemplate.tenant_id == tenant_id,
            MailTemplate.kind == kind.value,
            or_(*owners),
        )
        .order_by(MailTemplate.product_id.is_(None))  # the product's first
        .limit(1)
    )
    if row is not None:
        return TemplateSource(row.subject, row.text_body, row.html_body), row
    return DEFAULT_TEMPLATES[kind], None


def _days_left(expires_at: datetime | None, now: datetime) -> int:
    if expires_at is None or expires_at <= now:
        return 0
    return math.ceil((expires_at - now).total_seconds() / 86400)


async def license_context(
    session: AsyncSession, license: License, product_name: str, now: datetime
) -> dict[str, Any]:
    """The one-license placeholders of ``license`` (see :data:`.kinds.PLACEHOLDERS`)."""
    features = await license_feature_names(session, license.id)
    seats = seat_limit(license)
    return {
        "ActivationKey": license.activation_key,
        "ProductName": product_name,
        "ExpirationDate": license.expires_at.date().isoformat() if license.expires_at else "never",
        "IsPerpetual": license.expires_at is None,
        "DaysLeft": _days_left(license.expires_at, now),
        "Features": ", ".join(features),
        "FeatureList": features,
        "Seats": "unlimited" if seats is None else str(seats),
    }


def _render(kind: MailKind, source: TemplateSource, context: dict[str, Any]) -> Rendered:
    """The stored template rendered; should it fail on real values (a template checked with
    sample values can still meet, e.g., an over-long result), the shipped default."""
    try:
        return render(source, context)
    except (TemplateError, TypeError, ValueError, ArithmeticError) as exc:
        logger.warning("mail template for %s failed (%s); the default is used", kind, exc)
        return render(DEFAULT_TEMPLATES[kind], context)


@functools.cache
def _queueing(dialect: str, *, deduped: bool) -> Any:
    """The INSERT of a message (skipped when its ``dedupe_key`` was used), returning its id:
    built once per dialect, so SQLAlchemy reuses its compiled form."""
    statement = insert_for(dialect)(table_of(MailMessage))
    if deduped:
        statement = statement.on_conflict_do_nothing(index_elements=["dedupe_key"])
    return statement.returning(table_of(MailMessage).c.id)


async def enqueue(
    session: AsyncSession,
    tenant_id: int,
    kind: MailKind | str,
    *,
    license: License | None = None,
    licenses: Sequence[License] = (),
    to: str | None = None,
    dedupe_key: str | None = None,
    values: Mapping[str, Any] | None = None,
    settings: MailSettings | None = None,
    now: datetime | None = None,
) -> MailMessage | None:
    """Queue one e-mail in ``session``'s transaction, rendered now (what is stored is sent).

    * ``kind``: a :class:`MailKind`. For purchase, renewal_reminder, license_expired and
      trial_ending pass ``license`` (its product's template applies, else the tenant's, else
      the shipped default); for your_keys pass ``licenses``.
    * ``to``: the recipient; default ``license.email``.
    * ``dedupe_key``: at most one message per key, ever, across processes (INSERT … ON
      CONFLICT DO NOTHING on a unique column): e.g. ``purchase:<license id>``.
    * ``values``: the kind's own placeholders (portal_sign_in: ``SignInLink`` ...).

    Returns the queued row, or None when ``dedupe_key`` was already used. Never raises for the
    customer's data: a recipient that is not an address is stored with status
    ``undeliverable`` (the caller's license stays). It raises ValueError for a call that
    breaks this contract (unknown kind, no license for a license kind). The message is sent
    once the caller's transaction commits; the worker is woken then.
    """
    kind = MailKind(kind)
    chosen = settings or MailSettings.from_env()
    moment = now or utc_now()
    tenant = await load_tenant_settings(session, tenant_id)
    context: dict[str, Any] = {"SupportEmail": support_address(tenant, chosen)}
    product_id: int | None = None
    if kind in LICENSE_KINDS:
        if license is None:
            raise ValueError(f"a {kind} e-mail needs the license")
        product = await session.get(Product, license.product_id)
        assert product is not None
        product_id = product.id
        context.update(await license_context(session, license, product.name, moment))
        address = license.email if to is None else to
    else:
        product_names = await _product_names(session, [item.product_id for item in licenses])
        context["Licenses"] = [
            await license_context(session, item, product_names[item.product_id], moment)
            for item in licenses
        ]
        address = to or ""
    context.update(values or {})
    checked = recipient(address)
    context["CustomerEmail"] = checked or address.strip()
    source, _ = await template_source(session, tenant_id, product_id, kind)
    rendered = _render(kind, source, context)
    values = {
        "tenant_id": tenant_id,
        "kind": kind.value,
        "product_id": product_id,
        "license_id": license.id if license is not None else None,
        "to_address": (checked or address.strip())[:320],
        "subject": rendered.subject,
        "text_body": rendered.text,
        "html_body": rendered.html,
        "message_id": new_message_id(chosen),
        "dedupe_key": dedupe_key,
        "status": MailStatus.PENDING if checked else MailStatus.UNDELIVERABLE,
        "attempts": 0,
        "next_attempt_at": moment,
        "give_up_at": moment + chosen.retry_window,
        "last_error": None if checked else NOT_AN_ADDRESS,
        "created_at": moment,
    }
    connection = await session.connection()
    statement = _queueing(connection.dialect.name, deduped=dedupe_key is not None)
    message_id = (await connection.execute(statement, values)).scalar()
    if message_id is None:
        return None
    if checked:
        new_messages.arm(session)
    return await session.get(MailMessage, message_id)


async def _product_names(session: AsyncSession, product_ids: Sequence[int]) -> dict[int, str]:
    if not product_ids:
        return {}
    rows = await session.execute(
        select(Product.id, Product.name).where(Product.id.in_(set(product_ids)))
    )
    return {row.id: row.name for row in rows}


async def purchase_email(
    session: AsyncSession,
    license: License,
    *,
    to: str | None = None,
    settings: MailSettings | None = None,
) -> MailMessage | None:
    """The purchase e-mail of a new license, when its product sends one (``sendPurchaseEmail``);
    at most once per license (dedupe key ``purchase:<license id>``)."""
    product = await session.get(Product, license.product_id)
    if product is None or not product.send_purchase_email:
        return None
    return await enqueue(
        session,
        license.tenant_id,
        MailKind.PURCHASE,
        license=license,
        to=to,
        dedupe_key=f"purchase:{license.id}",
        settings=settings,
    )


async def send_keys(
    session: AsyncSession,
    tenant_id: int,
    email: str,
    *,
    settings: MailSettings | None = None,
) -> MailMessage | None:
    """E-mail a customer every key of theirs (licenses of the tenant with this address, any
    case, not revoked). None, and nothing queued, when the address has no license."""
    address = email.strip()
    if recipient(address) is None:
        return None
    licenses = list(
        await session.scalars(
            select(License)
            .where(
                License.tenant_id == tenant_id,
                func.lower(License.email) == address.lower(),
                License.status != LicenseStatus.REVOKED,
            )
            .order_by(License.product_id, License.id)
        )
    )
    if not licenses:
        return None
    return await enqueue(
        session, tenant_id, MailKind.YOUR_KEYS, licenses=licenses, to=address, settings=settings
    )
