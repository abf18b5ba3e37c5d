"""/api/webhook: register, list and remove endpoints; deliveries and resend (``admin``)."""

from __future__ import annotations

from litestar import Router, delete, get, post
from litestar.params import FromPath, JSONBody

from ..auth import Permission, requires
from ..deps import DatabaseDep, MasterKeyDep, PrincipalDep
from ..kit.time import format_expiration
from ..models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from . import service
from .schemas import DeliveryRead, EndpointCreate, EndpointCreated, EndpointRead
from .settings import WebhookSettings

__all__ = ["delivery_read", "endpoint_read", "router"]

_ADMIN = requires(Permission.ADMIN)


def endpoint_read(endpoint: WebhookEndpoint) -> EndpointRead:
    return EndpointRead(
        id=endpoint.id,
        url=endpoint.url,
        events=list(endpoint.events),
        is_active=endpoint.is_active,
        created_at=format_expiration(endpoint.created_at),
        description=endpoint.description,
    )


def delivery_read(row: service.DeliveryRow) -> DeliveryRead:
    delivery: WebhookDelivery = row.delivery
    return DeliveryRead(
        id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        event_id=row.event_public_id,
        event_type=row.event_type,
        status=delivery.status.value,
        attempts=delivery.attempts,
        created_at=format_expiration(delivery.created_at),
        next_attempt_at=format_expiration(delivery.next_attempt_at)
        if delivery.status is DeliveryStatus.PENDING
        else None,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        delivered_at=format_expiration(delivery.delivered_at) if delivery.delivered_at else None,
    )


@post("/webhook", status_code=201, opt=_ADMIN)
async def create_webhook(
    data: JSONBody[EndpointCreate],
    principal: PrincipalDep,
    database: DatabaseDep,
    master_key: MasterKeyDep,
) -> EndpointCreated:
    """Register an HTTPS endpoint; the answer holds the signing secret, shown only this once."""
    async with database.write() as session:
        created = await service.create_endpoint(
            session,
            principal.tenant_id,
            master_key,
            WebhookSettings.from_env(),
            url=data.url,
            events=data.events,
            description=data.description,
        )
    read = endpoint_read(created.endpoint)
    return EndpointCreated(
        id=read.id,
        url=read.url,
        events=read.events,
        is_active=read.is_active,
        created_at=read.created_at,
        description=read.description,
        secret=created.secret,
    )


@get("/webhook", opt=_ADMIN)
async def list_webhooks(principal: PrincipalDep, database: DatabaseDep) -> list[EndpointRead]:
    """The tenant's endpoints (secrets are never shown again)."""
    async with database.read_session() as session:
        endpoints = await service.list_endpoints(session, principal.tenant_id)
    return [endpoint_read(endpoint) for endpoint in endpoints]


@delete("/webhook/{endpoint_id:int}", opt=_ADMIN)
async def delete_webhook(
    endpoint_id: FromPath[int], principal: PrincipalDep, database: DatabaseDep
) -> None:
    """Remove an endpoint and its deliveries (204); 404 ``webhook_not_found``."""
    async with database.write() as session:
        await service.delete_endpoint(session, principal.tenant_id, endpoint_id)


@get("/webhook/{endpoint_id:int}/deliveries", opt=_ADMIN)
async def list_webhook_deliveries(
    endpoint_id: FromPath[int], principal: PrincipalDep, database: DatabaseDep
) -> list[DeliveryRead]:
    """The endpoint's latest 100 deliveries, newest first."""
    async with database.read_session() as session:
        rows = await service.list_deliveries(session, principal.tenant_id, endpoint_id)
    return [delivery_read(row) for row in rows]


@post("/webhook/deliveries/{delivery_id:int}/resend", status_code=202, opt=_ADMIN)
async def resend_webhook_delivery(
    delivery_id: FromPath[int], principal: PrincipalDep, database: DatabaseDep
) -> dict[str, object]:
    """Send the delivery again as soon as possible (202); 404 ``delivery_not_found``."""
    async with database.write() as session:
        delivery = await service.resend_delivery(
            session, principal.tenant_id, delivery_id, WebhookSettings.from_env()
        )
    return {"id": delivery.id, "status": delivery.status.value}


router = Router(
    path="/api",
    route_handlers=[
        create_webhook,
        list_webhooks,
        delete_webhook,
        list_webhook_deliveries,
        resend_webhook_delivery,
    ],
    tags=["webhooks"],
)
