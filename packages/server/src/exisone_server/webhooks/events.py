"""The event types an endpoint can subscribe to."""

from __future__ import annotations

__all__ = ["EVENT_TYPES"]

#: Every event type, in documentation order (docs/webhooks.md).
EVENT_TYPES: tuple[str, ...] = (
    "license.created",
    "license.activated",
    "license.expired",
    "license.expiring_soon",
    "license.validation.failed",
    "license.revoked",
    "device.deactivated",
    "trial.started",
    "license.quota.warning",
    "license.quota.exhausted",
    "lease.expired",
)
