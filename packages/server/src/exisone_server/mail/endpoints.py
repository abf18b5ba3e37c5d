"""/api/mail: e-mail a customer their keys (``email``), the message log and resend (``admin``)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Router, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from ..auth import Permission, requires
from ..deps import DatabaseDep, PrincipalDep
from ..errors import BadRequest
from ..kit.wire import WireRequest
from . import service
from .addresses import recipient
from .outbox import send_keys
from .settings import MailSettings

__all__ = ["router"]

_ADMIN = requires(Permission.ADMIN)


class KeysRequest(WireRequest):
    email: str


@post("/mail/keys", status_code=202, opt=requires(Permission.EMAIL))
async def mail_keys(
    data: JSONBody[KeysRequest], principal: PrincipalDep, database: DatabaseDep
) -> dict[str, Any]:
    """Queue a "your keys" e-mail with every key of the address (202 ``{"queued": true}``);
    ``{"queued": false}`` when the address has no license."""
    if recipient(data.email) is None:
        raise BadRequest("invalid_request", "Invalid request: email is not an e-mail address.")
    async with database.write() as session:
        message = await send_keys(
            session, principal.tenant_id, data.email, settings=MailSettings.from_env()
        )
    return {"queued": message is not None}


@get("/mail/messages", opt=_ADMIN)
async def list_mail_messages(
    principal: PrincipalDep,
    database: DatabaseDep,
    status: Annotated[str | None, QueryParameter(name="status")] = None,
) -> list[dict[str, Any]]:
    """The latest 100 messages, newest first (optionally of one status)."""
    async with database.read_session() as session:
        rows = await service.list_messages(session, principal.tenant_id, status=status)
    return [service.message_view(row) for row in rows]


@post("/mail/messages/{message_id:int}/resend", status_code=202, opt=_ADMIN)
async def resend_mail_message(
    message_id: FromPath[int], principal: PrincipalDep, database: DatabaseDep
) -> dict[str, Any]:
    """Queue the message again now (202); 404 ``message_not_found``, 409 ``message_in_flight``."""
    async with database.write() as session:
        row = await service.resend_message(
            session, principal.tenant_id, message_id, MailSettings.from_env()
        )
        return service.message_view(row)


router = Router(
    path="/api",
    route_handlers=[mail_keys, list_mail_messages, resend_mail_message],
    tags=["mail"],
)
