"""Small helpers for the pure ASGI middleware: request headers, reading and replaying a body."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from litestar.types import Receive, Scope

__all__ = ["body_of", "header", "read_body", "replay"]


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of the request header ``name`` (lower case), or None."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


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
