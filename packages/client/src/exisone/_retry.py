"""When to repeat a failed call, and how long to wait first. Pure functions, no I/O.

- A connection that could not be opened (the request was never sent) is retried for every call.
- 429, 502, 503, 504, read timeouts and broken connections are retried only for idempotent
  calls: a lost answer to ``generate_activation_key`` or ``send_support_ticket`` may mean the
  server already acted, and repeating would create a second key or ticket.
- The wait honours ``Retry-After`` (seconds or an HTTP date) up to ``MAX_RETRY_AFTER_DELAY``;
  a longer hint ends the retrying. Otherwise: exponential backoff with jitter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from ._constants import (
    INITIAL_RETRY_DELAY,
    MAX_RETRY_AFTER_DELAY,
    MAX_RETRY_DELAY,
    RETRY_JITTER,
    RETRYABLE_STATUSES,
)
from ._exceptions import ConnectError, ConnectTimeout, TransportError

__all__: list[str] = []


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP date); ``None`` if unreadable."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment is None:  # Python 3.9 returns None for some unparseable dates.
            return None  # type: ignore[unreachable]
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        seconds = (moment - now).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def backoff_delay(retries_done: int, rand: float) -> float:
    """Exponential backoff: 0.5 s, 1 s, 2 s ... capped, minus up to 25 % random jitter."""
    base = min(INITIAL_RETRY_DELAY * 2.0 ** min(retries_done, 32), MAX_RETRY_DELAY)
    return base * (1.0 - RETRY_JITTER * rand)


def is_retryable_error(error: TransportError, idempotent: bool) -> bool:
    """Unsent requests always; other transport failures only for idempotent calls."""
    return isinstance(error, (ConnectError, ConnectTimeout)) or idempotent


def is_retryable_status(status_code: int, idempotent: bool) -> bool:
    """429 and 502/503/504, for idempotent calls only."""
    return idempotent and status_code in RETRYABLE_STATUSES


def retry_delay_for_status(
    retries_done: int, headers: Mapping[str, str], rand: float, now: datetime
) -> float | None:
    """The wait before repeating after a retryable status; ``None`` = do not repeat."""
    hint = parse_retry_after(headers.get("retry-after"), now)
    if hint is None:
        return backoff_delay(retries_done, rand)
    return hint if hint <= MAX_RETRY_AFTER_DELAY else None
