"""Payment routes: the providers' webhook receivers (public: the signature is the credential),
Stripe's diagnostics and checkout sessions, the received events and their replay."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Router, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, JSONBody, QueryParameter

from ..auth import Permission, requires, requires_any
from ..deps import ClientIpDep, DatabaseDep, MasterKeyDep, PrincipalDep
from ..kit.wire import WireRequest
from ..mail.settings import MailSettings
from . import service
from .apps import app_view, list_apps
from .checkout import CheckoutRequest, create_checkout_session
from .providers import PROVIDERS
from .receiver import receive
from .settings import PaymentSettings

__all__ = ["router"]

_ADMIN = requires(Permission.ADMIN)


def _receiver(name: str) -> HTTPRouteHandler:
    """``POST /api/<name>/webhook``: the provider's events for every tenant (no token: the
    signature is the credential); see docs/payments.md."""

    async def receive_events(
        request: Request[Any, Any, Any],
        database: DatabaseDep,
        master_key: MasterKeyDep,
        client_ip: ClientIpDep,
    ) -> dict[str, Any]:
        headers = {key.lower(): value for key, value in request.headers.items()}
        return await receive(
            database,
            master_key,
            PROVIDERS[name],
            headers,
            await request.body(),
            settings=PaymentSettings.from_env(),
            mail_settings=MailSettings.from_env(),
            client_ip=client_ip,
        )

    receive_events.__doc__ = f"{PROVIDERS[name].label}'s events for every tenant (signed)."
    return post(f"/{name}/webhook", status_code=200, operation_id=f"{name}_webhook")(receive_events)


@get("/stripe/diagnostics", opt=_ADMIN)
async def stripe_diagnostics(
    principal: PrincipalDep, database: DatabaseDep, master_key: MasterKeyDep
) -> dict[str, Any]:
    """The tenant's Stripe apps: status, and whether each secret is stored and decrypts."""
    async with database.read_session() as session:
        apps = await list_apps(session, principal.tenant_id, "stripe")
    views = [app_view(master_key, app) for app in apps]
    return {
        "webhookPath": "/api/stripe/webhook",
        "apps": [
            {
                "id": view.app.id,
                "name": view.app.name,
                "isLive": view.app.is_live,
                "isActive": view.app.is_active,
                "isDefault": view.app.is_default,
                "defaultCurrency": view.app.default_currency,
                "status": view.status.value,
                "hasSecret": view.has_secret,
                "hasWebhookSigningSecret": view.has_signing_secret,
            }
            for view in views
        ],
    }


class CheckoutSessionCreate(WireRequest):
    product_id: int
    success_url: str
    cancel_url: str
    quantity: int = 1
    currency: str | None = None
    customer_email: str | None = None
    plan_id: int | None = None
    app_id: int | None = None


@post(
    "/stripe/checkout/session",
    status_code=201,
    opt=requires_any(Permission.GENERATE, Permission.ADMIN),
)
async def stripe_checkout_session(
    data: JSONBody[CheckoutSessionCreate],
    principal: PrincipalDep,
    database: DatabaseDep,
    master_key: MasterKeyDep,
) -> dict[str, str]:
    """Create a one-time Stripe Checkout session for a product (201 ``{"id", "url",
    "appId"}``); the customer pays at ``url``."""
    request = CheckoutRequest(
        product_id=data.product_id,
        success_url=data.success_url,
        cancel_url=data.cancel_url,
        quantity=data.quantity,
        currency=data.currency,
        customer_email=data.customer_email,
        plan_id=data.plan_id,
        app_id=data.app_id,
    )
    async with database.read_session() as session:
        return await create_checkout_session(
            session, principal.tenant_id, master_key, request, PaymentSettings.from_env()
        )


@get("/payments/events", opt=_ADMIN)
async def list_payment_events(
    principal: PrincipalDep,
    database: DatabaseDep,
    status: Annotated[str | None, QueryParameter(name="status")] = None,
) -> list[dict[str, Any]]:
    """The latest 100 received payment events, newest first (optionally of one status)."""
    async with database.read_session() as session:
        rows = await service.list_events(session, principal.tenant_id, status=status)
    return [service.event_view(row) for row in rows]


@post("/payments/events/{event_id:int}/replay", status_code=200, opt=_ADMIN)
async def replay_payment_event(
    event_id: FromPath[int], principal: PrincipalDep, database: DatabaseDep
) -> dict[str, Any]:
    """Fulfil an unmatched, failed or waiting event again now; 404 ``payment_event_not_found``,
    409 ``payment_event_done``."""
    async with database.write() as session:
        row = await service.replay_event(
            session,
            principal.tenant_id,
            event_id,
            PaymentSettings.from_env(),
            MailSettings.from_env(),
        )
        rows = await service.list_events(session, principal.tenant_id)
    found = next((item for item in rows if item.event.id == row.id), None)
    return service.event_view(found or service.EventRow(row, None))


router = Router(
    path="/api",
    route_handlers=[
        *(_receiver(name) for name in PROVIDERS),
        stripe_diagnostics,
        stripe_checkout_session,
        list_payment_events,
        replay_payment_event,
    ],
    tags=["payments"],
)
