"""The server app plus ``GET /test/slow?seconds=S``, a request that takes S seconds: an
in-flight request for the graceful-shutdown test (``serve --app-factory``; not shipped)."""

from __future__ import annotations

import asyncio

from litestar import get

from exisone_server.app import ExisOneApp, create_app
from exisone_server.asgi import configure_logging
from exisone_server.config import Settings

__all__ = ["SLOW_PATH", "app_from_env"]

SLOW_PATH = "/test/slow"


@get(SLOW_PATH)
async def slow(seconds: float) -> dict[str, float]:
    """Answer after ``seconds``."""
    await asyncio.sleep(seconds)
    return {"slept": seconds}


def app_from_env() -> ExisOneApp:
    """The server app from ``EXISONE_*`` plus the slow route."""
    configure_logging()
    return create_app(Settings.from_env(), extra_routers=[slow])
