"""Request and response bodies of /api/webhook."""

from __future__ import annotations

from ..kit.wire import WireRequest, WireResponse

__all__ = ["DeliveryRead", "EndpointCreate", "EndpointCreated", "EndpointRead"]


class EndpointCreate(WireRequest):
    url: str
    #: Event types to receive; absent = all.
    events: list[str] | None = None
    description: str | None = None


class EndpointRead(WireResponse):
    id: int
    url: str
    events: list[str]
    is_active: bool
    created_at: str
    description: str | None = None


class EndpointCreated(WireResponse):
    id: int
    url: str
    events: list[str]
    is_active: bool
    created_at: str
    #: The signing secret: shown in this answer only.
    secret: str
    description: str | None = None


class DeliveryRead(WireResponse):
    id: int
    endpoint_id: int
    event_id: str
    event_type: str
    status: str
    attempts: int
    created_at: str
    next_attempt_at: str | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: str | None = None
