"""validate_offline: check a signed offline code for this machine and product, locally.

Order: configured key, blank inputs, signature (before any field is read), expected product,
hardware binding, expiry. Every failure is a result with a message, never an exception.

Whether a code's signature checks is a pure function of the code and the trusted keys, so a
client keeps the payloads of the codes it verified (:class:`VerifiedCodes`): checking the
same code again skips the decode and the RSA verify. The product, hardware and expiry checks
(and the client's clock check) run on every call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import _constants as const
from ._dates import utc_now
from ._exceptions import InvalidOfflineCode
from ._models import OfflineValidationResult
from ._parsing import features_list, optional_datetime, positive_int

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    from ._offline import VerifiedCode

__all__: list[str] = []

#: Codes a client remembers as verified; more are rare (one code per product and machine).
VERIFIED_CODES_KEPT = 32


class VerifiedCodes:
    """Payloads of the codes whose signature checked against one client's trusted keys."""

    def __init__(self, kept: int = VERIFIED_CODES_KEPT) -> None:
        self._kept = kept
        self._payloads: dict[str, Mapping[str, Any]] = {}

    def payload(self, code: str, public_keys: Sequence[RSAPublicKey]) -> Mapping[str, Any]:
        """The verified payload of ``code``; raises InvalidOfflineCode (never remembered)."""
        payload = self._payloads.get(code)
        if payload is None:
            payload = _verify(code, public_keys).payload
            if len(self._payloads) >= self._kept:
                self._payloads.clear()
            self._payloads[code] = payload
        return payload

    def clear(self) -> None:
        self._payloads.clear()


def check_offline_code(
    code: str,
    hardware_id: str,
    public_keys: Sequence[RSAPublicKey] | None,
    *,
    product_name: str | None = None,
    now: datetime | None = None,
    verified: VerifiedCodes | None = None,
) -> OfflineValidationResult:
    """Verify ``code`` (or find it in ``verified``, keyed to these ``public_keys``), then
    check the product, hardware ID and expiry (at ``now``)."""
    if not public_keys:
        return OfflineValidationResult(False, error_message=const.MSG_OFFLINE_NOT_CONFIGURED)
    code = code.strip() if code else ""
    if not code:
        return OfflineValidationResult(False, error_message=const.MSG_CODE_REQUIRED)
    machine = hardware_id.strip().upper() if hardware_id else ""
    if not machine:
        return OfflineValidationResult(False, error_message=const.MSG_HARDWARE_ID_REQUIRED)
    try:
        if verified is not None:
            data = verified.payload(code, public_keys)
        else:
            data = _verify(code, public_keys).payload
    except InvalidOfflineCode as error:
        return OfflineValidationResult(False, error_message=str(error))
    result = _read_fields(data)
    if product_name is not None and not _same_product(result.product_name or "", product_name):
        message = const.MSG_PRODUCT_MISMATCH.format(
            actual=result.product_name, expected=product_name
        )
        return replace(result, is_valid=False, error_message=message, product_mismatch=True)
    if _str(data.get("hardwareId")).strip().upper() != machine:
        return replace(
            result,
            is_valid=False,
            error_message=const.MSG_HARDWARE_MISMATCH,
            hardware_mismatch=True,
        )
    expiration = result.expiration_date
    if expiration is None:
        return replace(result, is_valid=False, error_message=const.MSG_NO_EXPIRATION)
    if expiration < (utc_now() if now is None else _aware(now)):
        return replace(result, is_valid=False, error_message=const.MSG_EXPIRED, is_expired=True)
    return result


def _verify(code: str, public_keys: Sequence[RSAPublicKey]) -> VerifiedCode:
    """:func:`~exisone._offline.verify_offline_code`, imported on first use (cryptography is
    imported lazily) and then called without a per-call import."""
    global _verify
    from ._offline import verify_offline_code

    _verify = verify_offline_code
    return verify_offline_code(code, public_keys)


def _read_fields(data: Mapping[str, Any]) -> OfflineValidationResult:
    """A valid result carrying the fields of a payload whose signature was checked; wrong
    types read as defaults. The checks that follow turn it invalid where they must."""
    get = data.get
    return OfflineValidationResult(
        True,
        None,
        _str(get("productName")),
        _int(get("productId")),
        optional_datetime(get("expirationDate")),
        _str(get("email")),
        features_list(get("features")),
        _str(get("version")),
        tenant_id=_int(get("tenantId")),
        issued_at=optional_datetime(get("issuedAt")),
        check_in_days=positive_int(get("checkInDays")),
    )


def _same_product(actual: str, expected: str) -> bool:
    return actual.strip().casefold() == expected.strip().casefold()


def _aware(moment: datetime) -> datetime:
    """Naive means UTC; an aware moment compares correctly whatever its zone."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
