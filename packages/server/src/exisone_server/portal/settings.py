"""Server-wide settings of the customer portal, from ``EXISONE_PORTAL_*`` environment variables.

=======================================  ======================================================
variable                                 meaning (default)
=======================================  ======================================================
EXISONE_PORTAL_URL                       the address (scheme and host, e.g.
                                         ``https://licenses.example.com``) in the sign-in links
                                         of tenants that set no public address of their own
                                         (none: such a tenant's portal cannot be enabled)
EXISONE_PORTAL_WINDOW_SECONDS            length of a counting window of the limits below (3600)
EXISONE_PORTAL_MAILS_PER_ADDRESS         sign-in links and key e-mails asked for one address of
                                         one tenant per window (5)
EXISONE_PORTAL_REQUESTS_PER_IP           sign-in links and key e-mails asked from one client IP
                                         per window, all addresses and tenants together (20)
=======================================  ======================================================

A limit of 0 switches it off. The counters are shared by every server process (the database's
``rate_limit_counters``, scope ``portal``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..security.env import env_count
from .addresses import public_origin

__all__ = ["PortalServerSettings"]


@dataclass(frozen=True)
class PortalServerSettings:
    #: Checked origin (``https://host[:port]``), or None.
    portal_url: str | None = None
    window_seconds: int = 3600
    mails_per_address: int = 5
    requests_per_ip: int = 20

    def __post_init__(self) -> None:
        if self.window_seconds < 1:
            raise ValueError("EXISONE_PORTAL_WINDOW_SECONDS must be 1 or more")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PortalServerSettings:
        env = os.environ if environ is None else environ
        url = env.get("EXISONE_PORTAL_URL") or None
        return cls(
            portal_url=public_origin(url, "EXISONE_PORTAL_URL") if url else None,
            window_seconds=env_count(env, "PORTAL_WINDOW_SECONDS", 3600),
            mails_per_address=env_count(env, "PORTAL_MAILS_PER_ADDRESS", 5),
            requests_per_ip=env_count(env, "PORTAL_REQUESTS_PER_IP", 20),
        )
