"""The country of a client IP, from a MaxMind-format country database read with ``maxminddb``.

Any MaxMind DB file whose records carry ``country.iso_code`` works: MaxMind's GeoLite2 /
GeoIP2 Country (or City) and DB-IP's IP-to-Country Lite. None is shipped (their licences ask
for attribution and updates); the publisher downloads one and sets ``EXISONE_GEOIP_DATABASE``.
The file is memory-mapped, reopened when it changes (a monthly update needs no restart), and
each address is looked up once per process while the cache holds it.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import maxminddb

__all__ = ["CountryDatabase", "GeoStatus"]

logger = logging.getLogger("exisone_server")

#: Addresses whose country a process keeps (the cache is emptied when it is full).
CACHE_SIZE = 100_000
#: How often the file's modification time is looked at.
RECHECK_SECONDS = 60.0


@dataclass(frozen=True)
class GeoStatus:
    """What the analytics page says about the country database."""

    configured: bool
    path: str | None = None
    ok: bool = False
    description: str = ""


def _iso_code(record: Any) -> str:
    if not isinstance(record, dict):
        return ""
    for field in ("country", "registered_country"):
        place = record.get(field)
        code = place.get("iso_code") if isinstance(place, dict) else None
        if isinstance(code, str) and len(code) == 2 and code.isascii() and code.isalpha():
            return code.upper()
    return ""


class CountryDatabase:
    """One database file (or none: every country is "")."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._reader: Any = None
        self._opened_mtime: float | None = None
        self._checked_at = -RECHECK_SECONDS
        self._error = ""
        self._cache: dict[str, str] = {}
        if path is not None:
            self._open()

    @property
    def configured(self) -> bool:
        return self.path is not None

    def status(self) -> GeoStatus:
        if self.path is None:
            return GeoStatus(configured=False)
        self._recheck()
        if self._reader is None:
            return GeoStatus(True, str(self.path), False, self._error)
        meta = self._reader.metadata()
        built = time.strftime("%Y-%m-%d", time.gmtime(meta.build_epoch))
        return GeoStatus(True, str(self.path), True, f"{meta.database_type}, built {built}")

    def country(self, ip: str | None) -> str:
        """The ISO 3166 alpha-2 code of ``ip``'s country; "" when unknown."""
        if not ip or self.path is None:
            return ""
        self._recheck()
        code = self._cache.get(ip)
        if code is not None:
            return code
        code = ""
        if self._reader is not None:
            try:
                code = _iso_code(self._reader.get(ip))
            except ValueError:  # not an IP address (or IPv6 in an IPv4-only database)
                code = ""
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[ip] = code
        return code

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _recheck(self) -> None:
        now = time.monotonic()
        if now - self._checked_at < RECHECK_SECONDS:
            return
        self._checked_at = now
        try:
            mtime = os.stat(self._path()).st_mtime
        except OSError:
            mtime = None
        if mtime != self._opened_mtime:
            self._open()

    def _path(self) -> Path:
        assert self.path is not None
        return self.path

    def _open(self) -> None:
        self._checked_at = time.monotonic()
        try:
            mtime = os.stat(self._path()).st_mtime
            reader = maxminddb.open_database(str(self._path()), maxminddb.MODE_AUTO)
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as error:
            if not self._error:
                logger.warning("the GeoIP database %s cannot be read: %s", self.path, error)
            self._error = str(error) or type(error).__name__
            self.close()
            self._opened_mtime = None
            return
        self.close()
        self._reader, self._opened_mtime, self._error = reader, mtime, ""
        self._cache.clear()
