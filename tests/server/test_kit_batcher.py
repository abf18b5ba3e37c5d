"""kit/batcher.py: calls that wait together are written as one batch, each gets its own outcome,
a failed batch fails its calls only, and the writer runs in a context of its own."""

from __future__ import annotations

import asyncio
import contextvars
import gc
from typing import Any

import pytest

from exisone_server.kit.batcher import Batcher, retried

_CALLER: contextvars.ContextVar[str] = contextvars.ContextVar("caller", default="none")


async def test_calls_that_wait_together_share_a_batch_in_order() -> None:
    written: list[list[int]] = []

    async def write(calls: list[int]) -> list[int]:
        written.append(calls)
        await asyncio.sleep(0.01)
        return [call * 10 for call in calls]

    batcher: Batcher[int, int] = Batcher(write, max_batch=3, name="test")
    outcomes = await asyncio.gather(*(batcher.submit(n) for n in range(7)))

    assert outcomes == [n * 10 for n in range(7)]
    assert [call for batch in written for call in batch] == list(range(7))
    assert [len(batch) for batch in written] == [3, 3, 1]  # all waited for the first write
    assert (batcher.batches, batcher.batched) == (3, 7)


async def test_a_failed_batch_fails_its_calls_and_the_next_batch_runs() -> None:
    async def write(calls: list[int]) -> list[int]:
        await asyncio.sleep(0)
        if 0 in calls:
            raise OSError("disk gone")
        if 1 in calls:
            return []  # a writer bug: fewer outcomes than calls
        return calls

    batcher: Batcher[int, int] = Batcher(write, max_batch=1, name="test")
    answers = await asyncio.gather(*(batcher.submit(n) for n in (0, 1, 2)), return_exceptions=True)

    assert isinstance(answers[0], OSError)
    assert isinstance(answers[1], RuntimeError) and "0 outcomes for 1 calls" in str(answers[1])
    assert answers[2] == 2


async def test_the_writer_does_not_run_in_the_first_caller_s_context() -> None:
    seen: list[str] = []

    async def write(calls: list[str]) -> list[str]:
        seen.append(_CALLER.get())
        return calls

    batcher: Batcher[str, str] = Batcher(write, max_batch=8, name="test")

    async def as_caller(name: str) -> str:
        _CALLER.set(name)
        return await batcher.submit(name)

    assert await asyncio.gather(as_caller("a"), as_caller("b")) == ["a", "b"]
    assert seen and set(seen) == {"none"}


async def test_a_caller_that_went_away_leaves_no_unretrieved_error() -> None:
    reported: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: reported.append(context))
    release = asyncio.Event()

    async def write(calls: list[int]) -> list[int]:
        await release.wait()
        raise OSError("disk gone")

    batcher: Batcher[int, int] = Batcher(write, max_batch=8, name="test")
    gone = asyncio.create_task(batcher.submit(1))
    await asyncio.sleep(0)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    release.set()
    for _ in range(5):
        await asyncio.sleep(0)
    gc.collect()
    await asyncio.sleep(0)
    loop.set_exception_handler(None)
    assert not reported


async def test_retried_runs_again_only_what_it_is_told_to() -> None:
    attempts = 0

    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise LookupError("stale")
        return "done"

    assert await retried(flaky, again=lambda exc: isinstance(exc, LookupError)) == "done"
    assert attempts == 3
    attempts = -10
    with pytest.raises(LookupError):
        await retried(flaky, again=lambda exc: isinstance(exc, LookupError), attempts=2)
    assert attempts == -8
    with pytest.raises(LookupError):
        await retried(flaky, again=lambda exc: False)
    assert attempts == -7
