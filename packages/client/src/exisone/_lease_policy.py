"""The decisions of a held lease, shared by :class:`Lease` and :class:`AsyncLease`: when to
heartbeat, which failures to ride out inside the time to live, and which mean the lease is
lost. Pure functions, no I/O."""

from __future__ import annotations

from datetime import datetime

from ._exceptions import (
    AnswerSignatureError,
    APIError,
    ClientClosedError,
    InvalidResponseError,
    RateLimitError,
    ServerError,
    TransportError,
)
from ._models import LeaseGrant, LeaseLostReason
from ._retry import backoff_delay

__all__: list[str] = []

#: Heartbeats come at this share of the time to live (three chances before it runs out).
HEARTBEAT_SHARE = 1 / 3
#: The shortest wait between heartbeats or retries (a tiny TTL must not spin).
MIN_WAIT = 0.05
#: Seconds a release may take (and a stopping heartbeat thread, to end).
CALL_TIMEOUT = 5.0
#: Seconds a heartbeat may take at most; less when the lease's deadline is nearer.
HEARTBEAT_TIMEOUT = 30.0
#: The time to live assumed when the server names neither ``ttlSeconds`` nor a usable expiry.
FALLBACK_TTL = 60.0

#: Losses after which the server holds no lease to release (others are released best effort).
ENDED_BY_SERVER = frozenset(
    {
        LeaseLostReason.EXPIRED,
        LeaseLostReason.NOT_FOUND,
        LeaseLostReason.LICENSE_REVOKED,
        LeaseLostReason.LICENSE_SUSPENDED,
    }
)

_LOST_CODES = {
    "lease_expired": LeaseLostReason.EXPIRED,
    "lease_not_found": LeaseLostReason.NOT_FOUND,
    "license_revoked": LeaseLostReason.LICENSE_REVOKED,
    "license_suspended": LeaseLostReason.LICENSE_SUSPENDED,
}


def ttl_of(grant: LeaseGrant, server_now: datetime) -> float:
    """The lease's time to live in seconds: the server's ``ttlSeconds``, else its expiry."""
    if grant.ttl_seconds > 0:
        return float(grant.ttl_seconds)
    left = (grant.expires_at - server_now).total_seconds()
    return left if left > 0 else FALLBACK_TTL


def heartbeat_interval(ttl: float) -> float:
    return max(MIN_WAIT, ttl * HEARTBEAT_SHARE)


def lost_reason(error: BaseException) -> LeaseLostReason | None:
    """Why a failed heartbeat ends the lease; ``None`` for a failure worth retrying inside the
    time to live (unreachable, 5xx, 429, an unreadable or unverifiable answer)."""
    if isinstance(
        error,
        (TransportError, ServerError, RateLimitError, InvalidResponseError, AnswerSignatureError),
    ):
        return None
    if isinstance(error, APIError):
        if error.status_code == 410:
            return LeaseLostReason.EXPIRED
        reason = _LOST_CODES.get(error.error_code or "")
        if reason is not None:
            return reason
        if error.status_code == 404:
            return LeaseLostReason.NOT_FOUND
        return LeaseLostReason.REFUSED
    if isinstance(error, ClientClosedError):
        return LeaseLostReason.REFUSED
    return None


def retry_wait(attempt: int, rand: float, remaining: float) -> float:
    """Backoff before the next heartbeat attempt, never past the lease's local deadline."""
    return max(MIN_WAIT, min(backoff_delay(attempt, rand), remaining))
