"""The security middleware of the API: body limits, JSON content type, failed-lookup limits,
and the audit actor of the request.

One instance per route (Litestar builds the stack per route); they share one
:class:`~.limits.FailureLimiter`. On a route marked :func:`.lookups.looks_up`, a caller past
its failed-lookup limit is refused before the handler runs, and the handler's failed lookups
are counted before its answer is sent (:meth:`~.limits.FailureLimiter.settle`), which may
replace the answer by 429. Successful requests cost a few string operations and a dict lookup;
only a failed lookup writes to the database.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from ..audit.context import Actor, acting_as
from ..auth.tokens import parse_token
from ..errors import ApiError
from ..kit.asgi import header
from .limits import FailureLimiter, Limit
from .lookups import LookupLedger, counting_lookups, lookup_route

__all__ = [
    "PayloadTooLarge",
    "SecurityMiddleware",
    "body_refusal",
    "rate_limited_answer",
    "request_actor",
    "request_token_id",
]

logger = logging.getLogger("exisone_server")

_JSON_TYPES = frozenset({"application/json", "text/json"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class PayloadTooLarge(ApiError):
    status_code = 413

    def __init__(self, limit: int) -> None:
        super().__init__("payload_too_large", f"The request body is larger than {limit} bytes.")


def request_token_id(scope: Scope) -> str | None:
    """The public id of the request's access token, when its Authorization header has one."""
    authorization = header(scope, b"authorization")
    if not authorization:
        return None
    _, _, token = authorization.strip().partition(" ")
    parsed = parse_token(token.strip())
    return parsed[0] if parsed else None


def request_actor(token_id: str | None, ip: str | None) -> Actor:
    """The audit actor of an API request: its token's public id, else anonymous."""
    return Actor("token", token_id, ip) if token_id else Actor("anonymous", "-", ip)


def error_answer(
    status: int, code: str, message: str, **headers: str
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, headers, body) of an error answer in the documented shape."""
    body = json.dumps({"error": code, "message": message}).encode()
    raw: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    raw += [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    return status, raw, body


def rate_limited_answer(wait: int) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The 429 of a caller past its failed-lookup limit."""
    return error_answer(
        429,
        "rate_limited",
        f"Too many failed key lookups; try again in {wait} seconds.",
        Retry_After=str(wait),
    )


async def _send_answer(send: Send, answer: tuple[int, list[tuple[bytes, bytes]], bytes]) -> None:
    status, headers, body = answer
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def body_refusal(scope: Scope, max_bytes: int) -> tuple[int, str, str] | None:
    """(status, error code, message) when the body headers of a POST/PUT/PATCH are refused:
    a bad or too large Content-Length, a media type that is not JSON; else None."""
    length = header(scope, b"content-length")
    if length is not None:
        try:
            size = int(length)
        except ValueError:
            return 400, "invalid_request", "Invalid Content-Length header."
        if size > max_bytes:
            return (
                413,
                "payload_too_large",
                f"The request body is larger than {max_bytes} bytes.",
            )
        if size == 0:
            return None
    content_type = header(scope, b"content-type")
    if content_type is None:
        return None
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in _JSON_TYPES or media_type.endswith("+json"):
        return None
    return (
        415,
        "unsupported_media_type",
        f"Send the body as JSON (Content-Type: application/json), not {media_type or '?'}.",
    )


class SecurityMiddleware:
    """Pure ASGI middleware; see the module docstring."""

    def __init__(self, app: ASGIApp, limiter: FailureLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        if not scope["path"].startswith("/api"):  # the dashboard names its user (identify_user)
            client = scope.get("client")
            with acting_as(Actor("anonymous", "-", client[0] if client else None)):
                await self.app(scope, receive, send)
            return
        method = scope["method"]
        max_bytes = self.limiter.settings.max_body_bytes
        if method in _BODY_METHODS:
            refusal = body_refusal(scope, max_bytes)
            if refusal is not None:
                await _send_answer(send, error_answer(*refusal))
                return
            receive = _limited(receive, max_bytes)
        client = scope.get("client")
        ip = client[0] if client else None
        token_id = request_token_id(scope)
        handler = scope.get("route_handler")
        kind = lookup_route(handler.opt) if handler is not None and token_id else None
        limits: list[Limit] = self.limiter.limits(token_id, ip) if kind and token_id else []
        if limits:
            wait = await self.limiter.retry_after(limits)
            if wait is not None:
                await _send_answer(send, rate_limited_answer(wait))
                return
        with acting_as(request_actor(token_id, ip)):
            if limits:
                with counting_lookups() as ledger:
                    await self._call_counting(
                        scope, receive, send, ledger, limits, writes=kind == "write"
                    )
            else:
                await self.app(scope, receive, send)

    async def _call_counting(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        ledger: LookupLedger,
        limits: list[Limit],
        *,
        writes: bool,
    ) -> None:
        """Run the app; settle its lookups BEFORE sending its answer (so the next request, to
        any process, already sees the count), which may replace the answer by 429."""
        held: list[Message] = []
        replaced = False

        async def settling(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return
            if message["type"] == "http.response.start":
                held.append(message)  # until the handler's lookups are settled
                return
            if held and message["type"] == "http.response.body":
                start = held.pop()
                wait = await self.limiter.settle(limits, ledger, writes=writes)
                if wait is not None:
                    replaced = True
                    await _send_answer(send, rate_limited_answer(wait))
                    return
                await send(start)
            await send(message)

        await self.app(scope, receive, settling)


def _limited(receive: Receive, max_bytes: int) -> Receive:
    """``receive`` that raises 413 once more than ``max_bytes`` of body arrived (chunked)."""
    seen = 0

    async def wrapped() -> Any:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > max_bytes:
                raise PayloadTooLarge(max_bytes)
        return message

    return wrapped
