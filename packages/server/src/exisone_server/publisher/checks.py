"""Input checks shared by the publisher domains; each failure is 400 ``invalid_request``."""

from __future__ import annotations

from datetime import datetime

from exisone.protocol import parse_datetime

from ..errors import BadRequest

__all__ = [
    "MAX_API_CALLS",
    "MAX_DAYS",
    "bounded_int",
    "check_email",
    "optional_text",
    "parse_date",
    "required_text",
]

#: Upper bound for any day count (validity, trial, duration): 100 years.
MAX_DAYS = 36_500
#: Upper bound for the calls an API key is granted in all, and for a per-minute limit.
MAX_API_CALLS = 10**15


def _invalid(message: str) -> BadRequest:
    return BadRequest("invalid_request", f"Invalid request: {message}")


def required_text(name: str, value: str, max_length: int) -> str:
    """``value`` stripped; 400 when blank or longer than ``max_length``."""
    text = value.strip()
    if not text:
        raise _invalid(f"{name} is required.")
    if len(text) > max_length:
        raise _invalid(f"{name} is longer than {max_length} characters.")
    return text


def optional_text(name: str, value: str | None, max_length: int) -> str | None:
    """``value`` stripped, blank → None; 400 when longer than ``max_length``."""
    text = (value or "").strip()
    if len(text) > max_length:
        raise _invalid(f"{name} is longer than {max_length} characters.")
    return text or None


def bounded_int(name: str, value: int, low: int, high: int) -> int:
    """``value`` when ``low <= value <= high``, else 400."""
    if not low <= value <= high:
        raise _invalid(f"{name} must be between {low} and {high}.")
    return value


def check_email(value: str) -> str:
    """A plausible e-mail address (stripped): not blank, at most 320 characters, with an @."""
    email = required_text("email", value, 320)
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in email):
        raise _invalid("email is not an e-mail address.")
    return email


def parse_date(name: str, value: str) -> datetime:
    """An ISO 8601 date or date-time (aware UTC, seconds precision); 400 when it is not one."""
    try:
        moment = parse_datetime(value)
    except (ValueError, OverflowError):
        raise _invalid(f"{name} is not an ISO 8601 date (YYYY-MM-DDTHH:MM:SSZ).") from None
    return moment.replace(microsecond=0)
