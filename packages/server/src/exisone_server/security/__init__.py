"""Reliability and security layer: failure rate limits, body limits, security headers.

:func:`security_plugin` installs it on the app (one line in ``create_app``). The dashboard's
login uses :func:`check_login` / :func:`record_login_failure`.
"""

from __future__ import annotations

from collections.abc import Callable

from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from ..db import Database
from .headers import add_security_headers
from .limits import (
    FailureLimiter,
    RateLimited,
    check_login,
    login_retry_after,
    record_login_failure,
)
from .middleware import SecurityMiddleware
from .settings import SecuritySettings

__all__ = [
    "FailureLimiter",
    "RateLimited",
    "SecurityPlugin",
    "SecuritySettings",
    "check_login",
    "login_retry_after",
    "record_login_failure",
    "security_plugin",
]


class SecurityPlugin(InitPluginProtocol):
    """Adds the security middleware (with one shared limiter) and the headers hook."""

    def __init__(self, limiter: FailureLimiter) -> None:
        self.limiter = limiter

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        limiter = self.limiter
        app_config.middleware.append(lambda app: SecurityMiddleware(app, limiter))
        app_config.before_send.append(add_security_headers)
        return app_config


def security_plugin(
    database: Callable[[], Database], settings: SecuritySettings | None = None
) -> SecurityPlugin:
    """The plugin for an app whose database ``database()`` returns (after startup)."""
    return SecurityPlugin(FailureLimiter(database, settings or SecuritySettings.from_env()))
