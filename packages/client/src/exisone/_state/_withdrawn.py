"""Offline codes the server withdrew on this machine.

When validate_smart checks a valid offline code, it tells the server in the background; the
server answers ``invalid`` once the publisher released the seat the code was issued for (or
revoked or suspended its license) and ``expired`` when it moved the expiry back. That answer is
kept here, one small file per code and machine, so that validate_smart refuses the code from
then on, also offline, until a later check of the server says ``licensed`` again. Without a
state directory the fact is kept for the client object's lifetime only.
"""

from __future__ import annotations

import logging

from ._store import StateDir, file_name

__all__ = ["WithdrawnCodes"]

logger = logging.getLogger("exisone")

_FOLDER = "withdrawn-codes"
#: The server's statuses that withdraw a code that checks locally.
WITHDRAWING = frozenset({"invalid", "expired"})


class WithdrawnCodes:
    """The server's last word on offline codes of ``base_url``, by code and hardware ID."""

    def __init__(self, store: StateDir | None, base_url: str) -> None:
        self._store = store
        self._base_url = base_url
        self._memory: dict[str, str | None] = {}

    def _name(self, code: str, hardware_id: str) -> str:
        return file_name(self._base_url, code.strip(), hardware_id.strip().upper())

    def status(self, code: str, hardware_id: str) -> str | None:
        """``invalid`` / ``expired`` when the server withdrew the code here, else None."""
        name = self._name(code, hardware_id)
        if name in self._memory:
            return self._memory[name]
        status = None
        if self._store is not None:
            data = self._store.read(self._store.path(_FOLDER, name))
            found = data.get("status") if data else None
            status = found if found in WITHDRAWING else None
        self._memory[name] = status
        return status

    def note(self, code: str, hardware_id: str, status: str) -> None:
        """Keep the server's answer for the code: withdrawn, or accepted again."""
        withdrawn = status if status in WITHDRAWING else None
        name = self._name(code, hardware_id)
        if self._memory.get(name, "?") == withdrawn:
            return
        if self._store is not None:
            path = self._store.path(_FOLDER, name)
            try:
                if withdrawn is None:
                    self._store.remove(path)
                else:
                    self._store.write(path, {"baseUrl": self._base_url, "status": withdrawn})
            except OSError as error:
                logger.debug("withdrawn offline code not saved: %s", error)
        self._memory[name] = withdrawn
