"""What a provider's event means to the server, whichever provider sent it: :class:`PaymentEvent`.

Each provider module (``providers/``) turns its verified JSON into one of these; the fulfilment
core (:mod:`.fulfilment`) acts on it and never reads a provider's JSON itself.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RENEW_LICENSE", "Action", "PaymentEvent", "metadata_text", "sale_metadata"]

#: The checkout metadata that makes a payment renew one license (its id) instead of buying one.
RENEW_LICENSE = "renewLicenseId"


class Action(enum.StrEnum):
    #: A paid order or a new subscription: make its license(s), once per order; or, when
    #: the checkout named a license (``renewLicenseId``), renew that one, once per order.
    PURCHASE = "purchase"
    #: A subscription's renewal was paid: extend its licenses by their plan.
    RENEWAL = "renewal"
    #: A subscription ended: suspend its licenses.
    CANCEL = "cancel"
    #: A payment was refunded or disputed: suspend its licenses (when the app says so).
    REFUND = "refund"
    #: Nothing for the server to do (recorded as ``ignored``).
    IGNORE = "ignore"


@dataclass(frozen=True)
class PaymentEvent:
    """One verified event, in the fulfilment core's terms."""

    provider: str
    #: The provider's id of the event (unique per provider).
    event_id: str
    event_type: str
    action: Action
    #: The order (purchase) or the payment (refund) the event is about.
    order_ref: str | None = None
    subscription_ref: str | None = None
    #: The payment a later refund or dispute names, when it differs from ``order_ref``.
    payment_ref: str | None = None
    #: ``productId`` / ``planId`` / ``quantity`` / ``days`` as the checkout's metadata had them.
    product_ref: str | None = None
    plan_ref: str | None = None
    quantity: str | None = None
    days: str | None = None
    #: The provider's ids of what was sold (price, variant, SKU), for the tenant's mappings.
    external_refs: tuple[str, ...] = ()
    #: The license a renewal checkout names (its metadata's ``renewLicenseId``): the payment
    #: renews that license instead of making one.
    license_ref: str | None = None
    #: The customer's e-mail address; None when the event does not carry it.
    email: str | None = None
    #: The provider's customer id (to look the address up when the event lacks it).
    customer_ref: str | None = None
    #: Why an ``IGNORE`` event is ignored (shown on the Payments page).
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def metadata_text(metadata: Any, *names: str) -> str | None:
    """The first of ``names`` in a metadata object, as stripped text (None when absent)."""
    if not isinstance(metadata, dict):
        return None
    for name in names:
        value = metadata.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool):
            text = str(value).strip()
            if text:
                return text
    return None


def sale_metadata(metadata: Any) -> dict[str, Any]:
    """``product_ref``, ``plan_ref``, ``quantity``, ``days`` and ``license_ref`` of a checkout's
    metadata (``productId``, ``planId``, ``quantity``, ``days``, ``renewLicenseId``; snake_case
    names work too)."""
    return {
        "license_ref": metadata_text(metadata, RENEW_LICENSE, "renew_license_id"),
        "product_ref": metadata_text(metadata, "productId", "product_id"),
        "plan_ref": metadata_text(metadata, "planId", "plan_id"),
        "quantity": metadata_text(metadata, "quantity"),
        "days": metadata_text(metadata, "days", "validityDays"),
    }
