"""E-mail: messages written to an outbox in the transaction of the change that caused them, sent
by a worker inside the server over SMTP with retries (docs/email.md).

Callers use :func:`enqueue` (any message), :func:`purchase_email` (after a payment created a
license) and :func:`send_keys` ("e-mail me my keys"); the app runs :func:`mail_lifespan`.
"""

from .kinds import MailKind
from .outbox import enqueue, purchase_email, send_keys
from .runtime import mail_lifespan
from .settings import MailSettings
from .worker import MailWorker

__all__ = [
    "MailKind",
    "MailSettings",
    "MailWorker",
    "enqueue",
    "mail_lifespan",
    "purchase_email",
    "send_keys",
]
