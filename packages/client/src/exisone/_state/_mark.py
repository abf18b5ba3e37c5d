"""The high-water mark of trusted time: the newest signed server time or code issue time seen.

A local clock behind it by more than a tolerance has been turned back (or is badly wrong).
The mark only moves forward. It holds only times that came signed, so it cannot be pushed
forward by a forged answer; deleting the file loses what it knew (records and codes still
carry their own signed times).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .._dates import format_datetime, parse_datetime
from ._store import StateDir

__all__ = ["TimeMark"]

_FOLDER = "clock"
_NAME = "trusted-time.json"


class TimeMark:
    def __init__(self, store: StateDir) -> None:
        self._store = store
        self._path = store.path(_FOLDER, _NAME)

    def load(self) -> datetime | None:
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
        current = self.load()
        if current is None or trusted > current:
            self._store.write(self._path, {"trustedTime": format_datetime(trusted)})


def rolled_back(
    now: datetime, trusted: list[datetime | None], tolerance: timedelta
) -> datetime | None:
    """The newest trusted time if ``now`` is behind it by more than ``tolerance``, else None."""
    known = [moment for moment in trusted if moment is not None]
    if not known:
        return None
    newest = max(known)
    return newest if now < newest - tolerance else None
