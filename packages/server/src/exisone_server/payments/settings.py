"""Payment settings, read from ``EXISONE_PAYMENTS_*`` and per-provider environment variables.

=======================================  ==================================================
variable                                 meaning (default)
=======================================  ==================================================
EXISONE_STRIPE_API_BASE                  Stripe's API (https://api.stripe.com); checkout
                                         sessions are created there
EXISONE_STRIPE_TOLERANCE_SECONDS         oldest accepted ``Stripe-Signature`` time (300)
EXISONE_PADDLE_API_BASE                  Paddle's API (https://api.paddle.com for live apps,
                                         https://sandbox-api.paddle.com for sandbox ones);
                                         the customer's address is looked up there
EXISONE_PADDLE_TOLERANCE_SECONDS         oldest accepted ``Paddle-Signature`` time (5)
EXISONE_PAYPAL_API_BASE                  PayPal's API (https://api-m.paypal.com, sandbox
                                         https://api-m.sandbox.paypal.com)
EXISONE_PAYPAL_CERT_HOSTS                the only hosts PayPal's signing certificates are
                                         fetched from, comma separated, ``host`` or
                                         ``host:port`` (api.paypal.com,
                                         api.sandbox.paypal.com); always over HTTPS
EXISONE_PAYPAL_TOLERANCE_SECONDS         oldest accepted ``PAYPAL-TRANSMISSION-TIME`` (300)
EXISONE_PAYMENTS_CA_FILE                 PEM file of the CA certificates that providers'
                                         HTTPS certificates are checked against (the
                                         system's); for a test's local providers
EXISONE_PAYMENTS_TIMEOUT_SECONDS         time limit of one call to a provider's API (10)
EXISONE_PAYMENTS_WORKER                  retry waiting events in the server (1)
EXISONE_PAYMENTS_POLL_SECONDS            how often the worker looks for due events (5)
EXISONE_PAYMENTS_RETRY_BASE_SECONDS      first retry delay of a waiting event, doubled per
                                         attempt (60)
EXISONE_PAYMENTS_RETRY_MAX_SECONDS       longest delay between two retries (3600)
EXISONE_PAYMENTS_RETRY_HOURS             how long a waiting event is retried, then
                                         ``failed`` (72)
=======================================  ==================================================

A signature older than its tolerance is refused, as is one from the future by more than it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from urllib.parse import urlsplit

__all__ = ["PaymentSettings"]

_TRUE = {"1", "true", "yes", "on"}


def _base_url(value: str, name: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"{name} must be an http(s) URL")
    return value.strip().rstrip("/")


@dataclass(frozen=True)
class PaymentSettings:
    stripe_api_base: str = "https://api.stripe.com"
    stripe_tolerance_seconds: float = 300.0
    #: None: Paddle's live or sandbox API, by the app.
    paddle_api_base: str | None = None
    paddle_tolerance_seconds: float = 5.0
    #: None: PayPal's live or sandbox API, by the app.
    paypal_api_base: str | None = None
    paypal_cert_hosts: tuple[str, ...] = ("api.paypal.com", "api.sandbox.paypal.com")
    paypal_tolerance_seconds: float = 300.0
    ca_file: str | None = None
    timeout_seconds: float = 10.0
    worker: bool = True
    poll_seconds: float = 5.0
    retry_base_seconds: float = 60.0
    retry_max_seconds: float = 3600.0
    retry_hours: float = 72.0

    @property
    def retry_window(self) -> timedelta:
        return timedelta(hours=self.retry_hours)

    def paddle_api(self, live: bool) -> str:
        if self.paddle_api_base:
            return self.paddle_api_base
        return "https://api.paddle.com" if live else "https://sandbox-api.paddle.com"

    def paypal_api(self, live: bool) -> str:
        if self.paypal_api_base:
            return self.paypal_api_base
        return "https://api-m.paypal.com" if live else "https://api-m.sandbox.paypal.com"

    def with_changes(self, **changes: object) -> PaymentSettings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PaymentSettings:
        env = os.environ if environ is None else environ

        def number(name: str, default: float) -> float:
            text = env.get(name)
            if not text:
                return default
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"{name} must be a number") from None
            if value < 0:
                raise ValueError(f"{name} must not be negative")
            return value

        def url(name: str) -> str | None:
            text = env.get(name)
            return _base_url(text, name) if text else None

        hosts = tuple(
            host.strip().lower()
            for host in env.get("EXISONE_PAYPAL_CERT_HOSTS", "").split(",")
            if host.strip()
        )
        ca_file = env.get("EXISONE_PAYMENTS_CA_FILE") or None
        if ca_file is not None and not os.path.isfile(ca_file):
            raise ValueError(f"EXISONE_PAYMENTS_CA_FILE: no file at {ca_file}")
        worker = env.get("EXISONE_PAYMENTS_WORKER")
        defaults = cls()
        return cls(
            stripe_api_base=url("EXISONE_STRIPE_API_BASE") or defaults.stripe_api_base,
            stripe_tolerance_seconds=number("EXISONE_STRIPE_TOLERANCE_SECONDS", 300.0),
            paddle_api_base=url("EXISONE_PADDLE_API_BASE"),
            paddle_tolerance_seconds=number("EXISONE_PADDLE_TOLERANCE_SECONDS", 5.0),
            paypal_api_base=url("EXISONE_PAYPAL_API_BASE"),
            paypal_cert_hosts=hosts or defaults.paypal_cert_hosts,
            paypal_tolerance_seconds=number("EXISONE_PAYPAL_TOLERANCE_SECONDS", 300.0),
            ca_file=ca_file,
            timeout_seconds=number("EXISONE_PAYMENTS_TIMEOUT_SECONDS", 10.0) or 10.0,
            worker=True if not worker else worker.strip().lower() in _TRUE,
            poll_seconds=number("EXISONE_PAYMENTS_POLL_SECONDS", 5.0) or 5.0,
            retry_base_seconds=number("EXISONE_PAYMENTS_RETRY_BASE_SECONDS", 60.0),
            retry_max_seconds=number("EXISONE_PAYMENTS_RETRY_MAX_SECONDS", 3600.0),
            retry_hours=number("EXISONE_PAYMENTS_RETRY_HOURS", 72.0),
        )
