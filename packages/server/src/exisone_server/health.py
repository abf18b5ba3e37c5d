"""GET /health: liveness plus a database round trip (no token needed)."""

from __future__ import annotations

from litestar import Router, get
from sqlalchemy import text

from . import __version__
from .deps import DatabaseDep
from .kit.wire import WireResponse

__all__ = ["router"]


class HealthRead(WireResponse):
    status: str
    version: str
    database: str


@get("/health", tags=["ops"])
async def health(database: DatabaseDep) -> HealthRead:
    """``{"status": "ok", ...}`` when the database answers; else 503 ``database_unavailable``."""
    async with database.read() as connection:
        await connection.execute(text("SELECT 1"))
    return HealthRead(status="ok", version=__version__, database=database.dialect)


router = Router(path="/", route_handlers=[health])
