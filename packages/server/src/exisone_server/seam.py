"""The seam: the hottest routes answered ahead of the framework.

Validate, activate, lease checkouts and heartbeats, and consume are the hot paths: Litestar's
per-request machinery (routing, the middleware stack, request object, dependency injection,
response object) costs more than the work itself. So :class:`~exisone_server.app.ExisOneApp`
hands ``POST`` requests to the paths in :attr:`Seam.routes` to :class:`Seam`, which does with
plain ASGI calls what the framework's layers do for every other route — the list is
``app.SEAM_STANDS_IN_FOR``, and a test fails when the app gets a layer that list does not
name:

* the security middleware's body checks, failed-lookup limits (:mod:`.security.lookups`) and
  audit actor;
* the route's handler (a :class:`HotRoute`: validate's in :mod:`.licenses.validate_seam`,
  activate's in :mod:`.licenses.endpoints`, the checkout's and the heartbeat's in
  :mod:`.licenses.lease_endpoints`, consume's in :mod:`.api_keys.endpoints`) and its error
  answers, in the documented shape, byte for byte as the framework's exception handlers write
  them;
* answer signing, when the request sends a nonce to a signed path;
* the security headers;
* the count of each answer's outcome, when metrics are on, for routes that name one (validate:
  validations by outcome; the request itself is timed by the app around the seam).

Every request is answered here, refusals included, except a body that is not a JSON object of
the route's shape: it goes to the framework (replayed) so that its 400 says what the framework
says; that path reads nothing. ``tests/server/test_validate_seam.py``,
``tests/server/test_activate_seam.py``, ``tests/server/test_checkout_seam.py``,
``tests/server/test_heartbeat_seam.py`` and ``tests/server/test_consume_seam.py`` check that
the seam and the framework's routes give the same answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.types import ASGIApp, Receive, Scope, Send

from .audit.context import acting_as
from .auth.dependencies import authenticate, check_access
from .auth.permissions import Permission
from .auth.principal import Principal
from .db import Database
from .errors import (
    DATABASE_UNAVAILABLE,
    INTERNAL_ERROR,
    OUT_OF_RANGE,
    OUT_OF_RANGE_ERRORS,
    ApiError,
    database_unavailable,
    log_out_of_range,
    log_unavailable,
    log_unexpected,
)
from .kit.asgi import body_of, header, read_body, replay
from .metrics import Metrics
from .security.headers import security_headers
from .security.limits import FailureLimiter
from .security.lookups import counting_lookups
from .security.middleware import (
    PayloadTooLarge,
    body_refusal,
    error_answer,
    rate_limited_answer,
    request_actor,
    request_token_id,
)
from .signing.keys import SigningKeys
from .signing.middleware import answer_signature, request_nonce

__all__ = ["CallerWork", "HotRoute", "Seam", "for_caller"]

_encode = msgspec.json.Encoder().encode
_JSON = (b"content-type", b"application/json")
_SIGNATURE = b"exisone-signature"

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


def _api_error_answer(error: ApiError) -> Answer:
    """An :class:`ApiError` as the app's exception handler answers it."""
    body = _encode({"error": error.code, "message": error.message, **error.extra})
    headers = [_JSON, *((k.lower().encode(), v.encode()) for k, v in error.headers.items())]
    return error.status_code, headers, body


#: A hot route's handler: (database, Authorization header, access check, decoded body,
#: client IP) → the answer's body (anything msgspec encodes); refusals raise ApiError.
Handler = Callable[
    [Database, "str | None", Callable[[Principal], None], Any, "str | None"], Awaitable[Any]
]
#: A hot route's work once its caller is known: (database, caller, decoded body, client IP)
#: → the answer's body, as :data:`Handler`'s.
CallerWork = Callable[[Database, Principal, Any, "str | None"], Awaitable[Any]]


def for_caller(work: CallerWork) -> Handler:
    """The handler of a route that, as the framework's ``principal`` dependency does,
    authenticates the caller's token and checks the route's access before ``work``."""

    async def handle(
        database: Database,
        authorization: str | None,
        check: Callable[[Principal], None],
        data: Any,
        ip: str | None,
    ) -> Any:
        principal = await authenticate(database, authorization)
        check(principal)
        return await work(database, principal, data, ip)

    return handle


@dataclass(frozen=True)
class HotRoute:
    """A route the seam answers: how its body decodes, its handler, the framework route's
    permissions, whether it writes (a write's answer is never replaced by 429), and how an
    answer names its outcome for the metrics (None: not counted)."""

    decode: Callable[[bytes], Any]
    handle: Handler
    permissions: tuple[Permission, ...]
    writes: bool
    outcome: Callable[[Any], str] | None = None


class Seam:
    """See the module docstring. ``framework`` is the whole app behind the seam."""

    def __init__(
        self,
        framework: ASGIApp,
        *,
        routes: Mapping[str, HotRoute],
        database: Callable[[], Database],
        limiter: FailureLimiter,
        signing_keys: SigningKeys,
        metrics: Metrics | None = None,
    ) -> None:
        self.framework = framework
        self.routes = dict(routes)
        self.database = database
        self.limiter = limiter
        self.signing_keys = signing_keys
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a ``POST`` to one of :attr:`routes`."""
        try:
            await self._answer(self.routes[scope["path"]], scope, receive, send)
        except Exception as exc:  # as the app's error handlers do
            if isinstance(exc, OUT_OF_RANGE_ERRORS):
                log_out_of_range(exc)
                await self._send(scope, send, (400, [_JSON], _encode(OUT_OF_RANGE)))
                return
            if database_unavailable(exc):
                log_unavailable("POST", scope["path"], exc)
                unavailable = [_JSON, (b"retry-after", b"1")]
                await self._send(scope, send, (503, unavailable, _encode(DATABASE_UNAVAILABLE)))
                return
            log_unexpected("POST", scope["path"], exc)
            await self._send(scope, send, (500, [_JSON], _encode(INTERNAL_ERROR)))

    async def _answer(self, route: HotRoute, scope: Scope, receive: Receive, send: Send) -> None:
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
            request = route.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, ValueError):
            await self.framework(scope, replay(messages, receive), send)
            return
        x_tenant = header(scope, b"x-tenant")
        principals: list[Principal] = []  # the caller, once its token checked (for signing)

        def check(principal: Principal) -> None:
            principals.append(principal)
            check_access(principal, x_tenant, route.permissions)

        with acting_as(request_actor(token_id, ip)), counting_lookups() as ledger:
            try:
                result = await route.handle(
                    self.database(), header(scope, b"authorization"), check, request, ip
                )
                answer: Answer = (200, [_JSON], _encode(result))
                outcome = route.outcome(result) if route.outcome is not None else None
            except ApiError as error:
                answer = _api_error_answer(error)
                outcome = error.code
            wait = await self.limiter.settle(limits, ledger, writes=route.writes)
        if wait is not None:
            answer = rate_limited_answer(wait)
            outcome = "rate_limited"
        if self.metrics is not None and route.outcome is not None and outcome is not None:
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
