"""ASGI entry point: ``granian --interface asgi --factory exisone_server.asgi:app_from_env``."""

from __future__ import annotations

import gc
import logging

from .app import ExisOneApp, create_app
from .config import Settings
from .kit.log_format import formatter, log_format_from_env

__all__ = ["app_from_env", "configure_logging", "freeze_startup_heap"]


def configure_logging() -> None:
    """Unless it was configured already, the ``exisone_server`` logger writes to stderr at INFO,
    one line per record, in ``EXISONE_LOG_FORMAT`` (:mod:`.kit.log_format`): text (control
    characters escaped, tracebacks behind ``| ``) or JSON."""
    logger = logging.getLogger("exisone_server")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(formatter(log_format_from_env()))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def app_from_env() -> ExisOneApp:
    """The app configured from ``EXISONE_*`` environment variables, logging as
    :func:`configure_logging` says."""
    configure_logging()
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
