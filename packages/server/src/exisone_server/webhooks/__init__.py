"""Webhooks: lifecycle events written to an outbox in the transaction of the change, delivered
by a worker inside the server with HMAC-SHA256 signatures and retries (docs/webhooks.md).

Services call the :mod:`.hooks` functions; the app runs :func:`webhook_lifespan`.
"""

from . import hooks
from .events import EVENT_TYPES
from .outbox import emit, emit_detached
from .runtime import webhook_lifespan
from .settings import WebhookSettings
from .signing import sign
from .worker import WebhookWorker

__all__ = [
    "EVENT_TYPES",
    "WebhookSettings",
    "WebhookWorker",
    "emit",
    "emit_detached",
    "hooks",
    "sign",
    "webhook_lifespan",
]
