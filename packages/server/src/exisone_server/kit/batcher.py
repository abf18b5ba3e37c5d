"""Calls of one process written together: each that arrives while a batch is being written
waits for the next batch, and is answered once its batch is done.

At low load a batch is a single call, written at once; under load one write (one transaction,
one commit) serves many calls. The consumes of API keys (:mod:`..api_keys.batcher`) and the
lease checkouts and heartbeats (:mod:`..licenses.lease_batches`) are written this way.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

__all__ = ["Batcher", "retried"]

Call = TypeVar("Call")
Outcome = TypeVar("Outcome")
T = TypeVar("T")


async def retried(
    write: Callable[[], Awaitable[T]], *, again: Callable[[Exception], bool], attempts: int = 3
) -> T:
    """``write()``, run again (up to ``attempts`` times in all) while it fails with an error
    ``again`` accepts: a batch decided on rows that changed meanwhile, a broken deadlock."""
    for _ in range(1, attempts):
        try:
            return await write()
        except Exception as exc:
            if not again(exc):
                raise
    return await write()


class Batcher(Generic[Call, Outcome]):
    """Runs ``write(calls) -> outcomes`` (one outcome per call, in order) on the waiting calls,
    at most ``max_batch`` at a time, one batch after the other. A batch that raises fails each
    of its calls with the error."""

    def __init__(
        self,
        write: Callable[[list[Call]], Awaitable[list[Outcome]]],
        *,
        max_batch: int,
        name: str,
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._name = name
        self._waiting: list[tuple[Call, asyncio.Future[Outcome]]] = []
        self._writer: asyncio.Task[None] | None = None
        #: Batches written so far, and the calls they held (tests, statistics).
        self.batches = 0
        self.batched = 0

    async def submit(self, call: Call) -> Outcome:
        """``call``'s outcome, once the batch holding it is written.

        A caller that goes away (cancelled) does not take its call out of a batch that is
        already being written.
        """
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Outcome] = loop.create_future()
        answer.add_done_callback(_retrieve)
        self._waiting.append((call, answer))
        if self._writer is None:
            # A context of its own: the writer outlives the request that started it, whose
            # context (its failed-lookup ledger, its audit actor) is no other call's.
            self._writer = loop.create_task(
                self._write_batches(), name=self._name, context=contextvars.Context()
            )
        return await asyncio.shield(answer)

    async def _write_batches(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                try:
                    outcomes = await self._write([call for call, _ in batch])
                    if len(outcomes) != len(batch):
                        raise RuntimeError(f"{len(outcomes)} outcomes for {len(batch)} calls")
                except Exception as exc:
                    _fail(batch, exc)
                    continue
                except BaseException:  # cancelled: the worker shuts down
                    _fail(batch, RuntimeError(f"the {self._name} writer stopped"))
                    raise
                self.batches += 1
                self.batched += len(batch)
                for (_, answer), outcome in zip(batch, outcomes, strict=True):
                    if not answer.done():
                        answer.set_result(outcome)
        finally:
            self._writer = None
            waiting, self._waiting = self._waiting, []
            _fail(waiting, RuntimeError(f"the {self._name} writer stopped"))  # cancelled only


def _retrieve(answer: asyncio.Future[Any]) -> None:
    """Mark a failed call's error as seen: its caller may have gone away (cancelled)."""
    if not answer.cancelled():
        answer.exception()


def _fail(batch: list[tuple[Call, asyncio.Future[Outcome]]], error: BaseException) -> None:
    for _, answer in batch:
        if not answer.done():
            answer.set_exception(error)
