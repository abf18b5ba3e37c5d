"""Servers known to sign their answers: once one has, an unsigned answer from it is refused.

One small file per server base URL and set of trusted keys (the key ids, sorted), written the
first time an answer from that server verifies with one of those keys, never removed by the
client. Without a state directory the fact is kept for the client object's lifetime only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from .._dates import format_datetime
from ._store import StateDir, file_name

__all__ = ["SigningServers"]

logger = logging.getLogger("exisone")

_FOLDER = "signing-servers"


class SigningServers:
    """Whether ``base_url`` (with these trusted keys) has answered signed before."""

    def __init__(self, store: StateDir | None, base_url: str, key_ids: Sequence[str]) -> None:
        self._store = store
        self._base_url = base_url
        self._key_ids = sorted(key_ids)
        self._known = False

    def _path(self, store: StateDir) -> Path:
        return store.path(_FOLDER, file_name(self._base_url, *self._key_ids))

    def known(self) -> bool:
        """True once an answer of this server verified (here or in an earlier run)."""
        if not self._known and self._store is not None:
            data = self._store.read(self._path(self._store))
            self._known = data is not None and data.get("baseUrl") == self._base_url
        return self._known

    def remember(self, moment: datetime) -> None:
        """Record that this server answered signed (once; an unwritable directory is logged)."""
        if self.known():
            return
        self._known = True
        if self._store is None:
            return
        record = {
            "baseUrl": self._base_url,
            "keyIds": self._key_ids,
            "since": format_datetime(moment),
        }
        try:
            self._store.write(self._path(self._store), record)
        except OSError as error:
            logger.debug("signing server not saved: %s", error)
