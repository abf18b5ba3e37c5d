"""The ASGI application: ``create_app(settings)``; no engine or state exists at import time.

Every answer depends only on the database, so any number of processes on one PostgreSQL
database behave as one server.

The hot routes (``POST`` to validate, activate, a lease heartbeat and consume) do not go through
the framework: :class:`ExisOneApp` hands them to the seam (:mod:`.seam`), which does itself what
the app-wide layers listed in :data:`SEAM_STANDS_IN_FOR` do for every other route. A layer
added to the app must be added there too, and done by the seam:
``tests/server/test_validate_seam.py`` compares the list with the app's layers.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

from litestar import Litestar, Request
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.openapi import OpenAPIConfig
from litestar.types import (
    ControllerRouterHandler,
    LifeSpanReceive,
    LifeSpanScope,
    LifeSpanSend,
    Receive,
    Scope,
    Send,
)

from . import __version__
from .analytics.counting import analytics_lifespan
from .analytics.settings import AnalyticsSettings
from .api_keys.endpoints import CONSUME_PATH, CONSUME_ROUTE
from .auth import Principal, provide_principal
from .auth.permissions import PERMISSION_OPT
from .config import Settings
from .crypto.master_key import MasterKey, load_master_key
from .dashboard import template_config
from .db import Database
from .errors import exception_handlers
from .licenses.endpoints import ACTIVATE_PATH, ACTIVATE_ROUTE, VALIDATE_PATH, validate_license
from .licenses.lease_endpoints import (
    HEARTBEAT_PATH,
    LEASE_PATH,
    checkout_route,
    heartbeat_route,
)
from .licenses.validate_seam import validate_route
from .licenses.validation_stats import validation_stats_lifespan
from .mail import mail_lifespan
from .metrics import Metrics, MetricsSettings
from .metrics.endpoint import metrics_lifespan, metrics_router
from .payments import payment_lifespan
from .routers import domain_routers
from .seam import Seam
from .security import security_plugin
from .signing import answer_signing
from .signing.keys import SigningKeys
from .webhooks import webhook_lifespan

__all__ = ["SEAM_STANDS_IN_FOR", "ExisOneApp", "create_app"]

_REPEATED_SLASHES = re.compile(r"/{2,}")

#: What the validate seam does in place of the framework's app-wide layers: (kind of layer,
#: name) → what the seam does instead. Kinds: middleware, before_send (hooks), plugin (init
#: plugins), exception_handler, guard, before_request / after_request / after_response.
SEAM_STANDS_IN_FOR: dict[tuple[str, str], str] = {
    ("middleware", "AnswerSigningMiddleware"): "signs the answer when the request sends a nonce",
    ("middleware", "SecurityMiddleware"): "body checks, failed-lookup limits, audit actor",
    ("before_send", "add_security_headers"): "adds security.headers.security_headers",
    ("plugin", "SecurityPlugin"): "the middleware and hook above; the OpenAPI error shape",
    ("plugin", "OpenAPIPlugin"): "nothing: the route stays in the OpenAPI document",
    ("exception_handler", "ApiError"): "answers it in the same shape",
    ("exception_handler", "Exception"): "answers 500 internal_error, logged",
    ("exception_handler", "ValidationException"): "a body that does not decode: framework",
    ("exception_handler", "UnicodeDecodeError"): "a body that does not decode: framework",
    ("exception_handler", "RecursionError"): "a body that does not decode: framework",
    ("exception_handler", "HTTPException"): "raised by routing and decoding only: framework",
    ("exception_handler", "OverflowError"): "answers 400 invalid_request (out of range)",
    ("exception_handler", "DataError"): "answers 400 invalid_request (out of range)",
}


class ExisOneApp(Litestar):
    """Litestar, plus collapsing ``//api/...`` (sent by clients whose base URL ends in ``/``),
    the request metrics (:meth:`Metrics.timed`, around the seam and the framework alike) and
    the seam ahead of the framework (:class:`~.seam.Seam`)."""

    #: Receives ``POST`` to its routes' paths before Litestar does (set by create_app).
    seam: Seam | None = None
    #: Times every HTTP request, when metrics are on (set by create_app).
    metrics: Metrics | None = None

    async def __call__(
        self,
        scope: Scope | LifeSpanScope,
        receive: Receive | LifeSpanReceive,
        send: Send | LifeSpanSend,
    ) -> None:
        if scope["type"] != "lifespan":
            if "//" in scope["path"]:
                path = _REPEATED_SLASHES.sub("/", scope["path"])
                scope = cast("Scope", {**scope, "path": path, "raw_path": path.encode("latin-1")})
            if self.metrics is not None and scope["type"] == ScopeType.HTTP:
                await self.metrics.timed(
                    cast("Any", self._dispatch), cast("Any", scope), receive, send
                )
                return
            await self._dispatch(scope, cast("Receive", receive), cast("Send", send))
            return
        await super().__call__(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        """To the seam, or to the framework."""
        if (
            self.seam is not None
            and scope["path"] in self.seam.routes
            and scope["type"] == ScopeType.HTTP
            and scope["method"] == "POST"
        ):
            scope["path_template"] = scope["path"]  # the route, for the metrics
            await self.seam(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Litestar's handling of a request (what the seam leaves to it)."""
        await super().__call__(scope, receive, send)


def _client_ip(request: Request[Any, Any, Any]) -> str | None:
    return request.client.host if request.client else None


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    master_key: MasterKey | None = None,
    extra_routers: Sequence[ControllerRouterHandler] = (),
    metrics_settings: MetricsSettings | None = None,
    debug: bool = False,
) -> ExisOneApp:
    """Build the application.

    ``settings`` defaults to :meth:`Settings.from_env`. Pass ``database`` to share an engine (tests
    do; the app then leaves it open), otherwise the app makes one on startup and disposes of it
    on shutdown. ``extra_routers`` are mounted after :func:`routers.domain_routers`.
    ``metrics_settings`` defaults to :meth:`MetricsSettings.from_env` (off unless set).
    """
    settings = settings or Settings.from_env()
    key = master_key or load_master_key(settings)
    state: dict[str, Database] = {}
    if database is not None:
        state["database"] = database

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        if "database" in state:
            yield
            return
        state["database"] = Database.from_settings(settings)
        try:
            yield
        finally:
            await state.pop("database").dispose()

    def provide_database() -> Database:
        try:
            return state["database"]
        except KeyError:
            raise RuntimeError("the app was used before its startup (lifespan) ran") from None

    def provide_settings() -> Settings:
        return settings

    def provide_master_key() -> MasterKey:
        return key

    metrics_settings = metrics_settings or MetricsSettings.from_env()
    metrics = Metrics() if metrics_settings.enabled else None
    metrics_parts = (
        ([metrics_router(metrics, metrics_settings)], [metrics_lifespan(provide_database, metrics)])
        if metrics is not None
        else ([], [])
    )
    security = security_plugin(provide_database)
    signing_keys = SigningKeys(key)
    app = ExisOneApp(
        route_handlers=[*domain_routers(), *metrics_parts[0], *extra_routers],
        dependencies={
            "database": Provide(provide_database, sync_to_thread=False),
            "settings": Provide(provide_settings, sync_to_thread=False),
            "master_key": Provide(provide_master_key, sync_to_thread=False),
            "principal": Provide(provide_principal),
            "client_ip": Provide(_client_ip, sync_to_thread=False),
        },
        exception_handlers=exception_handlers(),
        plugins=[security],  # limits, body checks, headers
        middleware=[answer_signing(provide_database, signing_keys)],  # when asked (nonce)
        lifespan=[
            lifespan,
            webhook_lifespan(provide_database, key),
            mail_lifespan(provide_database, key),  # the e-mail outbox's sending worker
            payment_lifespan(provide_database, key),  # retries payment events that wait
            validation_stats_lifespan(provide_database),  # the dashboard's validation counts
            analytics_lifespan(provide_database, AnalyticsSettings.from_env()),
            *metrics_parts[1],  # this worker's pool use, for /metrics
        ],
        openapi_config=OpenAPIConfig(
            title="ExisOne-compatible license server",
            version=__version__,
            path="/schema",
        ),
        signature_types=[Principal, Database, Settings, MasterKey],
        template_config=template_config(),
        # No global logging setup from a factory (tests and embedders keep theirs); errors are
        # logged by errors.py on the "exisone_server" logger, configured by asgi.app_from_env.
        logging_config=None,
        debug=debug,
    )
    app.seam = Seam(
        app.framework,
        routes={
            VALIDATE_PATH: validate_route(validate_license.opt[PERMISSION_OPT]),
            CONSUME_PATH: CONSUME_ROUTE,
            ACTIVATE_PATH: ACTIVATE_ROUTE,
            HEARTBEAT_PATH: heartbeat_route(key),
            LEASE_PATH: checkout_route(key),
        },
        database=provide_database,
        limiter=security.limiter,
        signing_keys=signing_keys,
        metrics=metrics,
    )
    app.metrics = metrics
    return app
