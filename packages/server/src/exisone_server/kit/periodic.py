"""A task that writes in-memory counts while the app runs: every few seconds, and at the end."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

__all__ = ["flushing"]

logger = logging.getLogger("exisone_server")


@asynccontextmanager
async def flushing(
    flush: Callable[[], Awaitable[None]], every: float, what: str
) -> AsyncIterator[None]:
    """Call ``flush`` every ``every`` seconds while the block runs, and once when it ends;
    a failure is logged ("could not write {what}") and the next call tries again."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await flush()
            except Exception:
                logger.exception("could not write %s", what)

    task = asyncio.create_task(loop(), name=f"exisone-flush {what}")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        try:
            await flush()
        except Exception:
            logger.exception("could not write %s at shutdown", what)
