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
    "BulkInfoMissing",
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


class BulkInfoItem(LicenseRead, kw_only=True):
    """A found license (every ``LicenseRead`` field) or ``{activationKey, found: false}``."""

    found: bool


class BulkInfoMissing(WireResponse):
    activation_key: str
    found: bool


class BulkInfoRead(WireResponse):
    licenses: list[BulkInfoItem | BulkInfoMissing]


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
