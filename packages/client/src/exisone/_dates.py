"""ISO 8601 dates on the wire: one parser for every Python from 3.9, one formatter.

The protocol writes dates as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, no fraction). Servers in the wild
also send offsets (``+02:00``), fractions of any length (.NET writes seven digits), no zone at
all (read as UTC), or a bare date. :func:`parse_datetime` accepts all of them and always returns
a timezone-aware UTC ``datetime``. A license that never expires is written as
:data:`PERPETUAL`.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime, timedelta, timezone

__all__ = ["PERPETUAL", "format_datetime", "parse_datetime", "utc_now"]

#: The expiration date the protocol writes for a license that never expires.
PERPETUAL = datetime(2049, 12, 31, 23, 59, 59, tzinfo=timezone.utc)

_ISO = re.compile(
    r"""
    (?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})
    (?:[T ](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?
       (?P<zone>Z|z|[+-]\d{2}(?::?\d{2})?)?
    )?
    """,
    re.VERBOSE,
)
#: From 3.11, ``datetime.fromisoformat`` reads a trailing "Z" as UTC.
_READS_Z = sys.version_info >= (3, 11)
#: The protocol's own shape, parsed by ``datetime.fromisoformat`` in C (every other shape by
#: the general pattern above).
_CANONICAL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(timezone.utc)


def parse_datetime(value: str) -> datetime:
    """Parse an ISO 8601 date or date-time into an aware UTC ``datetime``.

    Raises ``ValueError`` for anything that is not such a date.
    """
    if _READS_Z and len(value) == 20 and value[4::3] == "--T::Z":
        # The protocol's shape: from 3.11 on, fromisoformat reads it alone in C (the "Z" as
        # the timezone.utc singleton), four times faster than the pattern below.
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass  # the general pattern rejects it too, and says so
    elif _CANONICAL.fullmatch(value):
        # "+00:00" gives the timezone.utc singleton on 3.9 and 3.10 too, five times faster
        # than .replace(tzinfo=...), whose keyword call dominates.
        return datetime.fromisoformat(value[:19] + "+00:00")
    match = _ISO.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not an ISO 8601 date: {value!r}")
    parts = match.groupdict()
    fraction = (parts["fraction"] or "").ljust(6, "0")[:6]
    moment = datetime(
        int(parts["year"]),
        int(parts["month"]),
        int(parts["day"]),
        int(parts["hour"] or 0),
        int(parts["minute"] or 0),
        int(parts["second"] or 0),
        int(fraction),
        tzinfo=timezone.utc,
    )
    zone = parts["zone"]
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        if offset >= timedelta(hours=24):
            raise ValueError(f"offset out of range: {value!r}")
        moment -= sign * offset
    return moment


def format_datetime(moment: datetime) -> str:
    """Format as the protocol does: ``YYYY-MM-DDTHH:MM:SSZ`` in UTC (naive means UTC)."""
    if moment.tzinfo is not None and moment.tzinfo is not timezone.utc:
        moment = moment.astimezone(timezone.utc)
    # Three times faster than strftime (the server formats dates in every answer), and the
    # year is always four digits (glibc's %Y does not pad years before 1000).
    m = moment
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}Z"
