"""The codes of the license endpoints' answers: ``error`` of an error body, ``reason`` of a check.

Both are plain strings on the wire; the members compare equal to them (``code == "not_found"``)
and JSON-encode as them. docs/protocol.md lists what each one means.
"""

from __future__ import annotations

from enum import Enum

from ._models import ValidationStatus

__all__ = ["ErrorCode", "ValidationReason"]


class ErrorCode(str, Enum):
    """``error`` of an error answer ``{"error": <code>, "message": <text>}`` of the endpoints a
    client calls (activate, validate, deactivate, features, seat usage, support ticket)."""

    # The request or its credentials (every endpoint).
    INVALID_JSON = "invalid_json"
    INVALID_REQUEST = "invalid_request"
    MISSING_TOKEN = "missing_token"
    INVALID_TOKEN = "invalid_token"
    TOKEN_EXPIRED = "token_expired"
    TOKEN_REVOKED = "token_revoked"
    PERMISSION_DENIED = "permission_denied"
    TENANT_MISMATCH = "tenant_mismatch"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"
    DATABASE_UNAVAILABLE = "database_unavailable"
    # The license (activate, deactivate, features, seat usage).
    LICENSE_NOT_FOUND = "license_not_found"
    NOT_CORPORATE = "not_corporate"
    LICENSE_IN_USE = "license_in_use"
    SEAT_LIMIT_REACHED = "seat_limit_reached"
    VERSION_OUTDATED = "version_outdated"
    PRODUCT_MISMATCH = "product_mismatch"
    LICENSE_REVOKED = "license_revoked"
    LICENSE_SUSPENDED = "license_suspended"
    LICENSE_EXPIRED = "license_expired"
    PRODUCT_INACTIVE = "product_inactive"
    OFFLINE_SEAT = "offline_seat"
    RELEASE_COOLDOWN = "release_cooldown"
    RELEASE_LIMIT_REACHED = "release_limit_reached"
    # Floating seats (lease, heartbeat, release).
    NOT_FLOATING = "not_floating"
    NO_FREE_SEAT = "no_free_seat"
    LEASE_NOT_FOUND = "lease_not_found"
    LEASE_EXPIRED = "lease_expired"

    def __str__(self) -> str:
        return self.value


class ValidationReason(str, Enum):
    """``reason`` of a validate answer: why ``isValid`` is what it is (the official clients read
    ``status`` only; ``reason`` says more)."""

    LICENSED = "licensed"
    TRIAL_ACTIVE = "trial_active"
    TRIAL_EXPIRED = "trial_expired"
    LICENSE_EXPIRED = "license_expired"
    VERSION_OUTDATED = "version_outdated"
    LICENSE_NOT_FOUND = "license_not_found"
    NOT_ACTIVATED = "not_activated"
    PRODUCT_MISMATCH = "product_mismatch"
    PRODUCT_INACTIVE = "product_inactive"
    LICENSE_REVOKED = "license_revoked"
    LICENSE_SUSPENDED = "license_suspended"
    PRODUCT_NAME_REQUIRED = "product_name_required"
    PRODUCT_NOT_FOUND = "product_not_found"
    TRIAL_NOT_AVAILABLE = "trial_not_available"
    DEVICE_PREVIOUSLY_ACTIVATED = "device_previously_activated"
    OFFLINE_CODE_INVALID = "offline_code_invalid"
    HARDWARE_MISMATCH = "hardware_mismatch"

    def __str__(self) -> str:
        return self.value

    @property
    def status(self) -> ValidationStatus:
        """The ``status`` of a validate answer with this reason."""
        return _STATUS.get(self, ValidationStatus.INVALID)

    @property
    def is_valid(self) -> bool:
        """The ``isValid`` of a validate answer with this reason."""
        return self in (ValidationReason.LICENSED, ValidationReason.TRIAL_ACTIVE)


#: The reasons whose status is not ``invalid``.
_STATUS = {
    ValidationReason.LICENSED: ValidationStatus.LICENSED,
    ValidationReason.TRIAL_ACTIVE: ValidationStatus.TRIAL,
    ValidationReason.TRIAL_EXPIRED: ValidationStatus.EXPIRED,
    ValidationReason.LICENSE_EXPIRED: ValidationStatus.EXPIRED,
    ValidationReason.VERSION_OUTDATED: ValidationStatus.VERSION_OUTDATED,
}
