"""The pure decisions of validate_smart and deactivate_smart, shared by both clients.

What counts as "the server is unreachable" is only a :class:`TransportError`. A server that
answers with an error status has been reached: validate_smart raises its :class:`APIError`,
deactivate_smart reports the refusal.
"""

from __future__ import annotations

from . import _constants as const
from ._exceptions import APIError, TransportError
from ._models import (
    DeactivationResult,
    OfflineValidationResult,
    SmartValidationResult,
    ValidationResult,
    ValidationStatus,
)

__all__: list[str] = []


def from_offline(result: OfflineValidationResult) -> SmartValidationResult:
    """An offline code checked locally: licensed, expired or invalid."""
    if result.is_valid:
        status = ValidationStatus.LICENSED
    elif result.clock_tampered:
        status = ValidationStatus.CLOCK_TAMPERED
    elif result.is_expired:
        status = ValidationStatus.EXPIRED
    else:
        status = ValidationStatus.INVALID
    return SmartValidationResult(
        is_valid=result.is_valid,
        status=status,
        expiration_date=result.expiration_date,
        features=list(result.features),
        was_offline=True,
        error_message=result.error_message,
        product_name=result.product_name,
    )


def withdrawn(result: OfflineValidationResult, status: str) -> SmartValidationResult:
    """A code that checks locally but that the server withdrew on this machine."""
    return SmartValidationResult(
        is_valid=False,
        status=ValidationStatus.EXPIRED if status == "expired" else ValidationStatus.INVALID,
        expiration_date=result.expiration_date,
        was_offline=True,
        error_message=const.MSG_OFFLINE_CODE_WITHDRAWN,
        product_name=result.product_name,
    )


def check_in_required(result: OfflineValidationResult) -> SmartValidationResult:
    """A valid code whose ``checkInDays`` passed without the server confirming it."""
    return SmartValidationResult(
        is_valid=False,
        status=ValidationStatus.CHECK_IN_REQUIRED,
        expiration_date=result.expiration_date,
        was_offline=True,
        error_message=const.MSG_CHECK_IN_DUE.format(days=result.check_in_days),
        product_name=result.product_name,
    )


def from_online(result: ValidationResult, product_name: str | None) -> SmartValidationResult:
    """The server's answer for an online key."""
    return SmartValidationResult(
        is_valid=result.is_valid,
        status=result.status,
        expiration_date=result.expiration_date,
        features=list(result.features),
        was_offline=False,
        product_name=product_name,
        server_version=result.server_version,
        minimum_required_version=result.minimum_required_version,
    )


def when_unreachable(
    activation_key: str,
    hardware_id: str,
    product_name: str | None,
    error: Exception,
) -> SmartValidationResult:
    """An online key while the server is unreachable: it cannot be checked offline.

    This is the seam for a cached last-known-good result (a grace period): a later version
    looks the key up here before giving up.
    """
    return SmartValidationResult(
        is_valid=False,
        status=ValidationStatus.OFFLINE,
        was_offline=True,
        error_message=const.MSG_UNREACHABLE_NO_OFFLINE,
        product_name=product_name,
    )


def deactivated() -> DeactivationResult:
    return DeactivationResult(success=True, server_notified=True)


def deactivation_refused(error: APIError) -> DeactivationResult:
    """The server answered and said no: nothing was deactivated."""
    return DeactivationResult(
        success=False,
        server_notified=True,
        error_message=error.message,
        error_code=error.error_code,
        status_code=error.status_code,
    )


def deactivation_unreachable() -> DeactivationResult:
    """Online key, server unreachable: deactivated on this machine only (official semantics)."""
    return DeactivationResult(
        success=True, server_notified=False, error_message=const.MSG_DEACTIVATED_LOCALLY
    )


def offline_code_deactivated(error: Exception | None) -> DeactivationResult:
    """An offline code is deactivated locally; telling the server is best effort."""
    if error is None:
        return deactivated()
    if isinstance(error, TransportError):
        return deactivation_unreachable()
    reason = str(error) or type(error).__name__
    api = error if isinstance(error, APIError) else None
    return DeactivationResult(
        success=True,
        server_notified=False,
        error_message=const.MSG_OFFLINE_CODE_NOT_SENT.format(reason=reason),
        error_code=api.error_code if api else None,
        status_code=api.status_code if api else None,
    )
