"""/api/plan: list and read (``generate``), upsert and delete (``admin``)."""

from __future__ import annotations

from typing import Annotated

from litestar import Response, Router, delete, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from ..auth import Permission, requires
from ..deps import DatabaseDep, PrincipalDep
from ..kit.time import format_expiration
from ..models import Plan
from . import service
from .schemas import PlanRead, PlanUpsert

__all__ = ["plan_read", "router"]

_READ = requires(Permission.GENERATE)
_WRITE = requires(Permission.ADMIN)


def plan_read(plan: Plan) -> PlanRead:
    """The wire form of a plan (its features must be loaded)."""
    return PlanRead(
        id=plan.id,
        name=plan.name,
        duration_days=plan.duration_days,
        is_active=plan.is_active,
        is_corporate=plan.is_corporate,
        features=[feature.name for feature in plan.features],
        created_at=format_expiration(plan.created_at),
        max_seats=plan.max_seats,
        product_id=plan.product_id,
        api_calls=plan.api_calls,
        api_rate_limit_per_minute=plan.api_rate_limit_per_minute,
        is_floating=plan.is_floating,
        lease_ttl_min_seconds=plan.lease_ttl_min_seconds,
        lease_ttl_max_seconds=plan.lease_ttl_max_seconds,
        lease_ttl_default_seconds=plan.lease_ttl_default_seconds,
        max_borrow_hours=plan.max_borrow_hours,
        grace_days=plan.grace_days,
        check_in_days=plan.check_in_days,
    )


@get("/plan", opt=_READ)
async def list_plans(
    principal: PrincipalDep,
    database: DatabaseDep,
    product_id: Annotated[int | None, QueryParameter(name="productId")] = None,
) -> list[PlanRead]:
    """The tenant's plans; ``?productId=`` keeps those usable for that product."""
    async with database.read_session() as session:
        plans = await service.list_plans(session, principal.tenant_id, product_id)
    return [plan_read(plan) for plan in plans]


@get("/plan/{plan_id:int}", opt=_READ)
async def read_plan(
    plan_id: FromPath[int], principal: PrincipalDep, database: DatabaseDep
) -> PlanRead:
    """One plan; 404 ``plan_not_found`` (also for another tenant's plan)."""
    async with database.read_session() as session:
        plan = await service.get_plan(session, principal.tenant_id, plan_id)
    return plan_read(plan)


@post("/plan", opt=_WRITE)
async def upsert_plan(
    data: JSONBody[PlanUpsert], principal: PrincipalDep, database: DatabaseDep
) -> Response[PlanRead]:
    """Create (``id`` null: 201) or update (200) a plan."""
    async with database.write() as session:
        plan, created = await service.upsert_plan(session, principal.tenant_id, data)
        answer = plan_read(plan)
    return Response(answer, status_code=201 if created else 200)


@delete("/plan/{plan_id:int}", opt=_WRITE)
async def delete_plan(
    plan_id: FromPath[int], principal: PrincipalDep, database: DatabaseDep
) -> None:
    """Delete a plan (204); its licenses keep their expiry and features."""
    async with database.write() as session:
        await service.delete_plan(session, principal.tenant_id, plan_id)


router = Router(
    path="/api",
    route_handlers=[list_plans, read_plan, upsert_plan, delete_plan],
    tags=["plans"],
)
