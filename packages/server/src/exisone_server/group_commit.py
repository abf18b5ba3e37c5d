"""Group commit for SQLite: the write transactions that arrive together share one commit.

With ``synchronous=FULL`` a commit costs an fsync (milliseconds on most disks) while the work
of an activation costs far less, so one commit per write transaction made that fsync the
ceiling of every write path. Instead, the writes a process has waiting run one after another,
each in a SAVEPOINT of ONE transaction, which is then committed once:

* each caller keeps a transaction of its own: its block runs in a savepoint; an exception
  rolls back to it and reaches the caller, and the others go on;
* each caller's ``write()`` returns only after the commit that makes its rows durable, so it
  answers only then; a failed commit raises in every caller of the batch;
* the blocks run one at a time on the batch's connection, so a seat count sees the seats that
  the blocks before it took: every limit holds as it does with one transaction each.

A batch closes when no caller is waiting for its turn; the callers that arrive while it
commits form the next one, which takes the process's write turn (and, between processes, the
lock file of :mod:`.writer_lock`) once the commit released it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

__all__ = ["WriteBatches", "after_commit"]

#: ``AsyncSession.info`` key of a session that runs in a batch: the batch.
_BATCH = "exisone_write_batch"

Turn = Callable[[], AbstractAsyncContextManager[object]]


class _Batch:
    """One physical transaction and the callers sharing it."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        #: The batch's connection, in its transaction (or the error that kept it from one).
        self.ready: asyncio.Future[AsyncConnection] = loop.create_future()
        self.committed: asyncio.Future[None] = loop.create_future()
        for future in (self.ready, self.committed):  # every caller may be gone before them
            future.add_done_callback(_retrieve)
        self.turn = asyncio.Lock()  # the callers' blocks, one at a time, in arrival order
        self.members = 0  # callers that joined and have not left their block
        self.carried = 0  # blocks that ended without an error
        self.drained = asyncio.Event()  # the last caller left: commit
        self.committed_callbacks: list[Callable[[], None]] = []


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Call ``callback`` once the transaction ``session`` writes in is committed: its own, or
    the batch's it shares (a session's own commit is then only a savepoint's release)."""
    batch = session.info.get(_BATCH)
    if isinstance(batch, _Batch):
        batch.committed_callbacks.append(callback)
    else:
        event.listen(session.sync_session, "after_commit", lambda *_: callback(), once=True)


@asynccontextmanager
async def _holding(lock: asyncio.Lock) -> AsyncIterator[None]:
    """Release an already acquired lock when the block ends."""
    try:
        yield
    finally:
        lock.release()


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _as_error(exc: BaseException) -> Exception:
    return exc if isinstance(exc, Exception) else RuntimeError("the write batch was cancelled")


class WriteBatches:
    """The write batches of one engine in one process (see the module docstring).

    ``take_turn`` gives the process's turn to write, held from a batch's BEGIN to its COMMIT; a
    caller waits for its own turn in a batch at most ``wait_seconds()``, then gets ``locked()``
    (raised), as a transaction of its own would after SQLite's busy timeout.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        take_turn: Turn,
        *,
        wait_seconds: Callable[[], float],
        locked: Callable[[], Exception],
    ) -> None:
        self._engine = engine
        self._take_turn = take_turn
        self._wait_seconds = wait_seconds
        self._locked = locked
        self._open: _Batch | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        #: Batches committed, and the writes they carried (tests, statistics).
        self.batches = 0
        self.writes = 0

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed, with the batch's, before this block is left."""
        batch = self._open
        if batch is None:
            batch = self._open = _Batch()
            self._spawn(self._run(batch))
        batch.members += 1
        took_turn = False
        try:
            connection = await asyncio.shield(batch.ready)
            try:
                async with asyncio.timeout(self._wait_seconds()):
                    await batch.turn.acquire()
            except TimeoutError:
                raise self._locked() from None
            took_turn = True
            async with (
                _holding(batch.turn),
                AsyncSession(
                    bind=connection,
                    join_transaction_mode="create_savepoint",
                    expire_on_commit=False,
                    autoflush=False,
                    info={_BATCH: batch},
                ) as session,
                session.begin(),  # a SAVEPOINT: released on success, rolled back on error
            ):
                yield session
        except BaseException:
            self._leave(batch)
            if took_turn:  # its savepoint is gone; the batch ends before this caller does
                await asyncio.wait([batch.committed])
            raise
        batch.carried += 1
        self._leave(batch)
        await asyncio.shield(batch.committed)

    def _leave(self, batch: _Batch) -> None:
        batch.members -= 1
        if batch.members == 0:
            if self._open is batch:
                self._open = None  # later callers form the next batch
            batch.drained.set()

    async def _run(self, batch: _Batch) -> None:
        """Take the turn, BEGIN (IMMEDIATE), serve the callers, COMMIT once they are done."""
        try:
            async with self._take_turn():
                connection = await self._engine.connect()
                try:
                    await connection.begin()
                    batch.ready.set_result(connection)
                    await batch.drained.wait()  # the callers take their turns
                    await connection.commit()
                finally:
                    await connection.close()
        except BaseException as exc:
            error = _as_error(exc)
            if not batch.ready.done():
                batch.ready.set_exception(error)
            batch.committed.set_exception(error)
            if self._open is batch:
                self._open = None
            if not isinstance(exc, Exception):
                raise
        else:
            self.batches += 1
            self.writes += batch.carried
            batch.committed.set_result(None)
            for callback in batch.committed_callbacks:
                callback()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
