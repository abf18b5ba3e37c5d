"""The customer portal's settings: its address, branding, public address; enable or disable."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from ..deps import DatabaseDep
from ..models import Tenant
from ..portal.config import PortalForm, load_portal_settings, save_portal_settings, suggested_slug
from ..portal.settings import PortalServerSettings
from .web import BASE, page, perform, posted, require_user

__all__ = ["portal_page", "portal_save"]


@get("/portal")
async def portal_page(request: Request[Any, Any, Any], database: DatabaseDep) -> Template:
    """The form, filled with the stored settings (or a suggested address)."""
    user = await require_user(request, database)
    async with database.read_session() as session:
        settings = await load_portal_settings(session, user.tenant_id)
        tenant = await session.get(Tenant, user.tenant_id)
    assert tenant is not None
    server = PortalServerSettings.from_env()
    slug = settings.slug if settings is not None else suggested_slug(tenant.name)
    origin = (settings.public_url if settings else None) or server.portal_url
    return await page(
        request,
        database,
        user,
        "portal_settings.html",
        {
            "settings": settings,
            "slug": slug,
            "tenant_name": tenant.name,
            "server_url": server.portal_url,
            "portal_url": f"{origin}/portal/{slug}" if origin else None,
        },
    )


@post("/portal", status_code=200)
async def portal_save(request: Request[Any, Any, Any], database: DatabaseDep) -> Redirect:
    form = await posted(request, database)

    async def work(session: AsyncSession) -> str:
        saved = await save_portal_settings(
            session,
            form.user.tenant_id,
            PortalForm(
                enabled=form.flag("enabled"),
                slug=form.get("slug"),
                display_name=form.get("display_name"),
                logo_url=form.get("logo_url"),
                accent_color=form.get("accent_color"),
                support_address=form.get("support_address"),
                public_url=form.get("public_url"),
            ),
            PortalServerSettings.from_env(),
        )
        return "Portal settings saved." + (" The portal is on." if saved.enabled else "")

    return await perform(database, form.user, work, done=lambda text: text, back=f"{BASE}/portal")
