"""Shared pieces of the ``exisone-server`` sub-commands."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from ..config import Settings
from ..crypto.master_key import MasterKey, load_master_key
from ..db import Database
from ..errors import ApiError

__all__ = ["run_with_database", "run_with_settings", "tenant_option"]

T = TypeVar("T")


def run_with_database(
    context: click.Context, work: Callable[[Database, MasterKey], Awaitable[T]]
) -> T:
    """:func:`run_with_settings` with the command's settings (``context.obj``)."""
    settings: Settings = context.obj
    return run_with_settings(settings, work)


def run_with_settings(settings: Settings, work: Callable[[Database, MasterKey], Awaitable[T]]) -> T:
    """Run ``work`` with a database of ``settings`` and the master key, then dispose of the
    engine; an :class:`ApiError` becomes the command's error message."""
    try:
        master_key = load_master_key(settings)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc

    async def runner() -> T:
        database = Database.from_settings(settings)
        try:
            return await work(database, master_key)
        finally:
            await database.dispose()

    try:
        return asyncio.run(runner())
    except ApiError as exc:
        raise click.ClickException(exc.message) from exc


def tenant_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--tenant T`` (id or name), required."""
    return click.option("--tenant", "tenant_ref", required=True, help="Tenant id or name.")(
        function
    )
