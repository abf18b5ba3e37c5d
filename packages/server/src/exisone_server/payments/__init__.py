"""Selling: payment providers' events become licenses (docs/payments.md).

One fulfilment core (:mod:`.fulfilment`) and one small adapter per provider
(:mod:`.providers`: Stripe, Paddle Billing, Lemon Squeezy, PayPal). A delivery is verified
against the tenants' apps (:mod:`.apps`, :mod:`.receiver`), stored, and fulfilled in the
transaction that creates or changes the licenses; events that wait are retried by
:mod:`.worker`, which the app runs with :func:`payment_lifespan`.
"""

from .event import Action, PaymentEvent
from .fulfilment import register_quantity_meaning
from .settings import PaymentSettings
from .worker import PaymentWorker, payment_lifespan

__all__ = [
    "Action",
    "PaymentEvent",
    "PaymentSettings",
    "PaymentWorker",
    "payment_lifespan",
    "register_quantity_meaning",
]
