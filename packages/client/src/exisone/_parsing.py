"""Reading the server's answers into results, and error statuses into exceptions. No I/O.

Tolerant where the protocol is loose: unknown fields are ignored, ``null`` reads as the
default, features may come as a list or a comma-separated string, dates in any ISO 8601 form.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from http import HTTPStatus
from typing import Any, Protocol

from . import _exceptions as exc
from ._constants import NETWORK_ERROR_CODE
from ._dates import parse_datetime
from ._models import (
    ActivationResult,
    ApiUsage,
    ApiUsageDay,
    ConsumeResult,
    GeneratedActivationKey,
    LeaseGrant,
    SeatUsage,
    ValidationResult,
    ValidationStatus,
)
from ._retry import parse_retry_after

__all__: list[str] = []

_STATUS_ERRORS: dict[int, type[exc.APIError]] = {
    400: exc.BadRequestError,
    422: exc.BadRequestError,
    401: exc.AuthenticationError,
    403: exc.PermissionDeniedError,
    404: exc.NotFoundError,
    409: exc.ConflictError,
    429: exc.RateLimitError,
}


class Reply(Protocol):
    """What the parsers need of an HTTP answer (``httpx.Response`` has it)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content(self) -> bytes: ...


def is_success(reply: Reply) -> bool:
    return 200 <= reply.status_code < 300


def body_text(reply: Reply) -> str:
    return reply.content.decode("utf-8", errors="replace")


def _json_object(reply: Reply) -> dict[str, Any] | None:
    try:
        data = json.loads(reply.content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_object(reply: Reply) -> dict[str, Any]:
    """The JSON object of a successful answer, or :class:`InvalidResponseError`."""
    data = _json_object(reply)
    if data is None:
        snippet = body_text(reply)[:100]
        raise exc.InvalidResponseError(
            f"expected a JSON object from the server (HTTP {reply.status_code}), got {snippet!r}"
        )
    return data


def api_error(reply: Reply, now: datetime) -> exc.APIError:
    """The exception for an error status, carrying the server's ``error`` and ``message``."""
    status = reply.status_code
    data = _json_object(reply) or {}
    code = _text(data.get("error"))
    message = _text(data.get("message")) or _text(data.get("detail")) or _text(data.get("title"))
    text = body_text(reply)
    if 300 <= status < 400:
        location = reply.headers.get("location", "")
        message = f"redirected to {location!r}; set base_url to the final address"
    cls = _STATUS_ERRORS.get(status, exc.ServerError if status >= 500 else exc.APIError)
    if cls is exc.ConflictError and code == "no_free_seat":
        return exc.NoFreeSeatError(
            status,
            code,
            message,
            text,
            seats_in_use=_int(data.get("seatsInUse")),
            max_seats=_int(data.get("maxSeats")),
            next_free_at=optional_datetime(data.get("nextFreeAt")),
        )
    if cls is exc.RateLimitError:
        retry_after = parse_retry_after(reply.headers.get("retry-after"), now)
        return exc.RateLimitError(status, code, message, text, retry_after=retry_after)
    return cls(status, code, message, text)


def raise_for_status(reply: Reply, now: datetime) -> None:
    if not is_success(reply):
        raise api_error(reply, now)


def activation_result(reply: Reply) -> ActivationResult:
    """Any answer to activate as a result: refusals never raise (official behaviour)."""
    text = body_text(reply)
    data = _json_object(reply)
    status = reply.status_code
    if is_success(reply):
        data = data or {}
        return ActivationResult(
            success=True,
            server_version=_text(data.get("serverVersion")),
            minimum_required_version=_text(data.get("minimumRequiredVersion")),
            license_data=text,
            status_code=status,
        )
    if data is None:
        reason = _reason(status)
        return ActivationResult(
            success=False, error_message=f"{status} {reason}: {text}", status_code=status
        )
    return ActivationResult(
        success=False,
        error_code=_text(data.get("error")),
        error_message=_text(data.get("message")) or text,
        server_version=_text(data.get("serverVersion")),
        minimum_required_version=_text(data.get("minimumRequiredVersion")),
        status_code=status,
    )


def activation_network_error(error: exc.TransportError) -> ActivationResult:
    return ActivationResult(
        success=False, error_code=NETWORK_ERROR_CODE, error_message=f"Network error: {error}"
    )


def validation_result(data: Mapping[str, Any]) -> ValidationResult:
    is_valid = data.get("isValid") is True
    raw_status = _text(data.get("status"))
    status = ValidationStatus.coerce(raw_status) if raw_status else _default_status(is_valid)
    return ValidationResult(
        is_valid=is_valid,
        status=status,
        expiration_date=optional_datetime(data.get("expirationDate")),
        features=features_list(data.get("features")),
        server_version=_text(data.get("serverVersion")),
        minimum_required_version=_text(data.get("minimumRequiredVersion")),
        remaining_days=_int(data.get("remainingDays")),
        grace_until=optional_datetime(data.get("graceUntil")),
        check_in_days=positive_int(data.get("checkInDays")),
    )


def lease_grant(data: Mapping[str, Any], features: tuple[str, ...] = ()) -> LeaseGrant:
    """A lease checkout or heartbeat answer; ``features`` stand in when the answer has none
    (a heartbeat's)."""
    lease_id = _text(data.get("leaseId"))
    token = _text(data.get("leaseToken"))
    expires = optional_datetime(data.get("expiresAt"))
    if not lease_id or not token or expires is None:
        raise exc.InvalidResponseError(
            "the server's lease answer lacks leaseId, leaseToken or expiresAt"
        )
    listed = data.get("features")
    return LeaseGrant(
        lease_id=lease_id,
        expires_at=expires,
        lease_token=token,
        seats_in_use=_int(data.get("seatsInUse")) or 0,
        max_seats=_int(data.get("maxSeats")) or 0,
        features=tuple(features_list(listed)) if listed is not None else features,
        borrowed=data.get("borrowed") is True,
        ttl_seconds=_int(data.get("ttlSeconds")) or 0,
    )


def positive_int(value: Any) -> int | None:
    """A whole number above 0, else ``None``."""
    number = _int(value)
    return number if number is not None and number > 0 else None


def seat_usage(data: Mapping[str, Any]) -> SeatUsage:
    return SeatUsage(
        current_seats=_int(data.get("currentSeats")) or 0,
        max_seats=_int(data.get("maxSeats")),
        has_capacity=data.get("hasCapacity") is True,
        is_unlimited=data.get("isUnlimited") is True,
    )


def consume_result(data: Mapping[str, Any]) -> ConsumeResult:
    allowed = data.get("allowed")
    if not isinstance(allowed, bool):
        raise exc.InvalidResponseError("the server's answer to consume has no 'allowed'")
    return ConsumeResult(
        allowed=allowed,
        remaining=_int(data.get("remaining")) or 0,
        limit=_int(data.get("limit")) or 0,
        used=_int(data.get("used")) or 0,
        reset_at=optional_datetime(data.get("resetAt")),
        retry_after=_int(data.get("retryAfter")),
        reason=_text(data.get("reason")),
        rate_limit_per_minute=_int(data.get("rateLimitPerMinute")),
        rate_remaining=_int(data.get("rateRemaining")),
    )


def api_usage(data: Mapping[str, Any]) -> ApiUsage:
    days = []
    listed = data.get("usage")
    for item in listed if isinstance(listed, list) else []:
        day = optional_datetime(item.get("date")) if isinstance(item, dict) else None
        if day is not None:
            days.append(ApiUsageDay(day=day.date(), calls=_int(item.get("calls")) or 0))
    return ApiUsage(
        is_api_license=data.get("isApiLicense") is True,
        limit=_int(data.get("limit")) or 0,
        used=_int(data.get("used")) or 0,
        remaining=_int(data.get("remaining")) or 0,
        calls_this_minute=_int(data.get("callsThisMinute")) or 0,
        rate_limit_per_minute=_int(data.get("rateLimitPerMinute")),
        reset_at=optional_datetime(data.get("resetAt")),
        usage=days,
    )


def generated_key(data: Mapping[str, Any]) -> GeneratedActivationKey:
    key = _text(data.get("activationKey"))
    if not key:
        raise exc.InvalidResponseError("the server's answer has no activationKey")
    return GeneratedActivationKey(
        activation_key=key,
        is_corporate=data.get("isCorporate") is True,
        max_seats=_int(data.get("maxSeats")),
        is_offline=data.get("isOffline") is True,
        expiration_date=optional_datetime(data.get("expirationDate")),
    )


def features_csv(data: Mapping[str, Any]) -> str:
    value = data.get("features")
    if isinstance(value, list):
        return ",".join(features_list(value))
    return _text(value) or ""


def features_list(value: Any) -> list[str]:
    """Features from a JSON list (strings or numbers) or a comma-separated string."""
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, list):
        items = value
    else:
        return []
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            continue
        name = str(item).strip()
        if name:
            out.append(name)
    return out


def optional_datetime(value: Any) -> datetime | None:
    """An aware UTC datetime, or ``None`` when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:  # a blank string is not a date either
        return parse_datetime(value)
    except ValueError:
        return None


def _default_status(is_valid: bool) -> ValidationStatus:
    return ValidationStatus.LICENSED if is_valid else ValidationStatus.INVALID


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
