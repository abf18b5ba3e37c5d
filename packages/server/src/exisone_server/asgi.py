"""ASGI entry point: ``granian --interface asgi --factory exisone_server.asgi:app_from_env``."""

from __future__ import annotations

import gc
import logging

from .app import ExisOneApp, create_app
from .config import Settings
from .kit.log_safety import SafeFormatter

__all__ = ["app_from_env", "freeze_startup_heap"]


def app_from_env() -> ExisOneApp:
    """The app configured from ``EXISONE_*`` environment variables; logs to stderr, one line per
    record (control characters escaped, tracebacks behind ``| ``)."""
    logger = logging.getLogger("exisone_server")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(SafeFormatter("%(levelname)s:     %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    app = create_app(Settings.from_env())
    freeze_startup_heap()
    return app


def freeze_startup_heap() -> None:
    """Exempt the objects made so far (modules, the app) from the cyclic garbage collector.

    A serving process holds ~100 MB of long-lived objects; every full collection walked all of
    them and stopped the event loop for 50-100 ms, which made the p99 latency under load
    (docs/benchmarks.md). Frozen, they are still freed by reference counting; collections then
    walk only what requests create. Called once per worker process, after the app is built.
    """
    gc.collect()
    gc.freeze()
