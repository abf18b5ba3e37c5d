"""Webhooks: endpoints (secret shown once), their deliveries and a resend button."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from ..deps import DatabaseDep, MasterKeyDep
from ..errors import ApiError
from ..webhooks import EVENT_TYPES, WebhookSettings
from ..webhooks import service as webhooks
from ..webhooks.endpoints import delivery_read
from .web import BASE, page, perform, posted, require_user

__all__ = [
    "webhook_create",
    "webhook_delete",
    "webhook_page",
    "webhook_resend",
    "webhooks_page",
]


async def _endpoints(database: Any, tenant_id: int) -> dict[str, Any]:
    async with database.read_session() as session:
        endpoints = await webhooks.list_endpoints(session, tenant_id)
    return {"endpoints": endpoints, "event_types": EVENT_TYPES, "secret": None}


@get("/webhooks")
async def webhooks_page(request: Request[Any, Any, Any], database: DatabaseDep) -> Template:
    user = await require_user(request, database)
    context = await _endpoints(database, user.tenant_id)
    return await page(request, database, user, "webhooks.html", context)


@post("/webhooks", status_code=200)
async def webhook_create(
    request: Request[Any, Any, Any], database: DatabaseDep, master_key: MasterKeyDep
) -> Template:
    """Register an endpoint and show its signing secret on this answer only."""
    form = await posted(request, database)
    secret = None
    try:
        async with database.write() as session:
            created = await webhooks.create_endpoint(
                session,
                form.user.tenant_id,
                master_key,
                WebhookSettings.from_env(),
                url=form.get("url"),
                events=form.all("events") or None,
                description=form.get("description").strip() or None,
            )
        secret = created.secret
        message = ("ok", "Endpoint added. Copy its signing secret now: it will not be shown again.")
    except ApiError as exc:
        message = ("error", exc.message)
    context = await _endpoints(database, form.user.tenant_id)
    context["secret"] = secret
    return await page(
        request,
        database,
        form.user,
        "webhooks.html",
        context,
        message=message,
        status_code=200 if secret else 400,
    )


@post("/webhooks/{endpoint_id:int}/delete", status_code=200)
async def webhook_delete(
    request: Request[Any, Any, Any], database: DatabaseDep, endpoint_id: FromPath[int]
) -> Redirect:
    form = await posted(request, database)

    async def work(session: AsyncSession) -> str:
        await webhooks.delete_endpoint(session, form.user.tenant_id, endpoint_id)
        return "Endpoint removed; its pending deliveries will not be sent."

    return await perform(database, form.user, work, done=lambda t: t, back=f"{BASE}/webhooks")


@get("/webhooks/{endpoint_id:int}")
async def webhook_page(
    request: Request[Any, Any, Any], database: DatabaseDep, endpoint_id: FromPath[int]
) -> Template:
    """The endpoint's latest deliveries: status, attempts, response code, error, resend."""
    user = await require_user(request, database)
    async with database.read_session() as session:
        endpoint = await webhooks.get_endpoint(session, user.tenant_id, endpoint_id)
        rows = await webhooks.list_deliveries(session, user.tenant_id, endpoint_id)
    context = {"endpoint": endpoint, "deliveries": [delivery_read(row) for row in rows]}
    return await page(request, database, user, "webhook.html", context)


@post("/webhooks/deliveries/{delivery_id:int}/resend", status_code=200)
async def webhook_resend(
    request: Request[Any, Any, Any], database: DatabaseDep, delivery_id: FromPath[int]
) -> Redirect:
    form = await posted(request, database)

    async def work(session: AsyncSession) -> int:
        delivery = await webhooks.resend_delivery(
            session, form.user.tenant_id, delivery_id, WebhookSettings.from_env()
        )
        return delivery.endpoint_id

    return await perform(
        database,
        form.user,
        work,
        done="Delivery queued: it is sent again in a moment.",
        back=lambda endpoint_id: f"{BASE}/webhooks/{endpoint_id}",
        failed_back=f"{BASE}/webhooks",
    )
