"""The rows validate reads, kept in the process while the database has not changed.

A repeat validation (the same token, key and device) needs the same rows: the token's, and the
key's license, product, seat and features. :class:`RowCache` keeps them, tagged with the
database's *change mark* at the moment they were read; every validation reads the current mark
first (after the request arrived) and uses the kept rows only when the mark is still theirs, so
a write committed by any connection of any process before the request is seen by it. The
SQLite reader's mark changes with every commit to the file (:mod:`.wal_mark`, or
``PRAGMA data_version``). PostgreSQL keeps nothing: a mark there is a round trip, as the read
it would save is (docs/design.md).

The kept things are rows, never answers: the rules (expiry against the clock, a revoked or
expired token, the product, the version) run on every validation, so time passing needs no
write to be seen. Any change clears everything (the rows of one write are not worked out), and
at most :data:`MAX_ENTRIES` validations' rows are kept (the oldest go first).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["MAX_ENTRIES", "RowCache"]

#: Validations whose rows a process keeps (a few hundred bytes each).
MAX_ENTRIES = 20_000

Rows = TypeVar("Rows")


class RowCache(Generic[Rows]):
    """Rows by request key, valid for one change mark (see the module docstring);
    ``max_entries=0`` keeps nothing."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._max_entries = max_entries
        self._mark: Hashable = None
        self._rows: dict[Hashable, Rows] = {}
        #: Lookups answered from the cache, and those that read (tests, statistics).
        self.hits = 0
        self.misses = 0

    def get(self, mark: Hashable, key: Hashable) -> Rows | None:
        """The rows kept for ``key`` if the database's current ``mark`` is theirs."""
        if mark != self._mark:
            self._rows.clear()
            self._mark = mark
        rows = self._rows.get(key)
        if rows is None:
            self.misses += 1
        else:
            self.hits += 1
        return rows

    def put(self, mark: Hashable, key: Hashable, rows: Rows) -> None:
        """Keep ``rows``, read after the change mark ``mark`` was (so at least as new as it);
        rows read under a mark that is no longer the latest one seen are not kept."""
        if mark != self._mark or self._max_entries <= 0:
            return
        if len(self._rows) >= self._max_entries:
            del self._rows[next(iter(self._rows))]
        self._rows[key] = rows

    def clear(self) -> None:
        self._rows.clear()
        self._mark = None
