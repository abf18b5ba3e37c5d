"""The address where a customer renews a license, shown in the portal as "Renew".

:func:`renewal_url` asks the payments package how the license can be renewed
(:func:`..payments.renewal.renewal_offer`): through Stripe, the portal's own renewal page
(``<portal>/licenses/<id>/renew``, which makes a Checkout session for the license); through
Paddle, Lemon Squeezy or PayPal, the publisher's renewal checkout address; else None (no link).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ..models import License
from ..payments.renewal import renewal_offer

__all__ = ["renewal_url"]


async def renewal_url(session: AsyncSession, license: License, portal_base: str) -> str | None:
    """The renewal address of ``license`` in the portal at ``portal_base``, or None when none
    can be offered."""
    offer = await renewal_offer(session, license)
    if offer is None:
        return None
    if offer.provider == "stripe":
        return f"{portal_base}/licenses/{license.id}/renew"
    return offer.link
