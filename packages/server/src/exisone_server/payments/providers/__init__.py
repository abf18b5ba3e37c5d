"""The payment providers: one small adapter each (verify a delivery, read its event)."""

from __future__ import annotations

from .base import AppKeys, LookupFailed, Provider
from .lemonsqueezy import LemonSqueezyProvider
from .paddle import PaddleProvider
from .paypal import PayPalProvider
from .stripe import StripeProvider

__all__ = ["PROVIDERS", "AppKeys", "LookupFailed", "Provider", "provider"]

#: Every provider by name, in the order the dashboard lists them.
PROVIDERS: dict[str, Provider] = {
    item.name: item
    for item in (StripeProvider(), PaddleProvider(), LemonSqueezyProvider(), PayPalProvider())
}


def provider(name: str) -> Provider:
    """The provider called ``name``; KeyError for none."""
    return PROVIDERS[name]
