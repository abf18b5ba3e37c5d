"""Payments: provider apps with their status, how products are sold, mappings, the received
events with their outcome and the key each made, and "Retry" for unmatched or failed ones."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from ..deps import DatabaseDep, MasterKeyDep
from ..mail.settings import MailSettings
from ..payments import service as payments
from ..payments.apps import AppForm, app_view, delete_app, list_apps, save_app
from ..payments.fulfilment import QUANTITY_MEANINGS
from ..payments.providers import PROVIDERS
from ..payments.receiver import REFUSALS
from ..payments.settings import PaymentSettings
from ..plans.service import list_plans
from ..products.service import list_products
from .web import BASE, form_int, page, perform, posted, require_user

__all__ = [
    "payment_app_delete",
    "payment_app_save",
    "payment_event_replay",
    "payment_mapping_delete",
    "payment_mapping_save",
    "payment_selling_save",
    "payments_page",
]

_PAGE = f"{BASE}/payments"


@get("/payments")
async def payments_page(
    request: Request[Any, Any, Any],
    database: DatabaseDep,
    master_key: MasterKeyDep,
    status: Annotated[str | None, QueryParameter(name="status")] = None,
) -> Template:
    user = await require_user(request, database)
    async with database.read_session() as session:
        apps = [app_view(master_key, app) for app in await list_apps(session, user.tenant_id)]
        events = await payments.list_events(session, user.tenant_id, status=status or None)
        products = await list_products(session, user.tenant_id)
        plans = await list_plans(session, user.tenant_id)
        selling = await payments.selling_of(session, user.tenant_id)
        mappings = await payments.list_mappings(session, user.tenant_id)
    context = {
        "apps": apps,
        "events": events,
        "status_filter": status or "",
        "products": products,
        "product_names": {product.id: product.name for product in products},
        "plans": plans,
        "selling": selling,
        "mappings": mappings,
        "providers": PROVIDERS,
        "meanings": list(QUANTITY_MEANINGS),
        "replayable": {item.value for item in payments.REPLAYABLE},
        "refusals": sorted(REFUSALS.items()),
        "base_url": str(request.base_url).rstrip("/"),
    }
    return await page(request, database, user, "payments.html", context)


@post("/payments/apps", status_code=200)
async def payment_app_save(
    request: Request[Any, Any, Any], database: DatabaseDep, master_key: MasterKeyDep
) -> Redirect:
    """Add an app, or change one (``app_id``); empty secret fields keep the stored ones."""
    form = await posted(request, database)
    app_id = form_int(form.get("app_id"), "App", optional=True)

    def secret(name: str) -> str | None:
        if form.flag(f"remove_{name}"):
            return ""
        return form.get(name).strip() or None

    async def work(session: AsyncSession) -> str:
        app = await save_app(
            session,
            form.user.tenant_id,
            master_key,
            AppForm(
                provider=form.get("provider", "stripe"),
                name=form.get("name"),
                is_live=form.flag("is_live"),
                is_active=not form.flag("inactive"),
                is_default=form.flag("is_default"),
                public_key=form.get("public_key").strip() or None,
                secret_key=secret("secret_key"),
                signing_secret=secret("signing_secret"),
                webhook_id=form.get("webhook_id").strip() or None,
                default_currency=form.get("default_currency", "usd") or "usd",
                suspend_on_refund=form.flag("suspend_on_refund"),
            ),
            app_id=app_id,
        )
        view = app_view(master_key, app)
        return f"{PROVIDERS[app.provider].label} app {app.name!r} saved: {view.status.value}."

    return await perform(database, form.user, work, done=lambda text: text, back=_PAGE)


@post("/payments/apps/{app_id:int}/delete", status_code=200)
async def payment_app_delete(
    request: Request[Any, Any, Any], database: DatabaseDep, app_id: FromPath[int]
) -> Redirect:
    form = await posted(request, database)

    async def work(session: AsyncSession) -> None:
        await delete_app(session, form.user.tenant_id, app_id)

    return await perform(database, form.user, work, done="App removed.", back=_PAGE)


@post("/payments/selling", status_code=200)
async def payment_selling_save(request: Request[Any, Any, Any], database: DatabaseDep) -> Redirect:
    """What a purchase's quantity means for a product, the plan its purchases get, and its
    renewal checkout address (Paddle, Lemon Squeezy, PayPal)."""
    form = await posted(request, database)
    product_id = form_int(form.get("product_id"), "Product")
    assert product_id is not None

    async def work(session: AsyncSession) -> None:
        await payments.save_selling(
            session,
            form.user.tenant_id,
            product_id,
            quantity_means=form.get("quantity_means", "seats"),
            plan_id=form_int(form.get("plan_id"), "Plan", optional=True),
            renewal_url=form.get("renewal_url"),
        )

    return await perform(database, form.user, work, done="Selling settings saved.", back=_PAGE)


@post("/payments/mappings", status_code=200)
async def payment_mapping_save(request: Request[Any, Any, Any], database: DatabaseDep) -> Redirect:
    form = await posted(request, database)
    product_id = form_int(form.get("product_id"), "Product")
    assert product_id is not None

    async def work(session: AsyncSession) -> None:
        await payments.save_mapping(
            session,
            form.user.tenant_id,
            provider=form.get("provider"),
            external_ref=form.get("external_ref"),
            product_id=product_id,
            plan_id=form_int(form.get("plan_id"), "Plan", optional=True),
        )

    return await perform(
        database,
        form.user,
        work,
        done="Mapping saved: retry the unmatched events it fixes.",
        back=_PAGE,
    )


@post("/payments/mappings/{mapping_id:int}/delete", status_code=200)
async def payment_mapping_delete(
    request: Request[Any, Any, Any], database: DatabaseDep, mapping_id: FromPath[int]
) -> Redirect:
    form = await posted(request, database)

    async def work(session: AsyncSession) -> None:
        await payments.delete_mapping(session, form.user.tenant_id, mapping_id)

    return await perform(database, form.user, work, done="Mapping removed.", back=_PAGE)


@post("/payments/events/{event_id:int}/replay", status_code=200)
async def payment_event_replay(
    request: Request[Any, Any, Any], database: DatabaseDep, event_id: FromPath[int]
) -> Redirect:
    """Fulfil an unmatched, failed or waiting event again; its new outcome is the message."""
    form = await posted(request, database)

    async def work(session: AsyncSession) -> str:
        row = await payments.replay_event(
            session,
            form.user.tenant_id,
            event_id,
            PaymentSettings.from_env(),
            MailSettings.from_env(),
        )
        return f"Retried: {row.status.value}. {row.outcome or ''}".strip()

    return await perform(database, form.user, work, done=lambda text: text, back=_PAGE)
