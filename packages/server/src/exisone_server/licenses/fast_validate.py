"""The validate endpoint's fast lane: a route middleware that answers well-formed requests itself.

``POST /api/license/validate`` is the hot path (issue 7). Litestar's per-request machinery
(request object, dependency injection, signature model, response object) cost more than the
validation itself, so this middleware, installed on that route only, does the same work with
plain ASGI calls: read the body, decode it with msgspec into :class:`LicenseValidate`,
:func:`answer_validation`, encode the answer. It sits inside the app's middleware (security
limits, answer signing and security headers see its answers as they see the handler's).

Anything else goes to the route's Litestar handler, unchanged: a body without a Content-Length
or over :data:`MAX_FAST_BODY_BYTES` (not read here), a body that does not decode or does not
arrive, and every refusal (401, 403, 400): the middleware then replays the body it read to the
handler, which answers as it always did (a refused request so reads its token twice; refusals
are rare next to answers). Other errors (the database) are not retried: they reach the app's
error handler, which answers 500 in the documented shape. The OpenAPI document, the
route table and the error answers therefore stay the handler's;
``tests/server/test_fast_validate.py`` checks that both lanes give byte-identical answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import msgspec
from litestar.types import ASGIApp, Receive, Scope, Send

from ..auth.dependencies import check_access
from ..auth.permissions import PERMISSION_OPT
from ..auth.principal import Principal
from ..db import Database
from ..errors import ApiError
from ..kit.asgi import body_of, header, read_body, replay
from .schemas import LicenseValidate
from .validate import answer_validation

__all__ = ["DATABASE_STATE_KEY", "MAX_FAST_BODY_BYTES", "FastValidateMiddleware"]

#: Key of the app state entry holding the app's ``provide_database`` function.
DATABASE_STATE_KEY = "provide_database"

#: Larger bodies (a validate body is ~150 bytes) and bodies without a Content-Length go to the
#: handler unread, so the body limits apply to them exactly as on every other route.
MAX_FAST_BODY_BYTES = 16 * 1024

_decode = msgspec.json.Decoder(LicenseValidate).decode
_encode = msgspec.json.Encoder().encode
_JSON = (b"content-type", b"application/json")


class FastValidateMiddleware:
    """See the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        length = header(scope, b"content-length")
        if (
            not (length and length.isascii() and length.isdigit())
            or int(length) > MAX_FAST_BODY_BYTES
        ):
            await self.app(scope, receive, send)  # chunked or large: the handler reads it
            return
        messages, complete = await read_body(receive, MAX_FAST_BODY_BYTES)
        if complete:  # (not after a disconnect: the handler path deals with it)
            content = await self._answer(scope, body_of(messages))
            if content is not None:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [_JSON, (b"content-length", str(len(content)).encode())],
                    }
                )
                await send({"type": "http.response.body", "body": content, "more_body": False})
                return
        await self.app(scope, replay(messages, receive), send)

    async def _answer(self, scope: Scope, body: bytes) -> bytes | None:
        """The encoded answer, or None to leave the request to the handler."""
        try:
            request = _decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, ValueError):
            return None
        provide_database = cast("Callable[[], Database]", scope["app"].state[DATABASE_STATE_KEY])
        needed = tuple(scope["route_handler"].opt.get(PERMISSION_OPT, ()))
        x_tenant = header(scope, b"x-tenant")

        def check(principal: Principal) -> None:
            check_access(principal, x_tenant, needed)

        client = scope.get("client")
        try:
            answer = await answer_validation(
                provide_database(),
                header(scope, b"authorization"),
                check,
                request,
                client[0] if client else None,
            )
        except ApiError:
            return None  # refused: the handler refuses it again, with its own answer
        return _encode(answer)
