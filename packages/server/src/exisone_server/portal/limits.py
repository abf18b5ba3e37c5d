"""Limits on what the public portal page sends: sign-in links and key e-mails.

Each request takes one slot per address (of the tenant) and one per client IP in a fixed window
(:class:`.settings.PortalServerSettings`), both or neither, with the exact conditional upsert of
:func:`..security.write_limits.take_slots`, shared by every process. A request is counted the
same whether or not the address has licenses, so a refusal tells nothing about the address.
"""

from __future__ import annotations

import time

from ..db import Database
from ..security.limits import retry_after
from ..security.write_limits import take_slots
from .settings import PortalServerSettings

__all__ = ["SCOPE", "take_mail_slot"]

SCOPE = "portal"


async def take_mail_slot(
    database: Database,
    settings: PortalServerSettings,
    tenant_id: int,
    email: str,
    ip: str | None,
    *,
    now: float | None = None,
) -> int | None:
    """Take a slot for one e-mail to ``email`` asked from ``ip``: None when taken, else the
    seconds until the window ends (nothing taken)."""
    moment = time.time() if now is None else now
    limits = [(f"mail:{tenant_id}:{email.lower()[:320]}", settings.mails_per_address)]
    if ip:
        limits.append((f"ip:{ip}", settings.requests_per_ip))
    if await take_slots(database, SCOPE, limits, settings.window_seconds, moment):
        return None
    return retry_after(moment, settings.window_seconds)
