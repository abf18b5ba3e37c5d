"""The server group (issue 7): load tests with wrk, bulk import, offline codes, memory."""

from __future__ import annotations

from benchmarks.registry import register
from benchmarks.server.api_cases import run_api_group
from benchmarks.server.cases import run_server_group
from benchmarks.server.lease_cases import run_leases_group

__all__ = ["run_api_group", "run_leases_group", "run_server_group"]

register(
    "server",
    "server load (issue 7): validate vs the stack's fixed answer and nginx, SQLite/PostgreSQL, "
    "1/2 workers, 1k vs 1M licenses, activations, offline codes, memory",
)(run_server_group)

register(
    "api",
    "API keys and analytics: consumes (SQLite/PostgreSQL, 2 workers, saturated and paced), "
    "validate with analytics on vs off",
)(run_api_group)

register(
    "leases",
    "floating seats: heartbeats vs the stack's fixed answer and paced, lease checkouts at 64 "
    "connections (SQLite/PostgreSQL, 2 workers)",
)(run_leases_group)
