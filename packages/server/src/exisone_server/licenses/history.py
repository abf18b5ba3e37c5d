"""Append events to a license's history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ..kit.time import utc_now
from ..models import HistoryAction, LicenseHistory, table_of
from ..models.ids import insert_with_random_id

__all__ = ["record_history"]

_HISTORY = table_of(LicenseHistory)


async def record_history(
    session: AsyncSession,
    license_id: int,
    action: HistoryAction,
    *,
    hardware_id: str | None = None,
    ip_address: str | None = None,
    access_token_id: int | None = None,
    note: str | None = None,
    actor: str | None = None,
    at: datetime | None = None,
) -> None:
    """Add one history row in the caller's transaction (the session's pending changes are
    flushed first, so the row may follow them, such as a license just added)."""
    await session.flush()
    await insert_with_random_id(
        await session.connection(),
        _HISTORY,
        {
            "license_id": license_id,
            "action": action,
            "hardware_id": hardware_id,
            "ip_address": ip_address,
            "access_token_id": access_token_id,
            "note": note,
            "actor": actor,
            "created_at": at or utc_now(),
        },
    )
