"""The high-water mark of trusted time: the newest signed server time or code issue time seen.

A local clock behind it by more than a tolerance has been turned back (or is badly wrong).
The mark only moves forward. It holds only times that came signed, so it cannot be pushed
forward by a forged answer; deleting the file loses what it knew (records and codes still
carry their own signed times).
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta

from .._dates import format_datetime, parse_datetime
from ._store import StateDir

__all__ = ["TimeMark"]

#: How long a loaded mark is used before the file is looked at again (another process may
#: have moved it forward).
RECHECK_SECONDS = 1.0
_FOLDER = "clock"
_NAME = "trusted-time.json"


class TimeMark:
    """The mark's file. :meth:`load` looks at the file at most every :data:`RECHECK_SECONDS`
    (a ``stat``) and reads it only when it changed; :meth:`advance` always reads it afresh."""

    def __init__(self, store: StateDir) -> None:
        self._store = store
        self._path = store.path(_FOLDER, _NAME)
        self._loaded: tuple[tuple[int, int, int], datetime | None] | None = None
        self._checked = 0.0

    def load(self) -> datetime | None:
        now = time.monotonic()
        if self._loaded is not None and now - self._checked < RECHECK_SECONDS:
            return self._loaded[1]
        self._checked = now
        try:
            info = os.stat(self._path)
        except OSError:
            self._loaded = ((0, 0, 0), None)  # no mark yet
            return None
        version = (info.st_mtime_ns, info.st_size, info.st_ino)
        if self._loaded is not None and self._loaded[0] == version:
            return self._loaded[1]
        value = self._read()
        self._loaded = (version, value)
        return value

    def _read(self) -> datetime | None:
        data = self._store.read(self._path)
        value = data.get("trustedTime") if data else None
        if not isinstance(value, str):
            return None
        try:
            return parse_datetime(value)
        except ValueError:
            return None

    def advance(self, trusted: datetime) -> None:
        """Move the mark to ``trusted`` if that is later than the stored mark."""
        current = self._read()
        if current is None or trusted > current:
            self._store.write(self._path, {"trustedTime": format_datetime(trusted)})
            self._loaded = None  # the next load reads what was written


def rolled_back(
    now: datetime, trusted: list[datetime | None], tolerance: timedelta
) -> datetime | None:
    """The newest trusted time if ``now`` is behind it by more than ``tolerance``, else None."""
    newest = None
    for moment in trusted:  # a plain loop: this runs on every offline check
        if moment is not None and (newest is None or moment > newest):
            newest = moment
    return newest if newest is not None and now < newest - tolerance else None
