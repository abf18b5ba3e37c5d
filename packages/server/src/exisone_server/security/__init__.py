"""Reliability and security layer: failure rate limits, body limits, security headers.

:func:`security_plugin` installs it on the app (one line in ``create_app``). The dashboard's
login uses :mod:`.login_limits`; successful writes of the client endpoints are limited by
:mod:`.write_limits`.
"""

from __future__ import annotations

from collections.abc import Callable

from litestar.config.app import AppConfig
from litestar.middleware import DefineMiddleware
from litestar.plugins import InitPluginProtocol

from ..db import Database
from .headers import add_security_headers
from .limits import FailureLimiter, RateLimited
from .login_limits import LoginLimitSettings, check_login, login_retry_after, record_login_failure
from .middleware import SecurityMiddleware
from .openapi import with_error_shape
from .settings import SecuritySettings

__all__ = [
    "FailureLimiter",
    "LoginLimitSettings",
    "RateLimited",
    "SecurityPlugin",
    "SecuritySettings",
    "check_login",
    "login_retry_after",
    "record_login_failure",
    "security_plugin",
]


class SecurityPlugin(InitPluginProtocol):
    """Adds the security middleware (with one shared limiter), the headers hook and the real
    error shape in the OpenAPI document."""

    def __init__(self, limiter: FailureLimiter) -> None:
        self.limiter = limiter

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        limiter = self.limiter
        app_config.middleware.append(DefineMiddleware(SecurityMiddleware, limiter=limiter))
        app_config.before_send.append(add_security_headers)
        if app_config.openapi_config is not None:
            app_config.openapi_config = with_error_shape(app_config.openapi_config)
        return app_config


def security_plugin(
    database: Callable[[], Database], settings: SecuritySettings | None = None
) -> SecurityPlugin:
    """The plugin for an app whose database ``database()`` returns (after startup)."""
    return SecurityPlugin(FailureLimiter(database, settings or SecuritySettings.from_env()))
