"""ASGI entry point for servers: ``uvicorn --factory exisone_server.asgi:app_from_env``."""

from __future__ import annotations

import logging

from .app import ExisOneApp, create_app
from .config import Settings

__all__ = ["app_from_env"]


def app_from_env() -> ExisOneApp:
    """The app configured from ``EXISONE_*`` environment variables; logs to stderr."""
    logger = logging.getLogger("exisone_server")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return create_app(Settings.from_env())
