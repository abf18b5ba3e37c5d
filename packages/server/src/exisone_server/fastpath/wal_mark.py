"""SQLite's change mark without a statement: the WAL-index header, read from shared memory.

Every connection to a WAL database shares the ``<db>-shm`` file, whose first bytes are the
WAL-index header: a writer rewrites it in every commit (its ``iChange`` counter goes up by one
each time, with the last frame and the salts) before the commit returns. Mapped read-only, the
header is a memory read of a few bytes, where ``PRAGMA data_version`` starts a read transaction
(two ``fcntl`` calls and a ``stat``) and lets go of the GIL around it, which under load cost a
tenth of a worker's time. The layout is SQLite's WAL-index format (``walformat.html``), shared
by every SQLite version that opens the file; :func:`wal_header_mark` refuses a file that does
not start with it, and the reader then keeps ``PRAGMA data_version``.

The mapping is only read while the fast path's own connection is open: that connection holds
SQLite's shared lock on the ``-shm`` file, so no other connection can remove or reset it. A
process maps each ``-shm`` file once and never closes that descriptor while the file is in use:
closing any descriptor of a file drops every POSIX lock the process holds on it, those of the
process's SQLite connections included. A mapping is made again when the file was replaced (a
new inode, after every connection to the database had closed).
"""

from __future__ import annotations

import mmap
import os
import sys

__all__ = ["WalHeaderMark", "wal_header_mark"]

#: ``iVersion`` of the WAL-index header (every SQLite since 3.7.0).
WAL_INDEX_VERSION = 3007000
#: The first copy of the header: iVersion, padding, iChange, isInit, ..., salts, checksums.
HEADER_BYTES = 48


class WalHeaderMark:
    """The current WAL-index header of one database, as bytes (the change mark)."""

    def __init__(self, descriptor: int, mapping: mmap.mmap) -> None:
        self.descriptor = descriptor
        self._mapping = mapping

    def __call__(self) -> bytes:
        return self._mapping[:HEADER_BYTES]

    def release(self) -> None:
        """Unmap and close: only for a file no connection uses any more (replaced)."""
        self._mapping.close()
        os.close(self.descriptor)


#: The process's mapping of each -shm file, by path.
_MARKS: dict[str, WalHeaderMark] = {}


def wal_header_mark(database_path: str) -> WalHeaderMark | None:
    """The mark of the WAL database at ``database_path`` once a connection of this process has
    read it (so its ``-shm`` file exists and is held); None when it cannot be read that way."""
    if sys.platform == "win32":
        return None
    path = os.path.realpath(f"{database_path}-shm")
    known = _MARKS.get(path)
    try:
        current = os.stat(path)
    except OSError:
        return None
    if known is not None:
        if os.fstat(known.descriptor).st_ino == current.st_ino:
            return known
        del _MARKS[path]
        known.release()  # a file gone with every connection to it: no lock of ours on it
    mark = _map(path)
    if mark is not None:
        _MARKS[path] = mark
    return mark


def _map(path: str) -> WalHeaderMark | None:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        mapping = mmap.mmap(descriptor, HEADER_BYTES, prot=mmap.PROT_READ)
    except (OSError, ValueError):
        os.close(descriptor)
        return None
    header = mapping[:HEADER_BYTES]
    version = int.from_bytes(header[0:4], sys.byteorder)
    initialised = header[12] == 1
    if version != WAL_INDEX_VERSION or not initialised:
        mapping.close()
        os.close(descriptor)
        return None
    return WalHeaderMark(descriptor, mapping)
