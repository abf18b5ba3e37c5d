"""Request and answer bodies of the floating-seat endpoints (``/api/license/lease...``)."""

from __future__ import annotations

from ..kit.wire import WireRequest, WireResponse

__all__ = ["LeaseCheckout", "LeaseHeartbeatRead", "LeaseRead", "LeaseRef", "LeaseReleased"]


class LeaseCheckout(WireRequest):
    activation_key: str
    hardware_id: str
    product_name: str
    version: str | None = None
    #: Seconds each heartbeat extends the lease by (within the plan's bounds).
    ttl_seconds: int | None = None
    #: Borrow the seat for offline use for this many hours (at most the plan's maximum).
    borrow_hours: float | None = None


class LeaseRef(WireRequest):
    lease_id: str


class LeaseRead(WireResponse):
    lease_id: str
    expires_at: str
    lease_token: str
    seats_in_use: int
    #: None: unlimited.
    max_seats: int | None
    features: list[str]
    borrowed: bool
    ttl_seconds: int


class LeaseHeartbeatRead(WireResponse):
    lease_id: str
    expires_at: str
    lease_token: str
    seats_in_use: int
    max_seats: int | None
    ttl_seconds: int


class LeaseReleased(WireResponse):
    success: bool
    lease_id: str
