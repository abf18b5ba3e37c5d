"""Request and response bodies of the publisher's license API."""

from __future__ import annotations

from msgspec import UNSET, UnsetType

from ..kit.wire import WireRequest, WireResponse

__all__ = [
    "ActivationRead",
    "DeviceHistoryItem",
    "DeviceHistoryPage",
    "KeyGenerate",
    "KeyGenerated",
    "LicenseDetailRead",
    "LicenseDeviceFree",
    "LicenseExtend",
    "LicenseHistoryRead",
    "LicensePage",
    "LicenseRead",
    "LicenseStatusChange",
    "LicenseUpdate",
    "OfflineCodeGenerate",
    "OfflineCodeRead",
]


class KeyGenerate(WireRequest):
    product_name: str
    email: str
    #: Wins over ``validityDays``; gives the features and, for a corporate plan, the seats.
    plan_id: int | None = None
    #: 0 = perpetual; neither this nor planId = the product's default plan or days.
    validity_days: int | None = None


class KeyGenerated(WireResponse):
    activation_key: str
    is_corporate: bool
    is_offline: bool
    expiration_date: str
    product_name: str
    email: str
    features: list[str]
    max_seats: int | None = None
    plan_id: int | None = None


class LicenseRead(WireResponse):
    """A license as ExisOne's ``License`` plus ``id``, ``status``, ``planId``."""

    id: int
    activation_key: str
    email: str
    created_at: str
    expiration_date: str
    #: False when revoked or suspended (expiry is told by ``status`` and ``expirationDate``).
    is_active: bool
    #: ``active`` | ``expired`` | ``suspended`` | ``revoked``.
    status: str
    product_id: int
    product_name: str
    is_corporate: bool
    current_seats: int
    is_offline: bool
    #: Floating: seats are leases (docs/floating.md).
    is_floating: bool
    #: The most recently bound device still holding a seat; absent when none.
    hardware_id: str | None = None
    #: First activation on any device.
    activation_date: str | None = None
    version: str | None = None
    note: str | None = None
    #: Corporate licenses only; absent = unlimited.
    max_seats: int | None = None
    corporate_name: str | None = None
    offline_code: str | None = None
    plan_id: int | None = None
    updated_at: str | None = None


class ActivationRead(WireResponse):
    hardware_id: str
    email: str
    is_active: bool
    is_offline: bool
    activated_at: str
    ip_address: str | None = None
    client_version: str | None = None
    deactivated_at: str | None = None
    #: The device's last licensed online validation (None: not since this server version).
    last_seen_at: str | None = None


class LicenseDetailRead(LicenseRead, kw_only=True):
    features: list[str]
    #: Every activation, newest first (freed ones have ``isActive`` false).
    activations: list[ActivationRead]


class LicensePage(WireResponse):
    items: list[LicenseRead]
    page: int
    page_size: int
    total_count: int
    total_pages: int


class LicenseHistoryRead(WireResponse):
    id: int
    action: str
    timestamp: str
    hardware_id: str | None = None
    ip_address: str | None = None
    note: str | None = None
    #: Who released the device (``deactivated``): publisher, customer or application.
    actor: str | None = None


class DeviceHistoryItem(WireResponse):
    id: int
    action: str
    timestamp: str
    activation_key: str
    product_id: int
    product_name: str
    hardware_id: str | None = None
    ip_address: str | None = None
    note: str | None = None
    actor: str | None = None


class DeviceHistoryPage(WireResponse):
    items: list[DeviceHistoryItem]
    page: int
    page_size: int
    total_count: int
    total_pages: int


class LicenseStatusChange(WireRequest):
    """Body of revoke / suspend / resume (optional; the note goes to the history)."""

    note: str | None = None


class LicenseExtend(WireRequest):
    """Exactly one of ``expirationDate``, ``days`` (added to the later of now and the current
    expiration) or ``perpetual: true``."""

    expiration_date: str | None = None
    days: int | None = None
    perpetual: bool = False
    note: str | None = None


class LicenseDeviceFree(WireRequest):
    hardware_id: str


class LicenseUpdate(WireRequest):
    """The fields sent are changed; ``null`` clears note, version and corporateName."""

    email: str | UnsetType = UNSET
    note: str | UnsetType | None = UNSET
    version: str | UnsetType | None = UNSET
    corporate_name: str | UnsetType | None = UNSET
    #: Make the license floating (seats are leases) or not.
    is_floating: bool | UnsetType = UNSET


class OfflineCodeGenerate(WireRequest):
    activation_key: str
    hardware_id: str


class OfflineCodeRead(WireResponse):
    offline_code: str
    activation_key: str
    hardware_id: str
    expiration_date: str
    product_id: int
    product_name: str
    email: str
    features: list[str]
    #: False when the device already held a seat (the code is re-issued, no new seat taken).
    seat_taken: bool
    current_seats: int
