"""Base classes for request and response bodies: camelCase JSON via msgspec."""

from __future__ import annotations

import msgspec

__all__ = ["WireRequest", "WireResponse"]


class WireRequest(msgspec.Struct, rename="camel", kw_only=True):
    """A JSON request body; unknown fields are ignored (clients may send more)."""


class WireResponse(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """A JSON response body; optional fields left at their default (None) are omitted."""
