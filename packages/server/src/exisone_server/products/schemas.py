"""Request and response bodies of /api/product (ExisOne's ``Product``)."""

from __future__ import annotations

from msgspec import UNSET, UnsetType

from ..kit.wire import WireRequest, WireResponse

__all__ = ["ProductCreate", "ProductRead", "ProductUpdate"]


class _ProductFields(WireRequest):
    """The writable settings; a field left out keeps its value (or the default on create)."""

    version: str | UnsetType | None = UNSET
    description: str | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET
    price: float | UnsetType = UNSET
    trial_days: int | UnsetType = UNSET
    default_license_days: int | UnsetType = UNSET
    default_plan_id: int | UnsetType | None = UNSET
    minimum_required_version: str | UnsetType | None = UNSET
    enforce_version_check: bool | UnsetType = UNSET
    send_purchase_email: bool | UnsetType = UNSET
    send_renewal_reminders: bool | UnsetType = UNSET
    renewal_reminder_days: int | UnsetType | None = UNSET
    send_trial_ending: bool | UnsetType = UNSET
    trial_ending_days: int | UnsetType | None = UNSET
    deactivation_cooldown_hours: int | UnsetType | None = UNSET
    customer_may_release: bool | UnsetType = UNSET
    customer_may_release_offline: bool | UnsetType = UNSET
    max_releases_per_30_days: int | UnsetType | None = UNSET
    #: API-key licensing (docs/api-keys.md).
    is_api_product: bool | UnsetType = UNSET
    default_api_calls: int | UnsetType = UNSET
    api_rate_limit_per_minute: int | UnsetType | None = UNSET
    use_quantity_as_api_calls: bool | UnsetType = UNSET


class ProductCreate(_ProductFields, kw_only=True):
    name: str


class ProductUpdate(_ProductFields):
    name: str | UnsetType = UNSET


class ProductRead(WireResponse):
    id: int
    name: str
    #: The current version ("" when none is announced).
    version: str
    description: str
    is_active: bool
    price: float
    trial_days: int
    #: 0 = perpetual.
    default_license_days: int
    enforce_version_check: bool
    send_purchase_email: bool
    send_renewal_reminders: bool
    send_trial_ending: bool
    is_api_product: bool
    #: Calls a new key gets when its plan grants none (API products).
    default_api_calls: int
    use_quantity_as_api_calls: bool
    created_at: str
    default_plan_id: int | None = None
    minimum_required_version: str | None = None
    renewal_reminder_days: int | None = None
    trial_ending_days: int | None = None
    #: Hours a license's next device release waits after the last one (customers and
    #: applications); None = no wait.
    deactivation_cooldown_hours: int | None = None
    #: Customers may release devices in the customer portal.
    customer_may_release: bool = True
    #: ... also a device activated with an offline code.
    customer_may_release_offline: bool = False
    #: Most device releases of one license in 30 days (customers and applications); None = any.
    max_releases_per_30_days: int | None = None
    #: A key's calls per minute when its plan sets none; absent = no limit.
    api_rate_limit_per_minute: int | None = None
    updated_at: str | None = None
