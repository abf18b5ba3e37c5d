"""SDK results as JSON values in the wire's style: camelCase keys, ``YYYY-MM-DDTHH:MM:SSZ``."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import Enum
from typing import Any

from .._dates import format_datetime

__all__ = ["camel", "date_text", "jsonable"]


def camel(name: str) -> str:
    """``expiration_date`` → ``expirationDate``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def date_text(moment: datetime | None) -> str | None:
    return None if moment is None else format_datetime(moment)


def jsonable(value: Any) -> Any:
    """Dataclasses (camelCase keys), dates, enums, lists and dicts as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            camel(item.name): jsonable(getattr(value, item.name))
            for item in dataclasses.fields(value)
        }
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    return value
