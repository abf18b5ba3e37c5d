"""Result types. Field names and defaults follow exisone-client 0.10.0; extras come last.

Every date is a timezone-aware UTC ``datetime``. Statuses are :class:`ValidationStatus` members,
which compare equal to the plain strings (``result.status == "licensed"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Union

__all__ = [
    "ActivationResult",
    "ApiUsage",
    "ApiUsageDay",
    "ConsumeResult",
    "DeactivationResult",
    "GeneratedActivationKey",
    "OfflineKeyPayload",
    "OfflineValidationResult",
    "SeatUsage",
    "SmartValidationResult",
    "ValidationResult",
    "ValidationStatus",
]


class ValidationStatus(str, Enum):
    """The status of a license check; equal to its string value."""

    LICENSED = "licensed"
    TRIAL = "trial"
    EXPIRED = "expired"
    INVALID = "invalid"
    VERSION_OUTDATED = "version_outdated"
    OFFLINE = "offline"
    """Client-side only: the server could not be reached (validate_smart)."""
    CLOCK_TAMPERED = "clock_tampered"
    """Client-side only: this computer's clock is behind the newest trusted time."""

    def __str__(self) -> str:
        return self.value

    @classmethod
    def coerce(cls, value: str) -> ValidationStatus | str:
        """The member for a known status; an unknown status stays a plain string."""
        try:
            return cls(value)
        except ValueError:
            return value


Status = Union[ValidationStatus, str]


@dataclass
class ActivationResult:
    """The outcome of :meth:`~exisone.ExisOneClient.activate`; refusals are results."""

    success: bool
    error_code: str | None = None
    """The server's ``error`` code (e.g. ``version_outdated``), or ``network_error``."""
    error_message: str | None = None
    server_version: str | None = None
    minimum_required_version: str | None = None
    license_data: str | None = None
    """The raw body of a successful answer."""
    status_code: int | None = None
    """HTTP status of the answer; ``None`` when the server could not be reached."""


@dataclass
class ValidationResult:
    """The outcome of an online validation; every license-level outcome is a status."""

    is_valid: bool
    status: Status = ""
    expiration_date: datetime | None = None
    features: list[str] = field(default_factory=list)
    server_version: str | None = None
    minimum_required_version: str | None = None
    remaining_days: int | None = None
    """Days left of a trial, when the server says."""


@dataclass
class OfflineValidationResult:
    """The outcome of a local (offline) check of a signed offline activation code."""

    is_valid: bool
    error_message: str | None = None
    product_name: str | None = None
    product_id: int = 0
    expiration_date: datetime | None = None
    email: str | None = None
    features: list[str] = field(default_factory=list)
    version: str | None = None
    is_expired: bool = False
    hardware_mismatch: bool = False
    product_mismatch: bool = False
    """The code was issued for another product than the expected one."""
    tenant_id: int | None = None
    issued_at: datetime | None = None
    """When the server signed the code (its ``issuedAt``, an extra of exisone-server)."""
    clock_tampered: bool = False
    """This computer's clock is behind the newest trusted time (see docs/resilience.md)."""


@dataclass
class SmartValidationResult:
    """The outcome of :meth:`~exisone.ExisOneClient.validate_smart`."""

    is_valid: bool
    status: Status = ""
    expiration_date: datetime | None = None
    features: list[str] = field(default_factory=list)
    was_offline: bool = False
    error_message: str | None = None
    product_name: str | None = None
    server_version: str | None = None
    minimum_required_version: str | None = None
    grace_remaining: timedelta | None = None
    """Offline grace left when answered from the last known good (``was_offline``)."""
    last_online_check: datetime | None = None
    """Signed server time of the last verified online check, when answered offline."""


@dataclass
class DeactivationResult:
    """The outcome of :meth:`~exisone.ExisOneClient.deactivate_smart`."""

    success: bool
    server_notified: bool = False
    error_message: str | None = None
    error_code: str | None = None
    """The server's ``error`` code when it refused."""
    status_code: int | None = None
    """HTTP status when the server refused."""


@dataclass
class SeatUsage:
    """Seat consumption of a corporate (multi-seat) license."""

    current_seats: int = 0
    max_seats: int | None = None
    """``None`` means unlimited."""
    has_capacity: bool = False
    is_unlimited: bool = False

    @property
    def remaining(self) -> int | None:
        """Seats still free, never below 0; ``None`` when unlimited."""
        if self.is_unlimited or self.max_seats is None:
            return None
        return max(0, self.max_seats - self.current_seats)


@dataclass
class GeneratedActivationKey:
    """The server's answer to ``generate_activation_key_details``."""

    activation_key: str
    is_corporate: bool = False
    max_seats: int | None = None
    is_offline: bool = False
    expiration_date: datetime | None = None
    """When the server says (``expirationDate``, an extra of exisone-server); ``None`` else."""


@dataclass
class OfflineKeyPayload:
    """The signed content of an offline activation code (read only after verification)."""

    product_id: int
    product_name: str
    hardware_id: str
    expiration_date: datetime | None
    """``None`` when the code carries no readable date (such a code is invalid)."""
    email: str
    features: list[str]
    tenant_id: int
    version: str = ""


@dataclass
class ConsumeResult:
    """The answer to :meth:`~exisone.ExisOneClient.consume`: whether the calls were spent
    (all of them, or none), and the API key's quota after."""

    allowed: bool
    remaining: int = 0
    """Calls left of the key's lifetime quota."""
    limit: int = 0
    """Calls granted in all."""
    used: int = 0
    reset_at: datetime | None = None
    """End of the current per-minute window; ``None`` without a per-minute limit."""
    retry_after: int | None = None
    """Seconds until a consume refused by the per-minute limit may succeed."""
    reason: str | None = None
    """Why it was refused: ``quota_exceeded``, ``rate_limit_exceeded``, ``not_api_license``,
    ``license_expired``, ``license_suspended``, ``license_revoked``, ``product_inactive``."""
    rate_limit_per_minute: int | None = None
    rate_remaining: int | None = None
    """Calls left in the current minute (with a per-minute limit)."""


@dataclass
class ApiUsageDay:
    """Calls an API key consumed on one UTC day."""

    day: date
    calls: int = 0


@dataclass
class ApiUsage:
    """An API key's quota and use (:meth:`~exisone.ExisOneClient.get_usage`)."""

    is_api_license: bool
    limit: int = 0
    used: int = 0
    remaining: int = 0
    calls_this_minute: int = 0
    rate_limit_per_minute: int | None = None
    reset_at: datetime | None = None
    usage: list[ApiUsageDay] = field(default_factory=list)
    """Calls per UTC day, oldest first, ending today."""
