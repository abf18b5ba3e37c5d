"""The security middleware of the API: body limits, JSON content type, failed-lookup limits,
and the audit actor of the request.

One instance per route (Litestar builds the stack per route); they share one
:class:`~.limits.FailureLimiter`. Successful requests cost a few string operations and a dict
lookup; only a failed key lookup writes to the database.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from ..audit.context import Actor, acting_as
from ..auth.tokens import parse_token
from ..errors import ApiError
from ..kit.asgi import header
from .limits import FailureLimiter, Limit

__all__ = [
    "PayloadTooLarge",
    "SecurityMiddleware",
    "body_refusal",
    "failed_lookup",
    "lookup_kind",
    "record_failure",
    "request_actor",
    "request_token_id",
]

logger = logging.getLogger("exisone_server")

_JSON_TYPES = frozenset({"application/json", "text/json"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_USAGE_PATH = re.compile(r"^/api/license/[^/]+/usage$")
_LOOKUP_PATHS = {
    "/api/license/activate": "error",
    "/api/license/deactivate": "error",
    "/api/license/features/csv": "error",
    "/api/license/validate": "reason",
}
_NOT_FOUND_ERROR = b'"error":"license_not_found"'
_NOT_FOUND_REASON = b'"reason":"license_not_found"'


class PayloadTooLarge(ApiError):
    status_code = 413

    def __init__(self, limit: int) -> None:
        super().__init__("payload_too_large", f"The request body is larger than {limit} bytes.")


def lookup_kind(method: str, path: str) -> str | None:
    """``error`` / ``reason`` for the client endpoints that look a key up, else None."""
    path = path.rstrip("/") or "/"
    if method == "POST":
        return _LOOKUP_PATHS.get(path)
    if method == "GET" and _USAGE_PATH.match(path):
        return "error"
    return None


def failed_lookup(kind: str, body: bytes) -> bool:
    """Whether an answer body of a ``kind`` endpoint (:func:`lookup_kind`) says the key was
    not found."""
    return (_NOT_FOUND_REASON if kind == "reason" else _NOT_FOUND_ERROR) in body


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


async def _answer(send: Send, status: int, code: str, message: str, **headers: str) -> None:
    body = json.dumps({"error": code, "message": message}).encode()
    raw: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    raw += [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
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
                await _answer(send, *refusal)
                return
            receive = _limited(receive, max_bytes)
        client = scope.get("client")
        ip = client[0] if client else None
        token_id = request_token_id(scope)
        kind = lookup_kind(method, scope["path"]) if token_id else None
        limits: list[Limit] = self.limiter.limits(token_id, ip) if kind and token_id else []
        if limits:
            wait = await self.limiter.retry_after(limits)
            if wait is not None:
                await _answer(
                    send,
                    429,
                    "rate_limited",
                    f"Too many failed key lookups; try again in {wait} seconds.",
                    Retry_After=str(wait),
                )
                return
        with acting_as(request_actor(token_id, ip)):
            if limits:
                await self._call_watching(scope, receive, send, kind or "error", limits)
            else:
                await self.app(scope, receive, send)

    async def _call_watching(
        self, scope: Scope, receive: Receive, send: Send, kind: str, limits: list[Limit]
    ) -> None:
        """Run the app; count its answer as a failure BEFORE sending it when the key was not
        found (so the next request, to any process, already sees the count)."""
        held: list[Message] = []

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (200, 404):
                held.append(message)  # until the body says whether the lookup failed
                return
            if held and message["type"] == "http.response.body":
                start = held.pop()
                if not message.get("more_body", False) and failed_lookup(
                    kind, message.get("body", b"")
                ):
                    await record_failure(self.limiter, limits)
                await send(start)
            await send(message)

        await self.app(scope, receive, watch)


async def record_failure(limiter: FailureLimiter, limits: list[Limit]) -> None:
    """Count a failed key lookup; an error is logged, never turned into a 500."""
    try:
        await limiter.record_failure(limits)
    except Exception:
        logger.exception("could not record a failed key lookup")


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
