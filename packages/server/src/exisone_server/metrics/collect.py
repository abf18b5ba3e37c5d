"""The metrics a server process records, and their text for a scrape.

Served by ``exisone-server serve``, every worker process writes its values into files of a
folder the supervisor made (``PROMETHEUS_MULTIPROC_DIR``, :mod:`.worker_files`), and a scrape,
answered by any worker, sums them (prometheus-client's multiprocess mode). Without that folder
(tests, an embedding app) the values stay in this process.

Recorded per request (:meth:`Metrics.timed`, called by the app ahead of everything, so the
validate seam's requests are counted as the framework's): one histogram observation, labelled
with the method, the route template (``/api/license/{key}/usage``, never the path) and the
status. Per validation: its outcome (the answer's ``reason``, or the error code). Both are
counted in memory and written every second (:meth:`Metrics.flush`). Per worker, every second:
the database connection pool's use. Per scrape: the webhook and mail queues' depth (a count in
the database).
"""

from __future__ import annotations

import os
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.pool import Pool

__all__ = ["MULTIPROCESS_DIR", "Metrics"]

Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]

#: The environment variable naming the folder shared by the worker processes.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
#: Request durations' buckets, in seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: The route label of a request no route matched (404s: their paths are not labels).
UNMATCHED = "unmatched"


class _Fixed(Collector):
    """Metric families computed before the scrape (the queue depths)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


class _Of(Collector):
    """Another registry's metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        return iter(self._registry.collect())


class Metrics:
    """This process's metrics (one per app)."""

    def __init__(self) -> None:
        self.directory = os.environ.get(MULTIPROCESS_DIR) or None
        disable_created_metrics()  # type: ignore[no-untyped-call]  # no ``_created`` series (multiprocess mode has none)
        registry: CollectorRegistry | None
        if self.directory:
            # prometheus-client picks the kind of value when it is first imported; a worker
            # that imported it before the folder was named must pick again.
            values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
            registry = None
        else:
            registry = CollectorRegistry(auto_describe=True)
        self.registry = registry
        self.requests = Histogram(
            "exisone_http_request_duration_seconds",
            "HTTP requests by method, route template and status, and their duration.",
            ["method", "route", "status"],
            buckets=BUCKETS,
            registry=registry,
        )
        self.validations = Counter(
            "exisone_validations",
            "License validations answered, by outcome (the answer's reason or error code).",
            ["outcome"],
            registry=registry,
        )
        self.pool = Gauge(
            "exisone_db_pool_connections",
            "Database pool connections of the server's processes, by state (in_use, idle).",
            ["state"],
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.pool_size = Gauge(
            "exisone_db_pool_size",
            "Connections the server's processes keep open at most (overflow aside).",
            multiprocess_mode="livesum",
            registry=registry,
        )
        #: Observations not yet written: (method, route, status) → [sum, bucket counts...].
        self._pending: dict[tuple[str, str, int], list[float]] = {}
        self._pending_outcomes: dict[str, int] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count a request (kept in memory until :meth:`flush`)."""
        counts = self._pending.get((method, route, status))
        if counts is None:
            counts = self._pending[method, route, status] = [0.0] * (len(BUCKETS) + 2)
        counts[0] += seconds
        counts[1 + bisect_left(BUCKETS, seconds)] += 1

    def count_validation(self, outcome: str) -> None:
        """Count a validation (kept in memory until :meth:`flush`)."""
        self._pending_outcomes[outcome] = self._pending_outcomes.get(outcome, 0) + 1

    def flush(self) -> None:
        """Write what was counted since the last flush into the metrics.

        Counting in memory costs a validation well under a microsecond; writing each request
        into prometheus-client's shared files cost about 10 µs. The app flushes every second
        (:data:`.endpoint.FLUSH_EVERY_S`), before answering a scrape, and when it stops.
        """
        pending, self._pending = self._pending, {}
        for (method, route, status), counts in pending.items():
            shown = method if method in _METHODS else "other"
            child: Any = self.requests.labels(shown, route, str(status))
            child._sum.inc(counts[0])  # Histogram.observe, many observations at once
            for bucket, count in zip(child._buckets, counts[1:], strict=True):
                if count:
                    bucket.inc(count)
        outcomes, self._pending_outcomes = self._pending_outcomes, {}
        for outcome, count in outcomes.items():
            self.validations.labels(outcome).inc(count)

    async def timed(self, app: Asgi, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """``app`` answering the HTTP request, observed (status 0: no answer was sent)."""
        status = 0

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await app(scope, receive, sending)
        finally:
            route = scope.get("path_template") or UNMATCHED
            self.observe_request(scope["method"], route, status, time.perf_counter() - started)

    def update_pool(self, pool: Pool) -> None:
        """Write this process's pool use (a pool without these counts is left out)."""
        try:
            in_use, idle, size = pool.checkedout(), pool.checkedin(), pool.size()  # type: ignore[attr-defined]
        except AttributeError:  # NullPool, StaticPool
            return
        self.pool.labels("in_use").set(in_use)
        self.pool.labels("idle").set(idle)
        self.pool_size.set(size)

    def exposition(self, families: Iterable[Metric] = ()) -> bytes:
        """The text format of every process's metrics, plus ``families``."""
        registry = CollectorRegistry(auto_describe=True)
        if self.directory:
            MultiProcessCollector(registry, self.directory)  # type: ignore[no-untyped-call]
        elif self.registry is not None:
            registry.register(_Of(self.registry))
        registry.register(_Fixed(families))
        return generate_latest(registry)
