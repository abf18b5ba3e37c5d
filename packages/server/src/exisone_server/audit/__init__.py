"""The audit log: every publisher action, recorded in the action's own transaction.

Services call :func:`record_audit` (one line each); who acted and from which IP comes from the
request context (:func:`acting_as`, set by the security middleware for API tokens, by the
dashboard for its users and by the customer portal for customers; the CLI's default actor is
``cli``). ``GET /api/audit`` lists it; no route changes it, and database triggers refuse UPDATE
and DELETE.
"""

from .context import Actor, acting_as, current_actor, identify_customer, identify_user
from .service import list_audit_events, record_audit, record_license_audit

__all__ = [
    "Actor",
    "acting_as",
    "current_actor",
    "identify_customer",
    "identify_user",
    "list_audit_events",
    "record_audit",
    "record_license_audit",
]
