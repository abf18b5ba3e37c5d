"""Background workers of an outbox: the polling loop, start/stop, and the app lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from litestar import Litestar

from .outbox import CommitSignal

__all__ = ["PollingWorker", "worker_lifespan"]


class PollingWorker:
    """Runs :meth:`run_once` until it claims fewer than ``batch`` rows, then waits for a commit
    of new rows (:class:`CommitSignal`) or ``poll_seconds``; :meth:`scan` every
    ``scan_seconds``. Errors are logged and the loop goes on. Subclasses set the hooks."""

    #: Rows claimed per :meth:`run_once`; a full batch means: look again at once.
    batch = 20
    #: Task name and log text.
    label = "worker"

    def __init__(
        self,
        signal: CommitSignal,
        *,
        poll_seconds: float,
        scan_seconds: float,
        logger: logging.Logger,
    ) -> None:
        self._signal = signal
        self._poll_seconds = poll_seconds
        self._scan_seconds = scan_seconds
        self._logger = logger
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_scan = float("-inf")

    async def run_once(self) -> int:
        raise NotImplementedError

    async def scan(self) -> None:
        """The periodic job (time-based rows)."""

    async def run(self) -> None:
        """Poll until cancelled."""
        remove = self._signal.listen(self._wake.set)
        try:
            while True:
                try:
                    if time.monotonic() - self._last_scan >= self._scan_seconds:
                        self._last_scan = time.monotonic()
                        await self.scan()
                    while await self.run_once() >= self.batch:
                        pass
                except Exception:
                    self._logger.exception("%s step failed", self.label)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
        finally:
            remove()

    def start(self) -> None:
        if self._task is None:
            name = f"exisone-{self.label.replace(' ', '-')}"
            self._task = asyncio.create_task(self.run(), name=name)

    async def stop(self) -> None:
        """Cancel the loop where it waits or works (a row it had claimed is claimed again once
        its lock expires) and wait for it to end."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            self._logger.info("%s stopped", self.label)


def worker_lifespan(
    make: Callable[[], PollingWorker | None],
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """A Litestar lifespan running the worker ``make()`` returns on startup (None: no worker)."""

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        worker = make()
        if worker is None:
            yield
            return
        worker.start()
        try:
            yield
        finally:
            await worker.stop()

    return lifespan
