"""Request and response bodies of the bulk endpoints."""

from __future__ import annotations

import msgspec

from ..kit.wire import WireRequest, WireResponse
from ..publisher.schemas import LicenseRead

__all__ = [
    "BulkByEmail",
    "BulkByEmailRead",
    "BulkByHardware",
    "BulkByHardwareRead",
    "BulkInfo",
    "BulkInfoItem",
    "BulkInfoRead",
    "BulkValidate",
    "BulkValidateItem",
    "BulkValidateRead",
    "BulkValidateResult",
    "EmailLicenses",
    "HardwareLicenses",
]


class BulkValidateItem(WireRequest):
    #: Absent or blank (with productName) = a trial check.
    activation_key: str | None = None
    hardware_id: str = ""
    product_name: str | None = None


class BulkValidate(WireRequest):
    licenses: list[BulkValidateItem]


class BulkValidateResult(msgspec.Struct, rename="camel", kw_only=True):
    """One answer; every key is always present (``error`` is null for a valid entry)."""

    activation_key: str
    hardware_id: str
    is_valid: bool
    status: str
    #: Null when valid, else why (a reason code of validate, or a request error message).
    error: str | None
    expiration_date: str
    features: list[str]


class BulkValidateRead(WireResponse):
    results: list[BulkValidateResult]
    total_processed: int
    #: Entries answered ``isValid: true``.
    success_count: int
    failure_count: int


class BulkInfo(WireRequest):
    activation_keys: list[str]


class BulkInfoItem(WireResponse):
    """One requested key: ``found`` plus, when found, the fields of ``LicenseRead``."""

    activation_key: str
    found: bool
    id: int | None = None
    email: str | None = None
    product_id: int | None = None
    product_name: str | None = None
    hardware_id: str | None = None
    created_at: str | None = None
    expiration_date: str | None = None
    is_active: bool | None = None
    status: str | None = None
    is_corporate: bool | None = None
    current_seats: int | None = None
    is_offline: bool | None = None
    is_floating: bool | None = None
    activation_date: str | None = None
    version: str | None = None
    note: str | None = None
    max_seats: int | None = None
    corporate_name: str | None = None
    offline_code: str | None = None
    plan_id: int | None = None
    updated_at: str | None = None


class BulkInfoRead(WireResponse):
    licenses: list[BulkInfoItem]


class BulkByEmail(WireRequest):
    emails: list[str]


class EmailLicenses(WireResponse):
    email: str
    licenses: list[LicenseRead]


class BulkByEmailRead(WireResponse):
    results: list[EmailLicenses]


class BulkByHardware(WireRequest):
    hardware_ids: list[str]


class HardwareLicenses(WireResponse):
    hardware_id: str
    licenses: list[LicenseRead]


class BulkByHardwareRead(WireResponse):
    results: list[HardwareLicenses]
