"""The server group (issue 7): load tests with wrk, bulk import, offline codes, memory."""

from __future__ import annotations

from benchmarks.registry import register
from benchmarks.server.cases import run_server_group

__all__ = ["run_server_group"]

register(
    "server",
    "server load (issue 7): validate vs the stack's fixed answer and nginx, SQLite/PostgreSQL, "
    "1/2 workers, 1k vs 1M licenses, activations, offline codes, memory",
)(run_server_group)
