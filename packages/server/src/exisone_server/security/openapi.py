"""The OpenAPI document shows the server's real error body ``{"error", "message"}``.

Litestar documents its own validation-error shape (``{status_code, detail, extra}``) for the 400
answers, which this server never sends (errors.py reshapes every error). The plugin swaps the
app's :class:`OpenAPIConfig` for one whose document replaces that schema, so clients generated
from ``/schema/openapi.json`` and schema checkers (schemathesis) see the truth.
"""

from __future__ import annotations

import copy
from dataclasses import fields
from typing import Any

from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import OpenAPI

__all__ = ["ERROR_SCHEMA", "with_error_shape"]

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    "description": "Every error answer: a stable code and a message (docs/errors.md).",
}


def _fix(document: dict[str, Any]) -> dict[str, Any]:
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            response = operation.get("responses", {}).get("400")
            if isinstance(response, dict):
                response["content"] = {"application/json": {"schema": dict(ERROR_SCHEMA)}}
    return document


class _OpenAPI(OpenAPI):
    def to_schema(self) -> dict[str, Any]:
        return _fix(super().to_schema())


class _Config(OpenAPIConfig):
    def to_openapi_schema(self) -> OpenAPI:
        base = super().to_openapi_schema()
        return _OpenAPI(**{field.name: getattr(base, field.name) for field in fields(base)})


def with_error_shape(config: OpenAPIConfig) -> OpenAPIConfig:
    """A copy of ``config`` whose document uses :data:`ERROR_SCHEMA` for 400 answers.

    A shallow copy with the subclass swapped in: calling the constructor again would re-run
    ``__post_init__`` on values it already filled in (and warn about deprecated fields).
    """
    if isinstance(config, _Config):
        return config
    clone = copy.copy(config)
    clone.__class__ = _Config
    return clone
