"""Offline codes the server withdrew on this machine.

When validate_smart checks a valid offline code, it tells the server in the background; the
server answers ``invalid`` once the publisher released the seat the code was issued for (or
revoked or suspended its license) and ``expired`` when it moved the expiry back. That answer is
kept here, one small file per code and machine, so that validate_smart refuses the code from
then on, also offline, until a later check of the server says ``licensed`` again. The time of
the last ``licensed`` answer is kept too: a code with ``checkInDays`` needs one that recent.
Without a state directory the facts are kept for the client object's lifetime only.
"""

from __future__ import annotations

import logging
from datetime import datetime

from .._dates import format_datetime, parse_datetime
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
        self._confirmed: dict[str, datetime | None] = {}

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

    def confirmed(self, code: str, hardware_id: str) -> datetime | None:
        """When the server last answered ``licensed`` for the code here, if it did."""
        name = self._name(code, hardware_id)
        if name in self._confirmed:
            return self._confirmed[name]
        moment = None
        if self._store is not None:
            data = self._store.read(self._store.path(_FOLDER, name))
            found = data.get("confirmedAt") if data else None
            try:
                moment = parse_datetime(found) if isinstance(found, str) else None
            except ValueError:
                moment = None
        self._confirmed[name] = moment
        return moment

    def note(self, code: str, hardware_id: str, status: str, now: datetime | None = None) -> None:
        """Keep the server's answer for the code: withdrawn, or accepted again (at ``now``)."""
        withdrawn = status if status in WITHDRAWING else None
        name = self._name(code, hardware_id)
        confirmed = now if withdrawn is None and status == "licensed" else None
        if self._memory.get(name, "?") == withdrawn and confirmed is None:
            return
        if self._store is not None:
            path = self._store.path(_FOLDER, name)
            data: dict[str, str] = {"baseUrl": self._base_url}
            if withdrawn is not None:
                data["status"] = withdrawn
            if confirmed is not None:
                data["confirmedAt"] = format_datetime(confirmed)
            try:
                if len(data) == 1:
                    self._store.remove(path)
                else:
                    self._store.write(path, data)
            except OSError as error:
                logger.debug("withdrawn offline code not saved: %s", error)
        self._memory[name] = withdrawn
        if confirmed is not None or withdrawn is not None:
            self._confirmed[name] = confirmed
