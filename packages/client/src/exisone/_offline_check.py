"""validate_offline: check a signed offline code for this machine and product, locally.

Order: configured key, blank inputs, signature (before any field is read), expected product,
hardware binding, expiry. Every failure is a result with a message, never an exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import _constants as const
from ._dates import utc_now
from ._exceptions import InvalidOfflineCode
from ._models import OfflineValidationResult
from ._parsing import features_list, optional_datetime

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

__all__: list[str] = []


def check_offline_code(
    code: str,
    hardware_id: str,
    public_keys: Sequence[RSAPublicKey] | None,
    *,
    product_name: str | None = None,
    now: datetime | None = None,
) -> OfflineValidationResult:
    """Verify ``code``, then check the product, hardware ID and expiry (at ``now``)."""
    if not public_keys:
        return OfflineValidationResult(False, error_message=const.MSG_OFFLINE_NOT_CONFIGURED)
    if not code or not code.strip():
        return OfflineValidationResult(False, error_message=const.MSG_CODE_REQUIRED)
    if not hardware_id or not hardware_id.strip():
        return OfflineValidationResult(False, error_message=const.MSG_HARDWARE_ID_REQUIRED)
    from ._offline import verify_offline_code

    try:
        verified = verify_offline_code(code.strip(), public_keys)
    except InvalidOfflineCode as error:
        return OfflineValidationResult(False, error_message=str(error))
    data = verified.payload
    fields = _result_fields(data)
    if product_name is not None and not _same_product(fields["product_name"], product_name):
        message = const.MSG_PRODUCT_MISMATCH.format(
            actual=fields["product_name"], expected=product_name
        )
        return OfflineValidationResult(False, message, product_mismatch=True, **fields)
    if _str(data.get("hardwareId")).strip().upper() != hardware_id.strip().upper():
        return OfflineValidationResult(
            False, const.MSG_HARDWARE_MISMATCH, hardware_mismatch=True, **fields
        )
    expiration: datetime | None = fields["expiration_date"]
    if expiration is None:
        return OfflineValidationResult(False, const.MSG_NO_EXPIRATION, **fields)
    moment = utc_now() if now is None else _aware(now)
    if expiration < moment:
        return OfflineValidationResult(False, const.MSG_EXPIRED, is_expired=True, **fields)
    return OfflineValidationResult(True, **fields)


def _result_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """The result's fields from a payload whose signature was checked; wrong types read as
    defaults."""
    get = data.get
    return {
        "product_name": _str(get("productName")),
        "product_id": _int(get("productId")),
        "expiration_date": optional_datetime(get("expirationDate")),
        "email": _str(get("email")),
        "features": features_list(get("features")),
        "version": _str(get("version")),
        "tenant_id": _int(get("tenantId")),
        "issued_at": optional_datetime(get("issuedAt")),
    }


def _same_product(actual: str, expected: str) -> bool:
    return actual.strip().casefold() == expected.strip().casefold()


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
