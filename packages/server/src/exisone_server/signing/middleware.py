"""ASGI middleware: sign the answers of the license endpoints when the request sends a nonce.

Only requests to :data:`SIGNED_PATHS` with a valid ``ExisOne-Nonce`` header are touched; every
other request passes straight through (the official clients never send the header). The answer
is buffered, signed with the current key of the caller's tenant and sent with an
``ExisOne-Signature`` header. An answer that cannot be signed (no or bad token, no tenant key,
a body over 64 KiB) goes out unsigned: the client decides what that means.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from exisone.protocol import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    SIGNED_PATHS,
    is_valid_nonce,
    sign_answer,
)

from ..auth.dependencies import authenticate
from ..db import Database
from ..errors import ApiError
from ..kit.asgi import body_of, header, read_body, replay
from .keys import SigningKeys

__all__ = [
    "NONCE_KEY",
    "AnswerSigningMiddleware",
    "answer_signature",
    "answer_signing",
    "request_nonce",
]

logger = logging.getLogger("exisone_server.signing")

#: Requests with a larger body are answered unsigned (the middleware buffers the body).
MAX_SIGNED_REQUEST_BYTES = 64 * 1024
#: The ASGI (lower-case, bytes) name of the nonce header.
NONCE_KEY = NONCE_HEADER.lower().encode("latin-1")
_SIGNATURE_KEY = SIGNATURE_HEADER.lower().encode("latin-1")


def answer_signing(database: Callable[[], Database], keys: SigningKeys) -> DefineMiddleware:
    """The middleware for ``Litestar(middleware=[...])``."""
    return DefineMiddleware(AnswerSigningMiddleware, database=database, keys=keys)


class AnswerSigningMiddleware:
    """Signs the answer of a nonce-carrying request to a license endpoint."""

    def __init__(
        self, app: ASGIApp, *, database: Callable[[], Database], keys: SigningKeys
    ) -> None:
        self.app = app
        self.database = database
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        nonce = request_nonce(scope)
        if nonce is None:
            await self.app(scope, receive, send)
            return
        raw_send = cast("Callable[[dict[str, Any]], Awaitable[None]]", send)
        buffered, complete = await read_body(receive, MAX_SIGNED_REQUEST_BYTES)
        replayed = replay(buffered, receive)
        if not complete:
            await self.app(scope, replayed, send)
            return
        request_digest = hashlib.sha256(body_of(buffered)).hexdigest()
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def signing_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body" or not start:
                await raw_send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            content = b"".join(chunks)
            headers = list(start.get("headers", []))
            header = await self._signature(scope, nonce, request_digest, start, content)
            if header is not None:
                headers.append((_SIGNATURE_KEY, header.encode("latin-1")))
            await raw_send({**start, "headers": headers})
            await raw_send({"type": "http.response.body", "body": content, "more_body": False})

        await self.app(scope, replayed, cast("Send", signing_send))

    async def _signature(
        self,
        scope: Scope,
        nonce: str,
        request_digest: str,
        start: dict[str, Any],
        content: bytes,
    ) -> str | None:
        database = self.database()
        try:
            principal = await authenticate(database, header(scope, b"authorization"))
        except ApiError:
            return None  # no tenant known: an unsigned 401
        status = start.get("status")
        return await answer_signature(
            database,
            self.keys,
            principal.tenant_id,
            scope,
            nonce=nonce,
            request_digest=request_digest,
            status=status if isinstance(status, int) else 0,
            content=content,
        )


async def answer_signature(
    database: Database,
    keys: SigningKeys,
    tenant_id: int,
    scope: Scope,
    *,
    nonce: str,
    request_digest: str,
    status: int,
    content: bytes,
) -> str | None:
    """The ``ExisOne-Signature`` value of an answer to ``scope`` by the tenant's current key,
    or None when the tenant has no key (logged)."""
    try:
        key_id, private_key = await keys.current(database, tenant_id)
    except LookupError:
        logger.warning("answer not signed: the tenant has no crypto key")
        return None
    return sign_answer(
        private_key,
        key_id,
        method=str(scope.get("method", "POST")),
        path=str(scope["path"]),
        nonce=nonce,
        timestamp=int(time.time()),
        status=status,
        request_digest=request_digest,
        response_body=content,
    )


def request_nonce(scope: Scope) -> str | None:
    """The request's valid nonce when it asks for a signed answer from a signed path."""
    if str(scope["type"]) != "http" or scope["path"] not in SIGNED_PATHS:
        return None
    value = header(scope, NONCE_KEY)
    return value if value is not None and is_valid_nonce(value) else None
