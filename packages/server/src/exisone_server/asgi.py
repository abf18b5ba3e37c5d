"""ASGI entry point for servers: ``uvicorn --factory exisone_server.asgi:app_from_env``."""

from __future__ import annotations

from .app import ExisOneApp, create_app
from .config import Settings

__all__ = ["app_from_env"]


def app_from_env() -> ExisOneApp:
    """The app configured from ``EXISONE_*`` environment variables."""
    return create_app(Settings.from_env())
