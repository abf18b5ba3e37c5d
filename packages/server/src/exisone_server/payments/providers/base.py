"""What a provider adapter is: verify a delivery's signature, read its JSON into a
:class:`~..event.PaymentEvent`, and (where the provider's events lack it) look the customer's
address up through the provider's API."""

from __future__ import annotations

import abc
import hashlib
import hmac
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ..event import PaymentEvent
from ..settings import PaymentSettings

__all__ = [
    "AppKeys",
    "LookupFailed",
    "Provider",
    "SignatureCheck",
    "hmac_sha256_hex",
    "http_client",
    "parse_timed_signatures",
    "signatures_match",
    "timed_hmac_check",
]


@dataclass(frozen=True, repr=False)
class AppKeys:
    """An app's keys, decrypted for the time of one check (never logged: no repr)."""

    app_id: int
    tenant_id: int
    is_live: bool
    signing_secret: str | None
    secret_key: str | None
    public_key: str | None
    webhook_id: str | None

    def __repr__(self) -> str:
        return f"AppKeys(app_id={self.app_id})"


#: Whether a delivery was signed for an app (its keys).
SignatureCheck = Callable[[AppKeys], bool]


class LookupFailed(Exception):
    """The provider's API did not answer a look-up (the event waits and is retried)."""


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def parse_timed_signatures(
    header: str, separator: str, time_key: str, signature_key: str
) -> tuple[int, list[str]] | None:
    """``(timestamp, signatures)`` of a header such as ``t=…,v1=…,v1=…`` (Stripe) or
    ``ts=…;h1=…`` (Paddle); None without a whole-number time or any signature."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(separator):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == time_key:
            try:
                timestamp = int(value)
            except ValueError:
                return None
        elif key == signature_key and value:
            signatures.append(value.lower())
    if timestamp is None or not signatures:
        return None
    return timestamp, signatures


def signatures_match(expected: str, given: list[str]) -> bool:
    """Whether any of the ``given`` hex signatures is ``expected`` (constant time each)."""
    wanted = expected.encode()
    return any(hmac.compare_digest(wanted, item.encode("utf-8", "replace")) for item in given)


def timed_hmac_check(
    parsed: tuple[int, list[str]] | None,
    now: float,
    tolerance: float,
    message: Callable[[int], bytes],
) -> SignatureCheck | None:
    """The check of a timed HMAC-SHA256 scheme (Stripe's, Paddle's): None when the header did
    not parse or its time is further than ``tolerance`` from ``now``; else a check that the
    app's signing secret signs ``message(timestamp)``."""
    if parsed is None:
        return None
    timestamp, signatures = parsed
    if abs(now - timestamp) > tolerance:
        return None
    signed = message(timestamp)

    def check(keys: AppKeys) -> bool:
        if not keys.signing_secret:
            return False
        return signatures_match(hmac_sha256_hex(keys.signing_secret, signed), signatures)

    return check


def http_client(settings: PaymentSettings) -> httpx.AsyncClient:
    """A client for a provider's API: certificates verified (``EXISONE_PAYMENTS_CA_FILE`` or
    the system's), the configured time limit, no redirects."""
    verify: Any = ssl.create_default_context(cafile=settings.ca_file) if settings.ca_file else True
    return httpx.AsyncClient(
        verify=verify, timeout=settings.timeout_seconds, follow_redirects=False
    )


class Provider(abc.ABC):
    """One payment provider. Subclasses set :attr:`name` and :attr:`label`."""

    #: ``stripe``, ``paddle``, ``lemonsqueezy``, ``paypal`` (stored with apps and events).
    name: str
    #: As shown to people.
    label: str
    #: Whether an app needs a signing secret to verify events (PayPal signs with a certificate).
    uses_signing_secret = True

    @abc.abstractmethod
    async def signature_check(
        self,
        headers: Mapping[str, str],
        body: bytes,
        settings: PaymentSettings,
        now: float,
    ) -> SignatureCheck | None:
        """A check of the delivery against one app's keys, or None when the delivery carries
        no usable signature (missing, malformed, outside the time tolerance)."""

    @abc.abstractmethod
    def parse(self, payload: Any) -> PaymentEvent:
        """The event a verified JSON body means; ValueError when it is not an event of the
        provider (no id or type)."""

    async def look_up_email(
        self, keys: AppKeys, event: PaymentEvent, settings: PaymentSettings
    ) -> str | None:
        """The customer's address from the provider's API, for events that lack it (None:
        this provider cannot); :class:`LookupFailed` when the API did not answer."""
        return None
