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
    "BorrowedLease",
    "ConsumeResult",
    "DeactivationResult",
    "GeneratedActivationKey",
    "LeaseCheck",
    "LeaseGrant",
    "LeaseLostReason",
    "LeaseStatus",
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
    CHECK_IN_REQUIRED = "check_in_required"
    """Client-side only: offline longer than the server's ``checkInDays``; validate online."""

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
    grace_until: datetime | None = None
    """Past ``expiration_date`` but inside the plan's grace: licensed until then."""
    check_in_days: int | None = None
    """The server's check-in period: offline acceptance ends this many days after the last
    online check (validate_smart's last-known-good grace respects it)."""


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
    check_in_days: int | None = None
    """The code's ``checkInDays``: validate_smart refuses it offline that many days after the
    code was issued or last confirmed online."""


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


@dataclass(frozen=True)
class LeaseGrant:
    """The server's answer to a lease checkout or heartbeat: a floating seat held until
    ``expires_at`` unless renewed."""

    lease_id: str
    expires_at: datetime
    lease_token: str
    """Signed by the tenant's key; checkable offline (:meth:`validate_lease_offline`)."""
    seats_in_use: int = 0
    max_seats: int = 0
    features: tuple[str, ...] = ()
    borrowed: bool = False
    ttl_seconds: int = 0
    """The lease's time to live; a heartbeat renews it for this long."""


@dataclass(frozen=True)
class BorrowedLease:
    """A floating seat checked out for offline use (:meth:`~exisone.ExisOneClient.borrow`).
    Kept in the client's state directory until returned or expired."""

    lease_id: str
    lease_token: str
    expires_at: datetime
    activation_key: str
    hardware_id: str
    product_name: str
    features: tuple[str, ...] = ()
    seats_in_use: int = 0
    max_seats: int = 0


class LeaseStatus(str, Enum):
    """The outcome of an offline lease check; equal to its string value."""

    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"
    """Not a lease token, or a signature no trusted key made."""
    HARDWARE_MISMATCH = "hardware_mismatch"
    PRODUCT_MISMATCH = "product_mismatch"
    CLOCK_TAMPERED = "clock_tampered"
    NOT_FOUND = "not_found"
    """No token given and none borrowed for this machine and product."""
    NOT_CONFIGURED = "not_configured"
    """The client has no ``offline_public_key`` to check a token with."""

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class LeaseCheck:
    """The outcome of :meth:`~exisone.ExisOneClient.validate_lease_offline`; never raised."""

    is_valid: bool
    status: LeaseStatus
    error_message: str | None = None
    lease_id: str | None = None
    expires_at: datetime | None = None
    features: tuple[str, ...] = ()
    borrowed: bool = False
    product_name: str | None = None
    hardware_id: str | None = None


class LeaseLostReason(str, Enum):
    """Why a held lease was lost (``Lease.lost_reason``, the ``on_lost`` callback)."""

    EXPIRED = "lease_expired"
    """The server says the lease ran out (410): its seat may be someone else's."""
    NOT_FOUND = "lease_not_found"
    """The server no longer knows the lease (404): the publisher ended it."""
    LICENSE_REVOKED = "license_revoked"
    LICENSE_SUSPENDED = "license_suspended"
    TTL_PASSED = "ttl_passed"
    """No heartbeat got through before the lease's time to live ran out."""
    REFUSED = "refused"
    """Another refusal of the heartbeat (e.g. the access token was revoked)."""

    def __str__(self) -> str:
        return self.value
