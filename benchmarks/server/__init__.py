"""The server groups: load tests with wrk, bulk import, offline codes, memory; API keys."""

from __future__ import annotations

from benchmarks.registry import register
from benchmarks.server.api_cases import run_api_group
from benchmarks.server.cases import run_server_group
from benchmarks.server.lease_cases import run_leases_group

__all__ = ["run_api_group", "run_leases_group", "run_server_group"]

register(
    "server",
    "server load: validate ÷ a bare ASGI answer under the same granian (the stack's fixed answer "
    "and nginx for context), SQLite/PostgreSQL, 1/2 workers, access log on ÷ off, 1k vs 1M "
    "licenses, activations, offline codes, memory",
)(run_server_group)

register(
    "api",
    "API keys and analytics: consumes (SQLite/PostgreSQL, 2 workers, saturated and paced, and "
    "÷ the bare ASGI answer), validate with analytics on vs off",
)(run_api_group)

register(
    "leases",
    "floating seats: heartbeats vs the stack's fixed answer and paced, lease checkouts at 64 "
    "connections (SQLite/PostgreSQL, 2 workers)",
)(run_leases_group)
