"""The audit log page: the tenant's publisher actions, newest first (read-only)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.params import FromQuery
from litestar.response import Template

from ..audit import list_audit_events
from ..deps import DatabaseDep
from .web import page, require_user

__all__ = ["audit_page"]

#: Events per page.
PAGE_SIZE = 50


@get("/audit")
async def audit_page(
    request: Request[Any, Any, Any], database: DatabaseDep, number: FromQuery[int] = 1
) -> Template:
    """Who did what, when, from which IP. There is nothing to edit here, on purpose."""
    user = await require_user(request, database)
    number = max(1, min(number, 10**6))
    async with database.read_session() as session:
        events, total = await list_audit_events(
            session, user.tenant_id, page=number, page_size=PAGE_SIZE
        )
    pages = max(1, -(-total // PAGE_SIZE))
    return await page(
        request,
        database,
        user,
        "audit.html",
        {"events": events, "number": number, "pages": pages, "total": total},
    )
