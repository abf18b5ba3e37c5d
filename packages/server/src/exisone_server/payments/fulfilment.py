"""The fulfilment core, the same for every provider: a verified event is stored, then acted on
in the transaction that creates or changes the licenses.

* :func:`record_event` stores the event (provider, event id, tenant, raw body) with
  ``INSERT … ON CONFLICT DO NOTHING`` on the unique (provider, event id): the same event
  delivered twice, or twice at once to two processes, is stored once, and only the delivery
  that stored it fulfils it.
* :func:`fulfil` acts on it inside a SAVEPOINT of the caller's write transaction: what it did
  commits with the stored event, and when a rule refuses (or anything fails) its changes are
  rolled back while the event stays, marked ``failed`` or ``pending`` (retried).
* A purchase claims its order in ``payment_orders`` (unique per provider and order) before it
  makes a license, so two events of one payment (e.g. Stripe's ``checkout.session.completed``
  and ``payment_intent.succeeded``) make one license, also at once: on SQLite writers take
  turns (BEGIN IMMEDIATE); on PostgreSQL the second INSERT waits for the first transaction and
  then finds the row.

What a purchase buys is decided by :mod:`..licenses.rules` (days, quantity); licenses are made
by :func:`..licenses.service.create_license` (history, ``license.created`` naming the payment),
extended and suspended by the publisher service, and mailed by :func:`..mail.purchase_email`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from ..db import insert_for
from ..errors import ApiError
from ..kit.outbox import retry_delay
from ..kit.time import format_expiration, utc_now
from ..licenses import rules
from ..licenses.service import create_license
from ..mail import purchase_email
from ..mail.settings import MailSettings
from ..models import (
    License,
    LicenseStatus,
    PaymentApp,
    PaymentEventStatus,
    PaymentMapping,
    PaymentOrder,
    PaymentProduct,
    Plan,
    Product,
    ReceivedPaymentEvent,
    payment_order_licenses,
)
from ..publisher.checks import MAX_DAYS
from ..publisher.schemas import LicenseExtend
from ..publisher.service import change_status, extend_license
from .event import Action, PaymentEvent
from .providers import PROVIDERS
from .settings import PaymentSettings

__all__ = [
    "QUANTITY_MEANINGS",
    "Outcome",
    "Sale",
    "fulfil",
    "order_licenses",
    "record_event",
    "register_quantity_meaning",
]

logger = logging.getLogger("exisone_server.payments")

#: Longest stored outcome text.
_OUTCOME_LIMIT = 2000


@dataclass
class Outcome:
    """What fulfilling an event did (stored on the event)."""

    status: PaymentEventStatus
    text: str
    license_id: int | None = None
    #: Try again later (status ``pending``).
    retry: bool = False


@dataclass(frozen=True)
class Sale:
    """A matched purchase, as a quantity-meaning handler gets it."""

    product: Product
    plan: Plan | None
    email: str
    quantity: int
    requested_days: int | None
    order: PaymentOrder
    payment: dict[str, str] = field(default_factory=dict)


#: A product's quantity meaning → what makes the licenses of a sale. ``seats`` and ``keys``
#: are the server's (:func:`..licenses.rules.purchase_shape`); other meanings (e.g. API calls,
#: where the quantity is a quota) register here with :func:`register_quantity_meaning`.
QuantityHandler = Callable[[AsyncSession, Sale], Awaitable[list[License]]]
QUANTITY_MEANINGS: dict[str, QuantityHandler | None] = {"seats": None, "keys": None}


def register_quantity_meaning(name: str, handler: QuantityHandler) -> None:
    """Extension point: products whose quantity means ``name`` are fulfilled by ``handler``
    (which makes and returns the licenses, in the caller's transaction)."""
    QUANTITY_MEANINGS[name] = handler


async def record_event(
    session: AsyncSession,
    app: PaymentApp,
    event: PaymentEvent,
    body: str,
    *,
    now: datetime | None = None,
) -> ReceivedPaymentEvent | None:
    """Store a verified event of ``app``; None when the provider's event id is stored already
    (a repeated delivery: nothing more to do)."""
    moment = now or utc_now()
    statement = (
        insert_for(session.get_bind().dialect.name)(ReceivedPaymentEvent)
        .values(
            tenant_id=app.tenant_id,
            app_id=app.id,
            provider=event.provider,
            event_id=event.event_id[:200],
            event_type=event.event_type[:100],
            order_ref=(event.order_ref or event.subscription_ref or event.payment_ref or None),
            status=PaymentEventStatus.RECEIVED,
            attempts=0,
            body=body,
            created_at=moment,
        )
        .on_conflict_do_nothing(index_elements=["provider", "event_id"])
        .returning(ReceivedPaymentEvent.id)
    )
    row_id = await session.scalar(statement)
    if row_id is None:
        return None
    return await session.get(ReceivedPaymentEvent, row_id)


async def fulfil(
    session: AsyncSession,
    row: ReceivedPaymentEvent,
    event: PaymentEvent,
    *,
    settings: PaymentSettings,
    mail_settings: MailSettings | None = None,
    now: datetime | None = None,
    count_attempt: bool = True,
) -> Outcome:
    """Act on a stored event (in a SAVEPOINT) and record the outcome on ``row``."""
    moment = now or utc_now()
    if count_attempt:
        row.attempts += 1
    try:
        async with session.begin_nested():
            outcome = await _act(session, row, event, mail_settings, moment)
    except ApiError as exc:
        outcome = Outcome(PaymentEventStatus.FAILED, exc.message)
    except Exception:
        logger.exception("fulfilling %s event %s failed", event.provider, event.event_id)
        outcome = Outcome(PaymentEventStatus.PENDING, "an unexpected error; retried", retry=True)
    _record(row, outcome, settings, moment)
    await session.flush()
    return outcome


def _record(
    row: ReceivedPaymentEvent, outcome: Outcome, settings: PaymentSettings, moment: datetime
) -> None:
    row.outcome = outcome.text[:_OUTCOME_LIMIT]
    row.license_id = outcome.license_id
    row.processed_at = moment
    row.locked_until = None
    if not outcome.retry:
        row.status = outcome.status
        row.next_attempt_at = row.give_up_at = None
        return
    row.give_up_at = row.give_up_at or moment + settings.retry_window
    if moment >= row.give_up_at:
        row.status = PaymentEventStatus.FAILED
        row.next_attempt_at = None
        row.outcome = f"{row.outcome} (gave up after {row.attempts} attempts)"[:_OUTCOME_LIMIT]
        return
    row.status = PaymentEventStatus.PENDING
    delay = retry_delay(row.attempts, settings.retry_base_seconds, settings.retry_max_seconds)
    row.next_attempt_at = moment + delay


async def _act(
    session: AsyncSession,
    row: ReceivedPaymentEvent,
    event: PaymentEvent,
    mail_settings: MailSettings | None,
    moment: datetime,
) -> Outcome:
    if event.action is Action.PURCHASE and event.license_ref is not None:
        return await _renew_license(session, row, event, moment)
    if event.action is Action.PURCHASE:
        return await _purchase(session, row, event, mail_settings)
    if event.action is Action.RENEWAL:
        return await _renewal(session, row, event, moment)
    if event.action in (Action.CANCEL, Action.REFUND):
        return await _suspend(session, row, event)
    return Outcome(PaymentEventStatus.IGNORED, event.note or "nothing to do")


# -- purchases ----------------------------------------------------------------------------------


def _label(provider: str) -> str:
    found = PROVIDERS.get(provider)
    return found.label if found else provider


async def _existing_order(
    session: AsyncSession, provider: str, order_ref: str
) -> PaymentOrder | None:
    return await session.scalar(
        select(PaymentOrder).where(
            PaymentOrder.provider == provider, PaymentOrder.order_ref == order_ref
        )
    )


async def order_licenses(session: AsyncSession, order_id: int) -> list[License]:
    """The licenses an order made, oldest first."""
    return list(
        await session.scalars(
            select(License)
            .join(payment_order_licenses, payment_order_licenses.c.license_id == License.id)
            .where(payment_order_licenses.c.order_id == order_id)
            .order_by(License.seq, License.id)
        )
    )


async def _duplicate(session: AsyncSession, order: PaymentOrder, event: PaymentEvent) -> Outcome:
    if event.subscription_ref and not order.subscription_ref:
        order.subscription_ref = event.subscription_ref  # e.g. Lemon Squeezy links it later
    licenses = await order_licenses(session, order.id)
    return Outcome(
        PaymentEventStatus.DUPLICATE,
        f"order {order.order_ref} was licensed already: nothing new",
        licenses[0].id if licenses else None,
    )


def _whole_number(text: str | None, label: str, lowest: int, highest: int) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ApiError("invalid_request", f"{label} {text!r} is not a whole number.") from None
    if not lowest <= value <= highest:
        raise ApiError("invalid_request", f"{label} must be {lowest} to {highest}, not {value}.")
    return value


async def _match(
    session: AsyncSession, tenant_id: int, event: PaymentEvent
) -> tuple[Product, Plan | None] | Outcome:
    """The tenant's product (and plan) the purchase names, or why none."""
    mapped_plan: int | None = None
    product: Product | None = None
    if event.product_ref is not None:
        product_id = int(event.product_ref) if event.product_ref.isdigit() else None
        if product_id is not None:
            product = await session.scalar(
                select(Product).where(Product.tenant_id == tenant_id, Product.id == product_id)
            )
        if product is None:
            return Outcome(
                PaymentEventStatus.UNMATCHED,
                f"productId {event.product_ref!r} names no product of yours",
            )
    else:
        for ref in event.external_refs:
            mapping = await session.scalar(
                select(PaymentMapping).where(
                    PaymentMapping.tenant_id == tenant_id,
                    PaymentMapping.provider == event.provider,
                    PaymentMapping.external_ref == ref,
                )
            )
            if mapping is not None:
                product = await session.get(Product, mapping.product_id)
                mapped_plan = mapping.plan_id
                break
        if product is None:
            refs = ", ".join(event.external_refs) or "none"
            return Outcome(
                PaymentEventStatus.UNMATCHED,
                "no productId in the checkout's metadata and no mapping of its ids "
                f"({refs}): map one to a product, then retry",
            )
    selling = await session.scalar(
        select(PaymentProduct).where(PaymentProduct.product_id == product.id)
    )
    plan_id: int | None
    if event.plan_ref is not None:
        plan_id = int(event.plan_ref) if event.plan_ref.isdigit() else -1
    else:
        plan_id = mapped_plan or (selling.plan_id if selling else None) or product.default_plan_id
    plan: Plan | None = None
    if plan_id is not None:
        plan = await session.scalar(
            select(Plan).where(Plan.tenant_id == tenant_id, Plan.id == plan_id)
        )
        if plan is None:
            return Outcome(
                PaymentEventStatus.UNMATCHED, f"planId {event.plan_ref!r} names no plan of yours"
            )
        if plan.product_id is not None and plan.product_id != product.id:
            raise ApiError(
                "plan_product_mismatch", f"The plan {plan.name!r} is for another product."
            )
    if not product.is_active:
        raise ApiError("product_inactive", f"The product {product.name!r} is not active.")
    return product, plan


async def _claim_order(
    session: AsyncSession,
    row: ReceivedPaymentEvent,
    event: PaymentEvent,
    product_id: int,
    plan_id: int | None,
    email: str,
    quantity: int,
) -> PaymentOrder | Outcome:
    """Claim the event's order (once per provider and order); the duplicate's outcome when
    another transaction claimed it meanwhile (PostgreSQL)."""
    assert event.order_ref
    claimed = await session.scalar(
        insert_for(session.get_bind().dialect.name)(PaymentOrder)
        .values(
            tenant_id=row.tenant_id,
            provider=event.provider,
            order_ref=event.order_ref[:200],
            subscription_ref=event.subscription_ref,
            payment_ref=event.payment_ref,
            product_id=product_id,
            plan_id=plan_id,
            email=email,
            quantity=quantity,
            event_id=row.id,
            created_at=utc_now(),
        )
        .on_conflict_do_nothing(index_elements=["provider", "order_ref"])
        .returning(PaymentOrder.id)
    )
    if claimed is None:
        order = await _existing_order(session, event.provider, event.order_ref)
        assert order is not None
        return await _duplicate(session, order, event)
    order = await session.get(PaymentOrder, claimed)
    assert order is not None
    return order


async def _purchase(
    session: AsyncSession,
    row: ReceivedPaymentEvent,
    event: PaymentEvent,
    mail_settings: MailSettings | None,
) -> Outcome:
    if not event.order_ref:
        return Outcome(PaymentEventStatus.FAILED, "the event names no order or payment")
    existing = await _existing_order(session, event.provider, event.order_ref)
    if existing is not None:
        return await _duplicate(session, existing, event)
    matched = await _match(session, row.tenant_id, event)
    if isinstance(matched, Outcome):
        return matched
    product, plan = matched
    quantity = _whole_number(event.quantity, "quantity", 1, 1_000_000_000) or 1
    days = _whole_number(event.days, "days", 0, MAX_DAYS)
    email = (event.email or "").strip()[:320]
    if not email:
        return Outcome(
            PaymentEventStatus.PENDING,
            "waiting for the customer's e-mail address (the order's other event has it)",
            retry=True,
        )
    order = await _claim_order(
        session, row, event, product.id, plan.id if plan else None, email, quantity
    )
    if isinstance(order, Outcome):
        return order
    sale = Sale(
        product,
        plan,
        email,
        quantity,
        days,
        order,
        {"provider": event.provider, "orderId": event.order_ref, "eventId": event.event_id},
    )
    selling = await session.scalar(
        select(PaymentProduct).where(PaymentProduct.product_id == product.id)
    )
    meaning = selling.quantity_means if selling else "seats"
    handler = QUANTITY_MEANINGS.get(meaning)
    licenses = (
        await handler(session, sale) if handler else await _make_licenses(session, sale, meaning)
    )
    await session.execute(
        payment_order_licenses.insert(),
        [{"order_id": order.id, "license_id": license.id} for license in licenses],
    )
    for license in licenses:
        await purchase_email(session, license, settings=mail_settings)
    keys = ", ".join(license.activation_key for license in licenses[:3])
    more = f" and {len(licenses) - 3} more" if len(licenses) > 3 else ""
    return Outcome(
        PaymentEventStatus.FULFILLED,
        f"{_label(event.provider)} order {event.order_ref}: made {keys}{more}",
        licenses[0].id,
    )


async def _make_licenses(session: AsyncSession, sale: Sale, meaning: str) -> list[License]:
    plan = sale.plan
    try:
        shape = rules.purchase_shape(
            sale.quantity,
            meaning,
            plan_corporate=bool(plan and plan.is_corporate),
            plan_seats=plan.max_seats if plan else None,
        )
    except ValueError as exc:
        raise ApiError("invalid_request", f"Cannot fulfil: {exc}.") from None
    days = rules.purchase_days(
        plan_days=plan.duration_days if plan else None,
        product_days=sale.product.default_license_days,
        requested_days=sale.requested_days,
    )
    return [
        await create_license(
            session,
            product=sale.product,
            email=sale.email,
            plan=plan,
            validity_days=None if plan else days,
            is_corporate=shape.is_corporate,
            max_seats=shape.seats,
            note=f"{_label(sale.order.provider)} order {sale.order.order_ref}",
            payment=sale.payment,
        )
        for _ in range(shape.licenses)
    ]


# -- renewals, cancellations, refunds ------------------------------------------------------------


async def _orders(
    session: AsyncSession,
    tenant_id: int,
    provider: str,
    column: InstrumentedAttribute[str | None] | InstrumentedAttribute[str],
    ref: str,
) -> Sequence[PaymentOrder]:
    return list(
        await session.scalars(
            select(PaymentOrder).where(
                PaymentOrder.tenant_id == tenant_id,
                PaymentOrder.provider == provider,
                column == ref,
            )
        )
    )


async def _extend(
    session: AsyncSession,
    tenant_id: int,
    license: License,
    event: PaymentEvent,
    moment: datetime,
) -> bool:
    """Extend a license by what a paid renewal adds (:func:`..licenses.rules.renewal_days`);
    False when it cannot be renewed (revoked, or it never expires)."""
    plan = await session.get(Plan, license.plan_id) if license.plan_id else None
    product = await session.get(Product, license.product_id)
    assert product is not None
    days = rules.renewal_days(
        plan_days=plan.duration_days if plan else None,
        product_days=product.default_license_days,
    )
    if not rules.renewal_extends(license.status, license.expires_at, days):
        return False
    await extend_license(
        session,
        tenant_id,
        license.activation_key,
        LicenseExtend(days=days, note=f"{_label(event.provider)} renewal {event.event_id}"),
        now=moment,
    )
    return True


async def _renew_license(
    session: AsyncSession, row: ReceivedPaymentEvent, event: PaymentEvent, moment: datetime
) -> Outcome:
    """A paid checkout that names one license (``renewLicenseId``) of the product it bought
    (``productId`` or a mapping, as for a purchase): its order is claimed like a purchase's
    (one renewal per payment, whatever number of events name it) and linked to the license,
    which is extended as a subscription's renewal would extend it."""
    if not event.order_ref:
        return Outcome(PaymentEventStatus.FAILED, "the event names no order or payment")
    existing = await _existing_order(session, event.provider, event.order_ref)
    if existing is not None:
        return await _duplicate(session, existing, event)
    ref = event.license_ref or ""
    license = (
        await session.scalar(
            select(License).where(License.tenant_id == row.tenant_id, License.id == int(ref))
        )
        if ref.isdigit() and len(ref) < 20
        else None
    )
    if license is None:
        return Outcome(
            PaymentEventStatus.FAILED, f"renewLicenseId {ref!r} names no license of yours"
        )
    matched = await _match(session, row.tenant_id, event)
    if isinstance(matched, Outcome):
        return matched
    if matched[0].id != license.product_id:
        raise ApiError(
            "plan_product_mismatch",
            f"The payment bought {matched[0].name!r}, not the product of {license.activation_key}.",
        )
    order = await _claim_order(
        session, row, event, license.product_id, license.plan_id, license.email, 1
    )
    if isinstance(order, Outcome):
        return order
    await session.execute(
        payment_order_licenses.insert(), [{"order_id": order.id, "license_id": license.id}]
    )
    if not await _extend(session, row.tenant_id, license, event, moment):
        raise ApiError(
            "renewal_refused",
            f"{license.activation_key} cannot be renewed (revoked, or it never expires): "
            "refund the payment, or change the key and retry",
        )
    return Outcome(
        PaymentEventStatus.FULFILLED,
        f"renewed {license.activation_key} to {format_expiration(license.expires_at)}",
        license.id,
    )


async def _renewal(
    session: AsyncSession, row: ReceivedPaymentEvent, event: PaymentEvent, moment: datetime
) -> Outcome:
    if not event.subscription_ref:
        return Outcome(PaymentEventStatus.FAILED, "the renewal names no subscription")
    orders = await _orders(
        session,
        row.tenant_id,
        event.provider,
        PaymentOrder.subscription_ref,
        event.subscription_ref,
    )
    if not orders:
        return Outcome(
            PaymentEventStatus.PENDING,
            f"a renewal of subscription {event.subscription_ref} before its purchase: retried",
            retry=True,
        )
    done: list[str] = []
    first: int | None = None
    for order in orders:
        for license in await order_licenses(session, order.id):
            if not await _extend(session, row.tenant_id, license, event, moment):
                continue
            first = first or license.id
            done.append(f"{license.activation_key} to {format_expiration(license.expires_at)}")
    if not done:
        return Outcome(PaymentEventStatus.IGNORED, "the subscription's keys never expire")
    return Outcome(PaymentEventStatus.FULFILLED, "extended " + ", ".join(done), first)


async def _suspend(
    session: AsyncSession, row: ReceivedPaymentEvent, event: PaymentEvent
) -> Outcome:
    if event.action is Action.REFUND:
        app = await session.get(PaymentApp, row.app_id) if row.app_id else None
        if app is not None and not app.suspend_on_refund:
            return Outcome(PaymentEventStatus.IGNORED, "refunds do not suspend (the app's setting)")
        ref = event.payment_ref
        columns: tuple[InstrumentedAttribute[Any], ...] = (
            PaymentOrder.payment_ref,
            PaymentOrder.order_ref,
        )
        why = "refunded or disputed"
    else:
        ref, columns = event.subscription_ref, (PaymentOrder.subscription_ref,)
        why = "subscription ended"
    if not ref:
        return Outcome(PaymentEventStatus.IGNORED, "the event names no payment or subscription")
    orders: dict[int, PaymentOrder] = {}
    for column in columns:
        for order in await _orders(session, row.tenant_id, event.provider, column, ref):
            orders[order.id] = order
    suspended: list[str] = []
    first: int | None = None
    for order in orders.values():
        for license in await order_licenses(session, order.id):
            if license.status is not LicenseStatus.ACTIVE:
                continue
            await change_status(
                session,
                row.tenant_id,
                license.activation_key,
                "suspend",
                note=f"{_label(event.provider)}: {why} ({event.event_id})",
            )
            first = first or license.id
            suspended.append(license.activation_key)
    if not orders:
        return Outcome(PaymentEventStatus.IGNORED, f"no license was made for {ref}")
    if not suspended:
        return Outcome(PaymentEventStatus.IGNORED, "its keys were not active")
    return Outcome(PaymentEventStatus.FULFILLED, "suspended " + ", ".join(suspended), first)
