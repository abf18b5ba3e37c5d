"""Home, products and plans."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from ..deps import DatabaseDep
from ..kit.time import utc_now
from ..licenses.validation_stats import validation_stats
from ..plans.schemas import PlanUpsert
from ..plans.service import get_plan, list_plans, upsert_plan
from ..products.schemas import ProductCreate, ProductUpdate
from ..products.service import create_product, get_product, list_products, update_product
from ..publisher.activity import home_numbers
from .chart import daily_chart
from .web import BASE, Posted, form_int, page, perform, posted, require_user

__all__ = [
    "home",
    "plan_edit",
    "plan_save",
    "plans_page",
    "product_create",
    "product_edit",
    "product_save",
    "products_page",
]


@get("/", name="dashboard:home")
async def home(request: Request[Any, Any, Any], database: DatabaseDep) -> Template:
    """The numbers a publisher looks at first."""
    user = await require_user(request, database)
    await validation_stats(database).flush()  # this process's latest counts (others: ≤ 10 s)
    async with database.read_session() as session:
        numbers = await home_numbers(session, user.tenant_id, utc_now())
    return await page(
        request,
        database,
        user,
        "home.html",
        {
            "numbers": numbers,
            "chart": daily_chart(numbers.days),
            "validations_chart": daily_chart(numbers.days, ("validations",)),
            "validations_total": sum(day.validations for day in numbers.days),
        },
    )


@get("/products")
async def products_page(request: Request[Any, Any, Any], database: DatabaseDep) -> Template:
    user = await require_user(request, database)
    async with database.read_session() as session:
        products = await list_products(session, user.tenant_id)
    return await page(request, database, user, "products.html", {"products": products})


def _product_fields(form: Posted) -> dict[str, Any]:
    return {
        "name": form.get("name"),
        "version": form.get("version").strip() or None,
        "minimum_required_version": form.get("minimum_required_version").strip() or None,
        "enforce_version_check": form.flag("enforce_version_check"),
        "is_active": form.flag("is_active"),
        "trial_days": form_int(form.get("trial_days", "0"), "Trial days"),
        "default_license_days": form_int(
            form.get("default_license_days", "0"), "Default license days"
        ),
        "description": form.get("description"),
        "send_purchase_email": form.flag("send_purchase_email"),
        "send_renewal_reminders": form.flag("send_renewal_reminders"),
        "send_trial_ending": form.flag("send_trial_ending"),
        "renewal_reminder_days": form_int(
            form.get("renewal_reminder_days"), "Reminder days", optional=True
        ),
        "trial_ending_days": form_int(
            form.get("trial_ending_days"), "Trial-ending days", optional=True
        ),
        "customer_may_release": form.flag("customer_may_release"),
        "customer_may_release_offline": form.flag("customer_may_release_offline"),
        "deactivation_cooldown_hours": form_int(
            form.get("deactivation_cooldown_hours"), "Hours between two releases", optional=True
        ),
        "max_releases_per_30_days": form_int(
            form.get("max_releases_per_30_days"), "Most releases in 30 days", optional=True
        ),
        "is_api_product": form.flag("is_api_product"),
        "default_api_calls": form_int(form.get("default_api_calls", "0"), "API calls") or 0,
        "api_rate_limit_per_minute": form_int(
            form.get("api_rate_limit_per_minute"), "Calls per minute", optional=True
        ),
        "use_quantity_as_api_calls": form.flag("use_quantity_as_api_calls"),
    }


@post("/products", status_code=200)
async def product_create(request: Request[Any, Any, Any], database: DatabaseDep) -> Redirect:
    form = await posted(request, database)

    async def work(session: AsyncSession) -> str:
        product = await create_product(
            session, form.user.tenant_id, ProductCreate(**_product_fields(form))
        )
        return product.name

    return await perform(
        database,
        form.user,
        work,
        done=lambda name: f"Product {name!r} created.",
        back=f"{BASE}/products",
    )


@get("/products/{product_id:int}")
async def product_edit(
    request: Request[Any, Any, Any], database: DatabaseDep, product_id: FromPath[int]
) -> Template:
    user = await require_user(request, database)
    async with database.read_session() as session:
        product = await get_product(session, user.tenant_id, product_id)
    return await page(request, database, user, "product_edit.html", {"product": product})


@post("/products/{product_id:int}", status_code=200)
async def product_save(
    request: Request[Any, Any, Any], database: DatabaseDep, product_id: FromPath[int]
) -> Redirect:
    form = await posted(request, database)

    async def work(session: AsyncSession) -> str:
        product = await update_product(
            session, form.user.tenant_id, product_id, ProductUpdate(**_product_fields(form))
        )
        return product.name

    return await perform(
        database,
        form.user,
        work,
        done=lambda name: f"Product {name!r} saved.",
        back=f"{BASE}/products",
        failed_back=f"{BASE}/products/{product_id}",
    )


@get("/plans")
async def plans_page(request: Request[Any, Any, Any], database: DatabaseDep) -> Template:
    user = await require_user(request, database)
    async with database.read_session() as session:
        plans = await list_plans(session, user.tenant_id)
        products = await list_products(session, user.tenant_id)
    return await page(request, database, user, "plans.html", {"plans": plans, "products": products})


@get("/plans/{plan_id:int}")
async def plan_edit(
    request: Request[Any, Any, Any], database: DatabaseDep, plan_id: FromPath[int]
) -> Template:
    user = await require_user(request, database)
    async with database.read_session() as session:
        plan = await get_plan(session, user.tenant_id, plan_id)
        products = await list_products(session, user.tenant_id)
    return await page(
        request, database, user, "plan_edit.html", {"plan": plan, "products": products}
    )


@post("/plans", status_code=200)
async def plan_save(request: Request[Any, Any, Any], database: DatabaseDep) -> Redirect:
    """Create a plan (no ``id``) or save plan ``id``."""
    form = await posted(request, database)
    plan_id = form_int(form.get("id"), "Plan id", optional=True)

    async def work(session: AsyncSession) -> str:
        features = [name.strip() for name in form.get("features").split(",") if name.strip()]
        product_id = form_int(form.get("product_id"), "Product", optional=True)
        seats = form_int(form.get("max_seats"), "Seats", optional=True)
        plan, created = await upsert_plan(
            session,
            form.user.tenant_id,
            PlanUpsert(
                name=form.get("name"),
                id=plan_id,
                duration_days=form_int(form.get("duration_days", "0"), "Duration") or 0,
                is_active=form.flag("is_active"),
                is_corporate=form.flag("is_corporate"),
                max_seats=seats if form.flag("is_corporate") else None,
                product_id=product_id,
                features=features,
                api_calls=form_int(form.get("api_calls"), "API calls", optional=True),
                api_rate_limit_per_minute=form_int(
                    form.get("api_rate_limit_per_minute"), "API calls per minute", optional=True
                ),
                is_floating=form.flag("is_floating"),
                lease_ttl_min_seconds=form_int(form.get("lease_ttl_min_seconds", "60"), "TTL") or 0,
                lease_ttl_max_seconds=form_int(form.get("lease_ttl_max_seconds", "3600"), "TTL")
                or 0,
                lease_ttl_default_seconds=form_int(
                    form.get("lease_ttl_default_seconds", "600"), "TTL"
                )
                or 0,
                max_borrow_hours=form_int(form.get("max_borrow_hours", "0"), "Borrow hours") or 0,
                grace_days=form_int(form.get("grace_days", "0"), "Grace days") or 0,
                check_in_days=form_int(form.get("check_in_days"), "Check-in period", optional=True),
            ),
        )
        return f"Plan {plan.name!r} {'created' if created else 'saved'}."

    return await perform(
        database,
        form.user,
        work,
        done=lambda message: message,
        back=f"{BASE}/plans",
        failed_back=f"{BASE}/plans/{plan_id}" if plan_id else f"{BASE}/plans",
    )
