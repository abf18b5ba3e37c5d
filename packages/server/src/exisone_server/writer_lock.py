"""Turns to write one SQLite file among the server's worker processes: an ``flock`` beside it.

SQLite's busy handler sleeps in growing steps (up to 100 ms) while the process that just
committed takes the lock again at once, so with two workers one of them could wait seconds.
A process blocked in ``flock`` is woken when the lock is released instead.

A free lock is taken at once on the event loop (a non-blocking ``flock``); only a lock held by
another process is waited for, in a daemon thread (the event loop keeps serving, and a worker
that exits is never held back by it). A wait given up on timeout closes its file, and so drops
the lock, in that thread as soon as it gets the lock: a file is closed only once ``flock``
returned.
The lock file takes the database file's mode and owner, as SQLite's own ``-wal`` and
``-shm`` files do; when it cannot be opened (a read-only folder, another owner), the write
goes ahead without it and SQLite's busy handler alone orders the processes, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading

if sys.platform != "win32":  # POSIX; elsewhere no WriterLockFile is made
    import fcntl

__all__ = ["HeldTurn", "WriterLockFile"]

logger = logging.getLogger(__name__)


class WriterLockFile:
    """The lock file ``<database>-writer.lock`` of one SQLite database file (POSIX only)."""

    def __init__(self, database_path: str) -> None:
        self.database_path = database_path
        self.path = f"{database_path}-writer.lock"
        self._warned = False

    async def acquire(self) -> int | None:
        """Wait for this process's turn; return the descriptor that holds the lock (give it
        to :meth:`release`), or None when the lock file cannot be used."""
        fd = self._open()
        if fd is None:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd  # free: no thread needed (starting one costs the loop a context switch)
        except BlockingIOError:
            pass  # another process writes: wait for its turn in a thread
        except OSError as error:
            os.close(fd)
            self._cannot(error)
            return None
        wait = _Wait(fd)
        try:
            await wait.start()
        except OSError as error:  # flock failed; the thread closed the file
            self._cannot(error)
            return None
        except BaseException:
            wait.abandon()
            raise
        return fd

    def _open(self) -> int | None:
        try:
            return os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return self._create()
        except OSError as error:
            self._cannot(error)
            return None

    def _create(self) -> int | None:
        """Create the lock file with the database file's mode and owner."""
        try:
            database = os.stat(self.database_path)
            flags = os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC
            fd = os.open(self.path, flags, database.st_mode & 0o666)
        except OSError as error:
            self._cannot(error)
            return None
        try:
            if os.geteuid() == 0:
                os.fchown(fd, database.st_uid, database.st_gid)
        except OSError as error:
            logger.warning("could not give %s the database's owner: %s", self.path, error)
        return fd

    def _cannot(self, error: OSError) -> None:
        if not self._warned:
            self._warned = True
            logger.warning(
                "SQLite writer lock file %s not usable (%s): worker processes take turns "
                "through SQLite's busy handler only",
                self.path,
                error,
            )


class HeldTurn:
    """A process's turn to write, held through the descriptor :meth:`WriterLockFile.acquire`
    returned (None: no lock file). Dropped once, by whichever thread comes first: the
    connection's thread right after COMMIT, so that another process need not wait for this
    one's event loop to wake, or the holder when its block ends."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd
        self._once = threading.Lock()

    def drop(self) -> None:
        with self._once:
            fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):  # after a COMMIT: the write stands regardless
                os.close(fd)  # closing the file drops its lock


class _Wait:
    """One wait for the lock, in a daemon thread; whoever comes second closes the file."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._state = threading.Lock()
        self._held = False
        self._abandoned = False

    def start(self) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        thread = threading.Thread(
            target=self._run, args=(loop, done), name="sqlite-writer-turn", daemon=True
        )
        thread.start()
        return done

    def abandon(self) -> None:
        """The waiter gave up (timeout, cancellation): drop the lock now if it came, else the
        thread drops it when it comes."""
        with self._state:
            self._abandoned = True
            if self._held:
                os.close(self._fd)

    def _run(self, loop: asyncio.AbstractEventLoop, done: asyncio.Future[None]) -> None:
        error: BaseException | None = None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except OSError as exc:
            error = exc
        with self._state:
            if error is not None or self._abandoned:
                os.close(self._fd)
            else:
                self._held = True
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_settle, done, error)


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():  # cancelled: abandon() already took care of the file
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
