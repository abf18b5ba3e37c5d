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
    #: New licenses of the plan are floating: their seats are leases (default false).
    is_floating: bool | UnsetType = UNSET
    #: A lease's TTL bounds and default in seconds (defaults 60, 3600, 600; min ≤ default ≤ max).
    lease_ttl_min_seconds: int | UnsetType = UNSET
    lease_ttl_max_seconds: int | UnsetType = UNSET
    lease_ttl_default_seconds: int | UnsetType = UNSET
    #: The longest borrow of a floating seat for offline use; 0 = no borrowing (default 0).
    max_borrow_hours: int | UnsetType = UNSET
    #: Days an expired license stays usable (default 0).
    grace_days: int | UnsetType = UNSET
    #: Days a device may go without validating online; null = no limit (default null).
    check_in_days: int | UnsetType | None = UNSET


class PlanRead(WireResponse):
    id: int
    name: str
    duration_days: int
    is_active: bool
    is_corporate: bool
    features: list[str]
    created_at: str
    is_floating: bool
    lease_ttl_min_seconds: int
    lease_ttl_max_seconds: int
    lease_ttl_default_seconds: int
    max_borrow_hours: int
    grace_days: int
    max_seats: int | None = None
    product_id: int | None = None
    api_calls: int | None = None
    api_rate_limit_per_minute: int | None = None
    #: Absent: no check-in period.
    check_in_days: int | None = None
