"""Borrowed leases: the signed lease token of a floating seat checked out for offline use,
one file per server, machine and product, kept until returned or replaced.

The token is what the application checks while offline; it is signed, so an edited file is
worth nothing. Without a state directory the token is kept for the client object's lifetime.
"""

from __future__ import annotations

import logging

from ._store import StateDir, file_name

__all__ = ["BorrowedLeases"]

logger = logging.getLogger("exisone")

_FOLDER = "borrowed-leases"


class BorrowedLeases:
    """Lease tokens of ``base_url`` by hardware ID and product."""

    def __init__(self, store: StateDir | None, base_url: str) -> None:
        self._store = store
        self._base_url = base_url
        self._memory: dict[str, dict[str, str]] = {}

    def _name(self, hardware_id: str, product_name: str) -> str:
        return file_name(
            "borrowed", self._base_url, hardware_id.strip().upper(), product_name.strip().casefold()
        )

    def save(self, hardware_id: str, product_name: str, lease_id: str, token: str) -> None:
        name = self._name(hardware_id, product_name)
        data = {"baseUrl": self._base_url, "leaseId": lease_id, "leaseToken": token}
        self._memory[name] = data
        if self._store is not None:
            try:
                self._store.write(self._store.path(_FOLDER, name), dict(data))
            except OSError as error:
                logger.warning("borrowed lease not saved: %s", error)

    def _load(self, hardware_id: str, product_name: str) -> dict[str, str] | None:
        name = self._name(hardware_id, product_name)
        if name in self._memory:
            return self._memory[name]
        if self._store is None:
            return None
        data = self._store.read(self._store.path(_FOLDER, name))
        if not data or data.get("baseUrl") != self._base_url:
            return None
        lease_id, token = data.get("leaseId"), data.get("leaseToken")
        if not isinstance(lease_id, str) or not isinstance(token, str):
            return None
        return {"leaseId": lease_id, "leaseToken": token}

    def token(self, hardware_id: str, product_name: str) -> str | None:
        data = self._load(hardware_id, product_name)
        return data["leaseToken"] if data else None

    def lease_id(self, hardware_id: str, product_name: str) -> str | None:
        data = self._load(hardware_id, product_name)
        return data["leaseId"] if data else None

    def remove(self, hardware_id: str, product_name: str) -> None:
        name = self._name(hardware_id, product_name)
        self._memory.pop(name, None)
        if self._store is not None:
            self._store.remove(self._store.path(_FOLDER, name))
