"""Health endpoints (no token): ``/health``, ``/health/live`` and ``/health/ready``.

* ``GET /health`` — a database round trip: ``{"status": "ok", ...}`` (errors become 500).
* ``GET /health/live`` — the process answers; reads nothing (a container's liveness check:
  a database outage must not get healthy processes restarted).
* ``GET /health/ready`` — may this process get traffic: the database answers within
  :data:`READY_TIMEOUT_S` and its schema is at the migrations' head. 200
  ``{"status": "ready", ...}`` or 503 ``{"status": "not_ready", "checks": {...}}`` (a load
  balancer's health check); a hung database gives 503 after the timeout, not a hung check.
"""

from __future__ import annotations

import asyncio

from litestar import Response, Router, get
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from . import __version__
from .deps import DatabaseDep
from .kit.wire import WireResponse
from .migrate import head_revisions

__all__ = ["READY_TIMEOUT_S", "router"]

#: Seconds the readiness check waits for the database (connection and query together).
READY_TIMEOUT_S = 0.8
OK = "ok"


class HealthRead(WireResponse):
    status: str
    version: str
    database: str


class ReadinessChecks(WireResponse):
    database: str
    migrations: str


class ReadinessRead(WireResponse):
    status: str
    version: str
    checks: ReadinessChecks


@get("/health", tags=["ops"])
async def health(database: DatabaseDep) -> HealthRead:
    """``{"status": "ok", ...}`` when the database answers; else 503 ``database_unavailable``."""
    async with database.read() as connection:
        await connection.execute(text("SELECT 1"))
    return HealthRead(status="ok", version=__version__, database=database.dialect)


@get("/health/live", tags=["ops"])
async def live() -> HealthRead:
    """``{"status": "live", ...}``: the process answers (the database is not read)."""
    return HealthRead(status="live", version=__version__, database="not checked")


async def _schema_revisions(database: DatabaseDep) -> set[str] | None:
    """The revisions recorded in ``alembic_version``; None when the table does not exist."""
    async with database.read() as connection:
        try:
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
        except DBAPIError as exc:
            if "alembic_version" in str(exc.orig):  # no such table: never migrated
                return None
            raise
        return {str(row[0]) for row in rows}


async def readiness_checks(database: DatabaseDep) -> ReadinessChecks:
    """The database's and the schema's state, within :data:`READY_TIMEOUT_S`."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            revisions = await _schema_revisions(database)
    except TimeoutError:
        return ReadinessChecks(database="timeout", migrations="unknown")
    except Exception:  # unreachable, refused, authentication...
        return ReadinessChecks(database="unreachable", migrations="unknown")
    if not revisions:  # no table, or no revision in it
        return ReadinessChecks(database=OK, migrations="not migrated")
    if revisions != head_revisions():
        return ReadinessChecks(database=OK, migrations="behind (run exisone-server migrate)")
    return ReadinessChecks(database=OK, migrations=OK)


@get("/health/ready", tags=["ops"])
async def ready(database: DatabaseDep) -> Response[ReadinessRead]:
    """200 ``{"status": "ready", ...}`` or 503 ``{"status": "not_ready", "checks": ...}``."""
    checks = await readiness_checks(database)
    is_ready = checks.database == OK and checks.migrations == OK
    return Response(
        ReadinessRead(
            status="ready" if is_ready else "not_ready", version=__version__, checks=checks
        ),
        status_code=200 if is_ready else 503,
    )


router = Router(path="/", route_handlers=[health, live, ready])
