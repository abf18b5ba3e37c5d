"""The customer portal under ``/portal/<slug>``: customers sign in with an e-mailed link, see
their licenses and devices, release devices under the product's rules, get offline codes and
recover their keys (docs/portal.md).

``portal_routers()`` is mounted by :func:`exisone_server.routers.domain_routers`. The publisher
sets the portal up on the dashboard's "Customer portal" page (:mod:`.config`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, Response, Router
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from ..dashboard.web import CsrfRefused
from ..errors import ApiError
from .web import NotSignedIn, PortalNotFound, render

__all__ = ["portal_routers"]

_HERE = Path(__file__).parent
BASE = "/portal"


def _same_origin_referrer(response: Response[Any]) -> Response[Any]:
    """Browsers send ``Origin: null`` with a form POST under ``Referrer-Policy: no-referrer``
    (the server-wide policy); the CSRF check needs the real origin, so portal pages say
    ``same-origin`` (other sites, such as a logo's host, still get no referrer)."""
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _problem(status_code: int, title: str, text: str) -> Response[str]:
    return render("problem.html", {"title": title, "text": text}, status_code=status_code)


def _not_found(_: Request[Any, Any, Any], __: Exception) -> Response[Any]:
    return _problem(404, "Page not found", "There is no customer portal at this address.")


def _to_sign_in(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, NotSignedIn)
    return Redirect(exc.portal.base)


def _csrf_refused(_: Request[Any, Any, Any], __: Exception) -> Response[Any]:
    return _problem(
        403,
        "This form was refused",
        "It was not sent by a page of this portal, or the page is too old. Go back, reload "
        "the page and try again.",
    )


def _api_error(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, ApiError)
    return _problem(exc.status_code, "That did not work", exc.message)


def portal_routers() -> list[ControllerRouterHandler]:
    """The portal's pages and its static files."""
    from . import license_pages, public_pages, renewal_pages

    handlers: list[ControllerRouterHandler] = []
    for module in (public_pages, license_pages, renewal_pages):
        handlers.extend(getattr(module, name) for name in module.__all__)
    pages = Router(
        path=BASE,
        route_handlers=handlers,
        exception_handlers={
            PortalNotFound: _not_found,
            NotSignedIn: _to_sign_in,
            CsrfRefused: _csrf_refused,
            ApiError: _api_error,
        },
        after_request=_same_origin_referrer,
        include_in_schema=False,
    )
    static = create_static_files_router(
        path=f"{BASE}/static", directories=[_HERE / "static"], name="portal-static"
    )
    return [pages, static]
