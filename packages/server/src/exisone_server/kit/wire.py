"""Base classes for request and response bodies: camelCase JSON via msgspec."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["WireRequest", "WireResponse", "contains_nul"]


def contains_nul(value: Any) -> bool:
    """True when a string anywhere in ``value`` holds a NUL character (PostgreSQL refuses them)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set | frozenset):
        return any(contains_nul(item) for item in value)
    if isinstance(value, dict):
        return any(contains_nul(key) or contains_nul(item) for key, item in value.items())
    return False


class WireRequest(msgspec.Struct, rename="camel", kw_only=True):
    """A JSON request body; unknown fields are ignored (clients may send more).

    Text containing NUL characters is refused (400 ``invalid_request``) for every field.
    """

    def __post_init__(self) -> None:
        for index, name in enumerate(self.__struct_fields__):
            value = getattr(self, name)
            if value is None or (type(value) is str and "\x00" not in value):
                continue  # the usual fields, without a call
            if contains_nul(value):
                wire_name = self.__struct_encode_fields__[index]
                raise ValueError(f"{wire_name} must not contain NUL characters")


class WireResponse(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """A JSON response body; optional fields left at their default (None) are omitted."""
