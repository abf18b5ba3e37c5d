"""``GET /api/audit``: the tenant's audit log, newest first (admin). There is no route that
changes it."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Router, get
from litestar.params import QueryParameter

from ..auth import Permission, requires
from ..deps import DatabaseDep, PrincipalDep
from ..errors import BadRequest
from ..kit.time import format_expiration
from ..kit.wire import WireResponse, contains_nul
from ..publisher.queries import PageRequest, page_count
from .service import list_audit_events

__all__ = ["router"]


class AuditEventRead(WireResponse):
    id: int
    timestamp: str
    actor_type: str
    actor: str
    action: str
    details: dict[str, Any]
    target_type: str | None = None
    target: str | None = None
    ip_address: str | None = None


class AuditPage(WireResponse):
    items: list[AuditEventRead]
    page: int
    page_size: int
    total_count: int
    total_pages: int


@get("/audit", opt=requires(Permission.ADMIN))
async def read_audit_log(
    principal: PrincipalDep,
    database: DatabaseDep,
    page: Annotated[int, QueryParameter(name="page")] = 1,
    page_size: Annotated[int, QueryParameter(name="pageSize")] = 50,
    action: Annotated[str | None, QueryParameter(name="action")] = None,
) -> AuditPage:
    """Who did what, when, from which IP (``?action=license.revoke`` filters), newest first."""
    paging = PageRequest(page, page_size)
    if action is not None and contains_nul(action):
        raise BadRequest("invalid_request", "Invalid request: action must not contain NUL.")
    async with database.read_session() as session:
        events, total = await list_audit_events(
            session,
            principal.tenant_id,
            page=paging.page,
            page_size=paging.page_size,
            action=action.strip() if action and action.strip() else None,
        )
    return AuditPage(
        items=[
            AuditEventRead(
                id=event.id,
                timestamp=format_expiration(event.created_at),
                actor_type=event.actor_type,
                actor=event.actor,
                action=event.action,
                details=dict(event.details or {}),
                target_type=event.target_type,
                target=event.target,
                ip_address=event.ip_address,
            )
            for event in events
        ],
        page=paging.page,
        page_size=paging.page_size,
        total_count=total,
        total_pages=page_count(total, paging.page_size),
    )


router = Router(path="/api", route_handlers=[read_audit_log], tags=["audit"])
