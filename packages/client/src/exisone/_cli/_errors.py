"""CLI errors and exit codes; SDK exceptions as one clear line each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._exceptions import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    ExisOneError,
    InvalidArgumentError,
    InvalidResponseError,
    NoFreeSeatError,
    PermissionDeniedError,
    RateLimitError,
    TransportError,
)
from ._jsonable import date_text

__all__ = [
    "EXIT_ERROR",
    "EXIT_NOT_VALID",
    "EXIT_OK",
    "EXIT_USAGE",
    "CliError",
    "describe",
]

EXIT_OK = 0
#: Any error: refused by the server, unreachable server, bad configuration, unreadable file.
EXIT_ERROR = 1
#: Bad command line (click's own code).
EXIT_USAGE = 2
#: ``validate`` / ``offline verify``: the check ran and the license is not valid.
EXIT_NOT_VALID = 3


@dataclass
class CliError(Exception):
    """An error to print as one line, with a machine-readable ``code``."""

    message: str
    code: str = "error"
    extra: dict[str, Any] = field(default_factory=dict)
    exit_code: int = EXIT_ERROR

    def __str__(self) -> str:
        return self.message


def describe(error: ExisOneError, base_url: str | None = None) -> CliError:
    """The one-line message (and code) of an SDK exception."""
    if isinstance(error, APIError):
        return _api_error(error)
    if isinstance(error, TransportError):
        where = f" at {base_url}" if base_url else ""
        return CliError(f"cannot reach the server{where}: {error}", "network_error")
    if isinstance(error, InvalidResponseError):
        return CliError(f"unexpected answer from the server: {error}", "invalid_response")
    if isinstance(error, ConfigurationError):
        return CliError(f"configuration: {error}", "configuration_error")
    if isinstance(error, InvalidArgumentError):
        return CliError(str(error), "invalid_argument")
    return CliError(str(error) or type(error).__name__, "error")


def _api_error(error: APIError) -> CliError:
    code = error.error_code or f"http_{error.status_code}"
    detail = error.message or f"HTTP {error.status_code}"
    extra: dict[str, Any] = {"status": error.status_code}
    if isinstance(error, AuthenticationError):
        text = f"the server refused the access token (401 {code}): {detail}"
    elif isinstance(error, PermissionDeniedError):
        text = f"the access token may not do this (403 {code}): {detail}"
    elif isinstance(error, RateLimitError):
        wait = f"; retry after {error.retry_after:g} s" if error.retry_after else ""
        text = f"too many requests (429){wait}: {detail}"
        extra["retryAfter"] = error.retry_after
    else:
        text = f"{detail} ({error.status_code} {code})"
    if isinstance(error, NoFreeSeatError):
        extra["seatsInUse"] = error.seats_in_use
        extra["maxSeats"] = error.max_seats
        extra["nextFreeAt"] = date_text(error.next_free_at)
        if error.next_free_at is not None:
            text += f"; a seat frees at {date_text(error.next_free_at)} unless renewed"
    return CliError(text, code, extra)
