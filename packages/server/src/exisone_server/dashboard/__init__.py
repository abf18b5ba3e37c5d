"""The publisher dashboard under ``/dashboard``: server-rendered pages over the same services as
the REST API.

``dashboard_routers()`` is mounted by :func:`exisone_server.routers.domain_routers`;
``template_config()`` is the app's Jinja configuration. Users: ``exisone-server user create``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, Response, Router, get
from litestar.enums import MediaType
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from litestar.types import ControllerRouterHandler

from ..errors import ApiError
from .accounts import create_user, log_in
from .web import BASE, CsrfRefused, NotLoggedIn, security_headers

__all__ = ["create_user", "dashboard_routers", "log_in", "template_config"]

_HERE = Path(__file__).parent


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(directory=_HERE / "templates", engine=JinjaTemplateEngine)


def _to_login(_: Request[Any, Any, Any], __: Exception) -> Response[Any]:
    return security_headers(Redirect(f"{BASE}/login"))


def _problem(status_code: int, title: str, text: str) -> Template:
    return Template(
        template_name="problem.html",
        context={"title": title, "text": text},
        status_code=status_code,
        media_type=MediaType.HTML,
    )


def _csrf_refused(_: Request[Any, Any, Any], __: Exception) -> Response[Any]:
    return security_headers(
        _problem(
            403,
            "This form was refused",
            "It was not sent by a page of this dashboard, or the page is too old. "
            "Go back, reload the page and try again.",
        )
    )


def _api_error(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, ApiError)
    return security_headers(_problem(exc.status_code, "That did not work", exc.message))


@get("/", include_in_schema=False)
async def _root() -> Redirect:
    return Redirect(f"{BASE}/")


def dashboard_routers() -> list[ControllerRouterHandler]:
    """The dashboard's pages, its static files, and ``/`` redirecting to it."""
    from . import (
        admin_pages,
        analytics_pages,
        api_usage_pages,
        audit_pages,  # the audit log (read-only)
        auth_pages,
        catalog_pages,
        license_pages,
        mail_pages,  # e-mail: SMTP settings, templates, the message log
        payment_pages,  # payments: provider apps, selling, received events, retry
        portal_pages,  # the customer portal's settings
        settings_pages,
        webhook_pages,
    )

    handlers: list[ControllerRouterHandler] = []
    modules = (
        auth_pages,
        catalog_pages,
        license_pages,
        admin_pages,
        webhook_pages,
        audit_pages,
        mail_pages,
        settings_pages,
        payment_pages,
        portal_pages,
        analytics_pages,
        api_usage_pages,
    )
    for module in modules:
        handlers.extend(getattr(module, name) for name in module.__all__)
    pages = Router(
        path=BASE,
        route_handlers=handlers,
        after_request=security_headers,
        exception_handlers={
            NotLoggedIn: _to_login,
            CsrfRefused: _csrf_refused,
            ApiError: _api_error,
        },
        include_in_schema=False,
    )
    static = create_static_files_router(
        path=f"{BASE}/static",
        directories=[_HERE / "static"],
        name="dashboard-static",
        after_request=security_headers,
    )
    return [pages, static, _root]
