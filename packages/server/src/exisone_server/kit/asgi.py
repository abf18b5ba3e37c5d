"""Small helpers for the pure ASGI middleware: request headers, reading and replaying a body."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from litestar.types import Receive, Scope

__all__ = ["body_of", "header", "read_body", "replay"]


#: The scope key of :func:`header`'s index: (the headers it was made of, first value by name).
_INDEX = "exisone.header_index"


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of the request header ``name`` (lower case), or None.

    The headers are indexed on the first call and the index is kept in the scope, for as long
    as the scope holds the same headers: a hot route asks for half a dozen of them.
    """
    fields = cast("dict[str, Any]", scope)
    headers = fields.get("headers", ())
    index: tuple[object, dict[bytes, str]] | None = fields.get(_INDEX)
    if index is None or index[0] is not headers:
        values: dict[bytes, str] = {}
        for key, value in headers:
            values.setdefault(bytes(key).lower(), bytes(value).decode("latin-1"))
        index = fields[_INDEX] = (headers, values)
    return index[1].get(name)


async def read_body(
    receive: Receive | Callable[[], Awaitable[dict[str, Any]]], max_bytes: int
) -> tuple[list[dict[str, Any]], bool]:
    """The request's messages up to the end of its body, and whether the body is complete:
    False after a disconnect or once more than ``max_bytes`` arrived (reading stops there)."""
    messages: list[dict[str, Any]] = []
    size = 0
    while True:
        message = cast("dict[str, Any]", await receive())
        messages.append(message)
        if message["type"] != "http.request":
            return messages, False
        size += len(message.get("body", b""))
        if size > max_bytes:
            return messages, False
        if not message.get("more_body", False):
            return messages, True


def body_of(messages: list[dict[str, Any]]) -> bytes:
    """The body bytes of messages read by :func:`read_body`."""
    return b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")


def replay(messages: list[dict[str, Any]], receive: Receive) -> Receive:
    """``receive`` that first returns ``messages`` (already read), then reads on."""
    pending = list(messages)

    async def replayed() -> Any:
        return pending.pop(0) if pending else await receive()

    return cast("Receive", replayed)
