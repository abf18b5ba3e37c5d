"""Webhook settings, read from ``EXISONE_WEBHOOKS_*`` environment variables.

=======================================  ==================================================
variable                                 meaning (default)
=======================================  ==================================================
EXISONE_WEBHOOKS_WORKER                  run the delivery worker in the server (1)
EXISONE_WEBHOOKS_POLL_SECONDS            how often the worker looks for due deliveries (2)
EXISONE_WEBHOOKS_SCAN_SECONDS            how often expired / expiring licenses are looked for (60)
EXISONE_WEBHOOKS_EXPIRING_DAYS           ``license.expiring_soon`` this many days ahead (7)
EXISONE_WEBHOOKS_TIMEOUT_SECONDS         one delivery attempt's time limit (10)
EXISONE_WEBHOOKS_RETRY_BASE_SECONDS      first retry delay, doubled per attempt (30)
EXISONE_WEBHOOKS_RETRY_MAX_SECONDS       longest delay between two attempts (3600)
EXISONE_WEBHOOKS_RETRY_HOURS             retry window; then the delivery is ``failed`` (26)
EXISONE_WEBHOOKS_ALLOW_HTTP_LOOPBACK     allow http:// and loopback targets (0; development)
EXISONE_WEBHOOKS_MAX_ENDPOINTS           endpoints a tenant may register (20; 0 = no limit)
EXISONE_WEBHOOKS_VALIDATION_FAILED_PER_MINUTE
                                         ``license.validation.failed`` events recorded per
                                         tenant and minute; more are dropped (60; 0 = no limit)
=======================================  ==================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta

__all__ = ["WebhookSettings"]

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class WebhookSettings:
    worker: bool = True
    poll_seconds: float = 2.0
    scan_seconds: float = 60.0
    expiring_days: int = 7
    timeout_seconds: float = 10.0
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    retry_hours: float = 26.0
    allow_http_loopback: bool = False
    max_endpoints: int = 20
    validation_failed_per_minute: int = 60

    @property
    def retry_window(self) -> timedelta:
        return timedelta(hours=self.retry_hours)

    @property
    def lease(self) -> timedelta:
        """How long a claimed delivery stays locked: longer than any attempt can take."""
        return timedelta(seconds=2 * self.timeout_seconds + 5)

    def with_changes(self, **changes: object) -> WebhookSettings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebhookSettings:
        env = os.environ if environ is None else environ

        def number(name: str, default: float) -> float:
            text = env.get(f"EXISONE_WEBHOOKS_{name}")
            if not text:
                return default
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"EXISONE_WEBHOOKS_{name} must be a number") from None
            if value < 0:
                raise ValueError(f"EXISONE_WEBHOOKS_{name} must not be negative")
            return value

        def flag(name: str, default: bool) -> bool:
            text = env.get(f"EXISONE_WEBHOOKS_{name}")
            return default if not text else text.strip().lower() in _TRUE

        return cls(
            worker=flag("WORKER", True),
            poll_seconds=number("POLL_SECONDS", 2.0),
            scan_seconds=number("SCAN_SECONDS", 60.0),
            expiring_days=int(number("EXPIRING_DAYS", 7)),
            timeout_seconds=number("TIMEOUT_SECONDS", 10.0),
            retry_base_seconds=number("RETRY_BASE_SECONDS", 30.0),
            retry_max_seconds=number("RETRY_MAX_SECONDS", 3600.0),
            retry_hours=number("RETRY_HOURS", 26.0),
            allow_http_loopback=flag("ALLOW_HTTP_LOOPBACK", False),
            max_endpoints=int(number("MAX_ENDPOINTS", 20)),
            validation_failed_per_minute=int(number("VALIDATION_FAILED_PER_MINUTE", 60)),
        )
