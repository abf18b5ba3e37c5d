"""Request and response bodies of /api/plan."""

from __future__ import annotations

from msgspec import UNSET, UnsetType

from ..kit.wire import WireRequest, WireResponse

__all__ = ["PlanRead", "PlanUpsert"]


class PlanUpsert(WireRequest):
    """``id`` null (or absent) creates a plan, otherwise the plan ``id`` is updated.

    On update, fields left out keep their value; on create they take the defaults shown.
    """

    name: str
    id: int | None = None
    #: 0 = perpetual (default 0).
    duration_days: int | UnsetType = UNSET
    #: Default true.
    is_active: bool | UnsetType = UNSET
    #: Licenses of a corporate plan are multi-seat (default false).
    is_corporate: bool | UnsetType = UNSET
    #: Seats of a corporate plan; null or 0 = unlimited.
    max_seats: int | UnsetType | None = UNSET
    #: Restrict the plan to one product; null = any product of the tenant.
    product_id: int | UnsetType | None = UNSET
    #: Feature names new licenses of the plan get (created in the tenant's catalogue if new).
    features: list[str] | UnsetType = UNSET
    #: API products: calls a key of the plan is granted; null = the product's default.
    api_calls: int | UnsetType | None = UNSET
    #: API products: a key's calls per minute; null = the product's setting.
    api_rate_limit_per_minute: int | UnsetType | None = UNSET


class PlanRead(WireResponse):
    id: int
    name: str
    duration_days: int
    is_active: bool
    is_corporate: bool
    features: list[str]
    created_at: str
    max_seats: int | None = None
    product_id: int | None = None
    api_calls: int | None = None
    api_rate_limit_per_minute: int | None = None
