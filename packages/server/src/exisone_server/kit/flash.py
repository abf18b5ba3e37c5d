"""One-shot messages kept on a session row (``flash`` column) for the next page it sees."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["keep_flash", "take_flash"]

#: The ``flash`` columns' length.
MAX_FLASH = 2000


async def keep_flash(session: AsyncSession, model: type[Any], row_id: int, message: str) -> None:
    """Keep ``message`` on the session row ``row_id`` of ``model`` (a row gone: nothing)."""
    record = await session.get(model, row_id)
    if record is not None:
        record.flash = message[:MAX_FLASH]


async def take_flash(session: AsyncSession, model: type[Any], row_id: int) -> str | None:
    """The kept message, removed."""
    record = await session.get(model, row_id)
    if record is None or record.flash is None:
        return None
    message: str = record.flash
    record.flash = None
    return message
