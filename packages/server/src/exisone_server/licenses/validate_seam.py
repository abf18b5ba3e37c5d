"""The validate seam: ``POST /api/license/validate`` answered ahead of the framework.

Validate is the hot path: Litestar's per-request machinery (routing, the middleware stack,
request object, dependency injection, response object) costs more than the validation itself.
So :class:`~exisone_server.app.ExisOneApp` hands these requests to :class:`ValidateSeam`, which
does with plain ASGI calls what the framework's layers do for every other route — the list is
``app.SEAM_STANDS_IN_FOR``, and a test fails when the app gets a layer that list does not name:

* the security middleware's body checks, failed-lookup limits (:mod:`..security.lookups`) and
  audit actor;
* the handler (:func:`.validate.answer_validation`) and its error answers, in the documented
  shape, byte for byte as the framework's exception handlers write them;
* answer signing, when the request sends a nonce;
* the security headers;
* the validations' count by outcome, when metrics are on (the request itself is timed by the
  app around the seam).

Every request is answered here, refusals included (a refusal reads the database once), except
a body that is not a JSON object of the validate shape: it goes to the framework (replayed) so
that its 400 says what the framework says; that path reads nothing.
``tests/server/test_validate_seam.py`` checks that the seam and the framework's route give the
same answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import msgspec
from litestar.types import ASGIApp, Receive, Scope, Send

from ..audit.context import acting_as
from ..auth.dependencies import authenticate, check_access
from ..auth.permissions import Permission
from ..auth.principal import Principal
from ..db import Database
from ..errors import INTERNAL_ERROR, ApiError, log_unexpected
from ..kit.asgi import body_of, header, read_body, replay
from ..metrics import Metrics
from ..security.headers import security_headers
from ..security.limits import FailureLimiter
from ..security.lookups import counting_lookups
from ..security.middleware import (
    PayloadTooLarge,
    body_refusal,
    error_answer,
    rate_limited_answer,
    request_actor,
    request_token_id,
)
from ..signing.keys import SigningKeys
from ..signing.middleware import answer_signature, request_nonce
from .schemas import LicenseValidate
from .validate import answer_validation

__all__ = ["ValidateSeam"]

_decode = msgspec.json.Decoder(LicenseValidate).decode
_encode = msgspec.json.Encoder().encode
_JSON = (b"content-type", b"application/json")
_SIGNATURE = b"exisone-signature"

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


def _api_error_answer(error: ApiError) -> Answer:
    """An :class:`ApiError` as the app's exception handler answers it."""
    body = _encode({"error": error.code, "message": error.message, **error.extra})
    headers = [_JSON, *((k.lower().encode(), v.encode()) for k, v in error.headers.items())]
    return error.status_code, headers, body


class ValidateSeam:
    """See the module docstring. ``framework`` is the whole app behind the seam."""

    def __init__(
        self,
        framework: ASGIApp,
        *,
        path: str,
        database: Callable[[], Database],
        limiter: FailureLimiter,
        signing_keys: SigningKeys,
        permissions: tuple[Permission, ...],
        metrics: Metrics | None = None,
    ) -> None:
        self.framework = framework
        self.path = path
        self.database = database
        self.limiter = limiter
        self.signing_keys = signing_keys
        self.permissions = permissions
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._answer(scope, receive, send)
        except Exception as exc:  # as the app's error handler does
            log_unexpected("POST", scope["path"], exc)
            await self._send(scope, send, (500, [_JSON], _encode(INTERNAL_ERROR)))

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        max_bytes = self.limiter.settings.max_body_bytes
        refusal = body_refusal(scope, max_bytes)
        if refusal is not None:
            await self._send(scope, send, error_answer(*refusal))
            return
        messages, complete = await read_body(receive, max_bytes)
        if not complete:
            if messages[-1]["type"] == "http.request":  # more than max_bytes arrived
                await self._send(scope, send, _api_error_answer(PayloadTooLarge(max_bytes)))
            return  # else the client went away
        body = body_of(messages)
        client = scope.get("client")
        ip = client[0] if client else None
        token_id = request_token_id(scope)
        limits = self.limiter.limits(token_id, ip) if token_id else []
        wait = await self.limiter.retry_after(limits) if limits else None
        nonce = request_nonce(scope)
        if wait is not None:
            await self._send(scope, send, rate_limited_answer(wait), nonce=nonce, body=body)
            return
        try:
            request = _decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, ValueError):
            await self.framework(scope, replay(messages, receive), send)
            return
        x_tenant = header(scope, b"x-tenant")
        principals: list[Principal] = []  # the caller, once its token checked (for signing)

        def check(principal: Principal) -> None:
            principals.append(principal)
            check_access(principal, x_tenant, self.permissions)

        with acting_as(request_actor(token_id, ip)), counting_lookups() as ledger:
            try:
                _, validation = await answer_validation(
                    self.database(), header(scope, b"authorization"), check, request, ip
                )
                answer: Answer = (200, [_JSON], _encode(validation))
                outcome = validation.reason
            except ApiError as error:
                answer = _api_error_answer(error)
                outcome = error.code
            wait = await self.limiter.settle(limits, ledger, writes=False)
        if wait is not None:
            answer = rate_limited_answer(wait)
            outcome = "rate_limited"
        if self.metrics is not None:
            self.metrics.count_validation(outcome)
        principal = principals[0] if principals else None
        await self._send(scope, send, answer, nonce=nonce, body=body, principal=principal)

    async def _send(
        self,
        scope: Scope,
        send: Send,
        answer: Answer,
        *,
        nonce: str | None = None,
        body: bytes = b"",
        principal: Principal | None = None,
    ) -> None:
        status, headers, content = answer
        headers = [
            *(pair for pair in headers if pair[0] != b"content-length"),
            (b"content-length", str(len(content)).encode()),
            *security_headers(scope),
        ]
        if nonce is not None:
            signature = await self._signature(scope, nonce, body, status, content, principal)
            if signature is not None:
                headers.append((_SIGNATURE, signature.encode("latin-1")))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content, "more_body": False})

    async def _signature(
        self,
        scope: Scope,
        nonce: str,
        body: bytes,
        status: int,
        content: bytes,
        principal: Principal | None,
    ) -> str | None:
        """The answer's signature by the caller's tenant (unknown tenant: unsigned). A caller
        refused before its token was checked (a blocked one) has it checked here."""
        database = self.database()
        if principal is None and status == 401:
            return None
        if principal is None:
            try:
                principal = await authenticate(database, header(scope, b"authorization"))
            except ApiError:
                return None
        return await answer_signature(
            database,
            self.signing_keys,
            principal.tenant_id,
            scope,
            nonce=nonce,
            request_digest=hashlib.sha256(body).hexdigest(),
            status=status,
            content=content,
        )
