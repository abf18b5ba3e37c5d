"""Time on the server: aware UTC everywhere, the protocol's date format, the perpetual date."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from functools import lru_cache

from exisone.protocol import PERPETUAL, format_datetime

# PERPETUAL (exisone.protocol): the expiration date of a license stored with none.
__all__ = ["PERPETUAL", "format_expiration", "utc_now"]


#: The last second :func:`utc_now` made a datetime of, and that datetime (one tuple: threads
#: read and replace it whole).
_LAST: tuple[int, datetime] = (0, datetime.fromtimestamp(0, timezone.utc))


def utc_now() -> datetime:
    """Now, aware UTC, to the second (the wire format has no fractions). The datetime of a
    second is made once: a request asks for the time several times."""
    global _LAST
    second = int(time.time())
    last = _LAST
    if last[0] == second:
        return last[1]
    now = datetime.fromtimestamp(second, timezone.utc)
    _LAST = (second, now)
    return now


@lru_cache(maxsize=4096)
def format_expiration(expires_at: datetime | None) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ``; ``None`` (perpetual) becomes 2049-12-31T23:59:59Z. Remembered
    for the last few thousand dates: every answer carries one, mostly the same few."""
    return format_datetime(PERPETUAL if expires_at is None else expires_at)
