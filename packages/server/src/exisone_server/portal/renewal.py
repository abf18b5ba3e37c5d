"""hook (payments): the address where a customer renews a license, shown in the portal.

The portal calls :func:`renewal_url` for every license it lists and shows a "Renew" link when
it returns an address. Until a payment provider is connected it returns None (no link); the
payments package fills it in (e.g. a checkout link for the license's product and plan).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ..models import License

__all__ = ["renewal_url"]


async def renewal_url(session: AsyncSession, license: License) -> str | None:
    """The renewal address of ``license``, or None when none can be offered."""
    return None
