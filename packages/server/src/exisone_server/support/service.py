"""The publisher's side of support tickets: inbox, read one, mark resolved or reopen."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import NotFound
from ..models import SupportTicket

__all__ = ["count_open_tickets", "get_ticket", "list_tickets", "set_ticket_closed"]


async def list_tickets(
    session: AsyncSession, tenant_id: int, *, closed: bool | None = None, limit: int = 200
) -> list[SupportTicket]:
    """The tenant's tickets, newest first; ``closed`` keeps only open (False) or resolved."""
    statement = select(SupportTicket).where(SupportTicket.tenant_id == tenant_id)
    if closed is not None:
        statement = statement.where(SupportTicket.is_closed.is_(closed))
    statement = statement.order_by(SupportTicket.seq.desc(), SupportTicket.id.desc()).limit(limit)
    return list(await session.scalars(statement))


async def count_open_tickets(session: AsyncSession, tenant_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count(SupportTicket.id)).where(
                SupportTicket.tenant_id == tenant_id, SupportTicket.is_closed.is_(False)
            )
        )
        or 0
    )


async def get_ticket(session: AsyncSession, tenant_id: int, ticket_id: int) -> SupportTicket:
    """The tenant's ticket, or 404 ``ticket_not_found`` (also for another tenant's)."""
    ticket = await session.scalar(
        select(SupportTicket).where(
            SupportTicket.tenant_id == tenant_id, SupportTicket.id == ticket_id
        )
    )
    if ticket is None:
        raise NotFound("ticket_not_found", f"No ticket with id {ticket_id}.")
    return ticket


async def set_ticket_closed(
    session: AsyncSession, tenant_id: int, ticket_id: int, closed: bool
) -> SupportTicket:
    """Mark the ticket resolved (``closed``) or open again."""
    ticket = await get_ticket(session, tenant_id, ticket_id)
    ticket.is_closed = closed
    await session.flush()
    return ticket
