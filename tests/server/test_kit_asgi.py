"""The request-header helper of the pure ASGI layers (:mod:`exisone_server.kit.asgi`)."""

from __future__ import annotations

from typing import Any, cast

from litestar.types import Scope

from exisone_server.kit.asgi import header


def _scope(headers: list[tuple[bytes, bytes]]) -> Scope:
    return cast("Scope", {"type": "http", "headers": headers})


def test_header_gives_the_first_value_of_a_name_in_any_case() -> None:
    scope = _scope([(b"X-Tenant", b"7"), (b"x-tenant", b"8"), (b"authorization", b"\xe9")])

    assert header(scope, b"x-tenant") == "7"
    assert header(scope, b"authorization") == "\xe9"  # latin-1, as the wire carries it
    assert header(scope, b"content-type") is None


def test_header_reads_again_when_the_scope_gets_other_headers() -> None:
    scope = _scope([(b"x-tenant", b"7")])
    assert header(scope, b"x-tenant") == "7"

    cast("dict[str, Any]", scope)["headers"] = [(b"x-tenant", b"9")]

    assert header(scope, b"x-tenant") == "9"
    assert header(_scope([]), b"x-tenant") is None
