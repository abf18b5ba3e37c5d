"""The server's own stack answering a fixed JSON body: the reference for ``validate``.

``create_app`` (same framework, middleware, error handling, server and workers) plus one
route, ``POST /bench/fixed``, that decodes the same request body as validate and returns a
fixed validation answer without authentication or database. Served only by the benchmark
(``exisone-server serve --app-factory benchmarks.server.fixed_app:app_from_env``); it is not
part of the shipped server.
"""

from __future__ import annotations

from litestar import post
from litestar.params import JSONBody

from exisone_server.app import ExisOneApp, create_app
from exisone_server.asgi import freeze_startup_heap
from exisone_server.config import Settings
from exisone_server.licenses.schemas import LicenseValidate, LicenseValidation

__all__ = ["FIXED_PATH", "app_from_env"]

FIXED_PATH = "/bench/fixed"

_ANSWER = LicenseValidation(
    is_valid=True,
    status="licensed",
    expiration_date="2099-12-31T00:00:00Z",
    features=[],
    reason="licensed",
)


@post(FIXED_PATH, status_code=200)
async def fixed_answer(data: JSONBody[LicenseValidate]) -> LicenseValidation:
    """A constant answer to a decoded validate body."""
    return _ANSWER


def app_from_env() -> ExisOneApp:
    """The server app from ``EXISONE_*`` plus the fixed route."""
    app = create_app(Settings.from_env(), extra_routers=[fixed_answer])
    freeze_startup_heap()  # as the served app does (exisone_server.asgi.app_from_env)
    return app
