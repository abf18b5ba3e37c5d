"""The Settings page: the tenant the logged-in user belongs to (its id, to copy into tools)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Template

from ..deps import DatabaseDep
from ..models import Tenant
from .web import page, require_user

__all__ = ["settings_page"]


@get("/settings")
async def settings_page(request: Request[Any, Any, Any], database: DatabaseDep) -> Template:
    """The tenant's id and name, read-only."""
    user = await require_user(request, database)
    async with database.read_session() as session:
        tenant = await session.get(Tenant, user.tenant_id)
    assert tenant is not None  # a session's user belongs to a tenant (foreign key)
    return await page(request, database, user, "settings.html", {"tenant": tenant})
