"""/api/product: list and read (``generate``), create, change and delete (``admin``)."""

from __future__ import annotations

from litestar import Router, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody

from ..auth import Permission, requires
from ..deps import DatabaseDep, PrincipalDep
from ..kit.time import format_expiration
from ..models import Product
from . import service
from .schemas import ProductCreate, ProductRead, ProductUpdate

__all__ = ["router"]

_READ = requires(Permission.GENERATE)
_WRITE = requires(Permission.ADMIN)


def product_read(product: Product) -> ProductRead:
    """The wire form of a product."""
    return ProductRead(
        id=product.id,
        name=product.name,
        version=product.version or "",
        description=product.description,
        is_active=product.is_active,
        price=float(product.price),
        trial_days=product.trial_days,
        default_license_days=product.default_license_days,
        enforce_version_check=product.enforce_version_check,
        send_purchase_email=product.send_purchase_email,
        send_renewal_reminders=product.send_renewal_reminders,
        send_trial_ending=product.send_trial_ending,
        is_api_product=product.is_api_product,
        default_api_calls=product.default_api_calls,
        use_quantity_as_api_calls=product.use_quantity_as_api_calls,
        created_at=format_expiration(product.created_at),
        default_plan_id=product.default_plan_id,
        minimum_required_version=product.minimum_required_version,
        renewal_reminder_days=product.renewal_reminder_days,
        trial_ending_days=product.trial_ending_days,
        deactivation_cooldown_hours=product.deactivation_cooldown_hours,
        customer_may_release=product.customer_may_release,
        customer_may_release_offline=product.customer_may_release_offline,
        max_releases_per_30_days=product.max_releases_per_30_days,
        api_rate_limit_per_minute=product.api_rate_limit_per_minute,
        updated_at=format_expiration(product.updated_at) if product.updated_at else None,
    )


@get("/product", opt=_READ)
async def list_products(principal: PrincipalDep, database: DatabaseDep) -> list[ProductRead]:
    """Every product of the token's tenant (also served at ``/api/product/``)."""
    async with database.read_session() as session:
        products = await service.list_products(session, principal.tenant_id)
    return [product_read(product) for product in products]


@get("/product/{product_id:int}", opt=_READ)
async def read_product(
    product_id: FromPath[int], principal: PrincipalDep, database: DatabaseDep
) -> ProductRead:
    """One product; 404 ``product_not_found`` (also for another tenant's product)."""
    async with database.read_session() as session:
        product = await service.get_product(session, principal.tenant_id, product_id)
    return product_read(product)


@post("/product", opt=_WRITE)
async def create_product(
    data: JSONBody[ProductCreate], principal: PrincipalDep, database: DatabaseDep
) -> ProductRead:
    """Create a product (201); 409 ``product_exists`` for a taken name."""
    async with database.write() as session:
        product = await service.create_product(session, principal.tenant_id, data)
    return product_read(product)


@put("/product/{product_id:int}", opt=_WRITE)
async def replace_product(
    product_id: FromPath[int],
    data: JSONBody[ProductUpdate],
    principal: PrincipalDep,
    database: DatabaseDep,
) -> ProductRead:
    """Same as PATCH: the fields sent are changed, the others kept."""
    async with database.write() as session:
        product = await service.update_product(session, principal.tenant_id, product_id, data)
    return product_read(product)


@patch("/product/{product_id:int}", opt=_WRITE)
async def update_product(
    product_id: FromPath[int],
    data: JSONBody[ProductUpdate],
    principal: PrincipalDep,
    database: DatabaseDep,
) -> ProductRead:
    """Change the fields sent; the others keep their value."""
    async with database.write() as session:
        product = await service.update_product(session, principal.tenant_id, product_id, data)
    return product_read(product)


@delete("/product/{product_id:int}", opt=_WRITE)
async def delete_product(
    product_id: FromPath[int], principal: PrincipalDep, database: DatabaseDep
) -> None:
    """Delete a product without licenses (204); 409 ``product_has_licenses`` otherwise."""
    async with database.write() as session:
        await service.delete_product(session, principal.tenant_id, product_id)


router = Router(
    path="/api",
    route_handlers=[
        list_products,
        read_product,
        create_product,
        replace_product,
        update_product,
        delete_product,
    ],
    tags=["products"],
)
