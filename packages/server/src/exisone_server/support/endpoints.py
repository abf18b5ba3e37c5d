"""POST /api/support/ticket (permission ``email``).

The fields' lengths are capped (:data:`FIELD_LIMITS`) and a token takes at most so many tickets
an hour, per client IP and in all (:mod:`..security.write_limits`, 429 past them).
"""

from __future__ import annotations

from litestar import Router, post
from litestar.params import JSONBody

from ..auth import Permission, requires
from ..deps import ClientIpDep, DatabaseDep, PrincipalDep
from ..errors import BadRequest
from ..kit.wire import WireRequest, WireResponse
from ..licenses.service import find_product
from ..models import SupportTicket
from ..security.write_limits import check_ticket_allowed

__all__ = ["FIELD_LIMITS", "router"]

#: The longest accepted value of each field, in characters (after trimming).
FIELD_LIMITS = {"productName": 200, "email": 320, "subject": 500, "message": 10_000}


class SupportTicketCreate(WireRequest):
    product_name: str
    email: str
    subject: str
    message: str


class SupportTicketCreated(WireResponse):
    success: bool
    ticket_id: int
    message: str


@post("/support/ticket", status_code=200, opt=requires(Permission.EMAIL))
async def create_support_ticket(
    data: JSONBody[SupportTicketCreate],
    principal: PrincipalDep,
    database: DatabaseDep,
    client_ip: ClientIpDep,
) -> SupportTicketCreated:
    """Store a ticket for the publisher (it is not e-mailed by this server)."""
    values = {
        "productName": data.product_name.strip(),
        "email": data.email.strip(),
        "subject": data.subject.strip(),
        "message": data.message.strip(),
    }
    for name, value in values.items():
        if not value:
            raise BadRequest("invalid_request", f"Invalid request: {name} is required.")
        if len(value) > FIELD_LIMITS[name]:
            raise BadRequest(
                "invalid_request",
                f"Invalid request: {name} is longer than {FIELD_LIMITS[name]} characters.",
            )
    await check_ticket_allowed(database)
    async with database.write() as session:
        product = await find_product(session, principal.tenant_id, values["productName"])
        ticket = SupportTicket(
            tenant_id=principal.tenant_id,
            product_id=product.id if product is not None else None,
            product_name=values["productName"],
            email=values["email"],
            subject=values["subject"],
            message=values["message"],
            ip_address=client_ip,
        )
        session.add(ticket)
        await session.flush()
        ticket_id = ticket.id
    return SupportTicketCreated(success=True, ticket_id=ticket_id, message="Ticket received.")


router = Router(path="/api", route_handlers=[create_support_ticket], tags=["client"])
