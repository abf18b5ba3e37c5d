"""Request and response bodies of the client-facing license endpoints."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from ..kit.wire import WireRequest, WireResponse

__all__ = [
    "LicenseActivate",
    "LicenseActivated",
    "LicenseDeactivate",
    "LicenseDeactivated",
    "LicenseFeaturesCsv",
    "LicenseFeaturesCsvRead",
    "LicenseValidate",
    "LicenseValidation",
    "SeatUsageRead",
]


class LicenseActivate(WireRequest):
    activation_key: str
    hardware_id: str
    product_name: str
    email: Annotated[str, Meta(max_length=320)] = ""
    version: Annotated[str, Meta(max_length=50)] | None = None


class LicenseActivated(WireResponse):
    success: bool
    message: str
    activation_key: str
    hardware_id: str
    product_name: str
    expiration_date: str
    features: list[str]
    is_corporate: bool
    current_seats: int
    already_activated: bool
    max_seats: int | None = None
    server_version: str | None = None
    minimum_required_version: str | None = None


class LicenseValidate(WireRequest):
    hardware_id: str
    activation_key: str | None = None
    product_name: str | None = None
    version: str | None = None


class LicenseValidation(WireResponse):
    is_valid: bool
    status: str
    expiration_date: str
    features: list[str]
    #: Why the answer is what it is (extra; the official clients ignore it). See docs/errors.md.
    reason: str
    remaining_days: int | None = None
    server_version: str | None = None
    minimum_required_version: str | None = None
    product_name: str | None = None
    #: An expired license in its plan's grace: usable until then (extra; clients ignore it).
    grace_until: str | None = None
    #: The plan's check-in period: validate online at least this often (extra).
    check_in_days: int | None = None


class LicenseDeactivate(WireRequest):
    hardware_id: str
    license_key: str | None = None
    activation_key: str | None = None
    product_name: str | None = None


class LicenseDeactivated(WireResponse):
    success: bool
    message: str
    #: False when the device held no seat (repeated deactivation is still a success).
    was_active: bool
    current_seats: int


class LicenseFeaturesCsv(WireRequest):
    activation_key: str


class LicenseFeaturesCsvRead(WireResponse):
    features: str


class SeatUsageRead(WireResponse):
    current_seats: int
    max_seats: int | None
    has_capacity: bool
    is_unlimited: bool
