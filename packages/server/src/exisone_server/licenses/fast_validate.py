"""The validate endpoint's fast lanes: plain ASGI that answers well-formed requests itself.

``POST /api/license/validate`` is the hot path (issue 7). Litestar's per-request machinery
(routing, middleware stack, request object, dependency injection, signature model, response
object) cost more than the validation itself, so two lanes do the same work with plain ASGI
calls: read the body, decode it with msgspec into :class:`LicenseValidate`,
:func:`answer_validation`, encode the answer (:func:`fast_answer`).

* :class:`ValidateEdge` runs ahead of the framework and answers the plain requests (no nonce)
  with the security middleware's checks and the security headers done itself;
* :class:`FastValidateMiddleware`, installed on the route, answers what still reaches the route
  (a request asking for a signed answer: answer signing sees its answer as the handler's).

Anything else goes to the route's Litestar handler, unchanged: a body without a Content-Length
or over :data:`MAX_FAST_BODY_BYTES` (not read here), a body that does not decode or does not
arrive, and every refusal (401, 403, 400): the lane then replays the body it read to the
handler, which answers as it always did (a refused request so reads its token twice; refusals
are rare next to answers). Other errors (the database) are not retried: they are answered 500
in the documented shape. The OpenAPI document, the route table and the error answers
therefore stay the handler's; ``tests/server/test_fast_validate.py`` checks that the lanes and
the handler give byte-identical answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from litestar.types import ASGIApp, Receive, Scope, Send

from ..audit.context import acting_as
from ..auth.dependencies import check_access
from ..auth.permissions import PERMISSION_OPT, Permission
from ..auth.principal import Principal
from ..db import Database
from ..errors import INTERNAL_ERROR, ApiError, log_unexpected
from ..kit.asgi import body_of, header, read_body, replay
from ..security.headers import RawHeaders, security_headers
from ..security.limits import FailureLimiter
from ..security.middleware import (
    body_refusal,
    failed_lookup,
    lookup_kind,
    record_failure,
    request_actor,
    request_token_id,
)
from ..signing.middleware import NONCE_KEY
from .schemas import LicenseValidate
from .validate import answer_validation

__all__ = [
    "DATABASE_STATE_KEY",
    "MAX_FAST_BODY_BYTES",
    "FastValidateMiddleware",
    "ValidateEdge",
    "fast_answer",
]

#: Key of the app state entry holding the app's ``provide_database`` function.
DATABASE_STATE_KEY = "provide_database"

#: Larger bodies (a validate body is ~150 bytes) and bodies without a Content-Length go to the
#: handler unread, so the body limits apply to them exactly as on every other route.
MAX_FAST_BODY_BYTES = 16 * 1024

_decode = msgspec.json.Decoder(LicenseValidate).decode
_encode = msgspec.json.Encoder().encode
_JSON = (b"content-type", b"application/json")
_INTERNAL_ERROR = _encode(INTERNAL_ERROR)


class FastValidateMiddleware:
    """The lane on the route: answers what reaches the route's stack (a signed answer's
    request, or one :class:`ValidateEdge` left to the framework)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _fits(scope):
            await self.app(scope, receive, send)  # chunked or large: the handler reads it
            return
        messages, complete = await read_body(receive, MAX_FAST_BODY_BYTES)
        if complete:  # (not after a disconnect: the handler path deals with it)
            content = await fast_answer(
                scope["app"].state[DATABASE_STATE_KEY](),
                tuple(scope["route_handler"].opt.get(PERMISSION_OPT, ())),
                scope,
                body_of(messages),
            )
            if content is not None:
                await _send_json(send, 200, content, [])
                return
        await self.app(scope, replay(messages, receive), send)


class ValidateEdge:
    """The lane ahead of the framework: :class:`~exisone_server.app.ExisOneApp` hands it
    ``POST /api/license/validate`` before Litestar's routing and middleware run.

    It does what the route's stack does for an answer (the security middleware's body checks,
    failed-lookup limits and audit actor; the security headers) and leaves everything else to
    ``framework`` (the whole app), body replayed: a request with a nonce (a signed answer), a
    refused body or a blocked caller, a body without a Content-Length or too large, and every
    refusal of the validation itself. An unexpected error is answered 500 in the documented
    shape here (not tried again by the framework).
    """

    def __init__(
        self,
        framework: ASGIApp,
        *,
        path: str,
        database: Callable[[], Database],
        limiter: FailureLimiter,
        permissions: tuple[Permission, ...],
    ) -> None:
        self.framework = framework
        self.path = path
        self.database = database
        self.limiter = limiter
        self.permissions = permissions
        self._lookup_kind = lookup_kind("POST", path) or "error"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        max_bytes = self.limiter.settings.max_body_bytes
        if (
            not _fits(scope)
            or header(scope, NONCE_KEY) is not None
            or body_refusal(scope, max_bytes) is not None
        ):
            await self.framework(scope, receive, send)
            return
        try:
            content, messages = await self._answer(
                scope, receive, min(max_bytes, MAX_FAST_BODY_BYTES)
            )
        except Exception as exc:  # as the app's error handler does; not tried again
            log_unexpected("POST", scope["path"], exc)
            await _send_json(send, 500, _INTERNAL_ERROR, security_headers(scope))
            return
        if content is None:
            await self.framework(scope, replay(messages, receive), send)
            return
        await _send_json(send, 200, content, security_headers(scope))

    async def _answer(
        self, scope: Scope, receive: Receive, max_bytes: int
    ) -> tuple[bytes | None, list[dict[str, Any]]]:
        """The answer (failed lookups counted) and the messages read, or no answer: the
        caller is blocked (429 there), the body is incomplete or too large, or refused."""
        client = scope.get("client")
        ip = client[0] if client else None
        token_id = request_token_id(scope)
        limits = self.limiter.limits(token_id, ip) if token_id else []
        if limits and await self.limiter.retry_after(limits) is not None:
            return None, []
        messages, complete = await read_body(receive, max_bytes)
        if not complete:
            return None, messages
        with acting_as(request_actor(token_id, ip)):
            content = await fast_answer(self.database(), self.permissions, scope, body_of(messages))
        if content is not None and limits and failed_lookup(self._lookup_kind, content):
            await record_failure(self.limiter, limits)
        return content, messages


def _fits(scope: Scope) -> bool:
    """Whether the request says how long its body is, within :data:`MAX_FAST_BODY_BYTES`."""
    length = header(scope, b"content-length")
    return bool(
        length and length.isascii() and length.isdigit() and int(length) <= MAX_FAST_BODY_BYTES
    )


async def fast_answer(
    database: Database, permissions: tuple[Permission, ...], scope: Scope, body: bytes
) -> bytes | None:
    """The encoded answer, or None to leave the request to the handler (it does not decode,
    or the validation refuses it: the handler refuses it again, with its own answer)."""
    try:
        request = _decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, ValueError):
        return None
    x_tenant = header(scope, b"x-tenant")

    def check(principal: Principal) -> None:
        check_access(principal, x_tenant, permissions)

    client = scope.get("client")
    try:
        answer = await answer_validation(
            database,
            header(scope, b"authorization"),
            check,
            request,
            client[0] if client else None,
        )
    except ApiError:
        return None
    return _encode(answer)


async def _send_json(send: Send, status: int, content: bytes, extra: RawHeaders) -> None:
    headers = [_JSON, (b"content-length", str(len(content)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content, "more_body": False})
