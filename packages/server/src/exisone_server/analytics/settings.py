"""Analytics settings, read from environment variables.

==========================  ===============================================================
variable                    meaning (default)
==========================  ===============================================================
EXISONE_ANALYTICS           count validations per product, client version and country
                            (``on``); ``off``: only the per-day totals of the home page
EXISONE_GEOIP_DATABASE      path of a MaxMind DB country database (MaxMind's
                            ``GeoLite2-Country.mmdb``, DB-IP's ``dbip-country-lite-*.mmdb``)
                            to tell the country of a client IP; none is shipped (no country)
==========================  ===============================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["AnalyticsSettings"]

_ON = {"1", "true", "yes", "on"}
_OFF = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class AnalyticsSettings:
    enabled: bool = True
    geoip_database: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AnalyticsSettings:
        env = os.environ if environ is None else environ
        text = (env.get("EXISONE_ANALYTICS") or "on").strip().lower()
        if text not in _ON | _OFF:
            raise ValueError(f"EXISONE_ANALYTICS must be on or off, not {text!r}")
        path = (env.get("EXISONE_GEOIP_DATABASE") or "").strip()
        return cls(enabled=text in _ON, geoip_database=Path(path).expanduser() if path else None)
