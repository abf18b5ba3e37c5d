"""Deactivations that could not reach the server, kept until the server has them.

One file per (server, key, machine): recording the same deactivation twice keeps one entry.
An entry is removed only after the server answered 2xx (a repeated deactivation is a success
on exisone-server) or refused it for good (4xx other than 401/403/408/429): exactly once in
effect. Two processes may both deliver an entry; the server treats the second as done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .._dates import format_datetime
from ._store import StateDir, file_name

__all__ = ["Outbox", "OutboxEntry"]

_FOLDER = "outbox"


@dataclass(frozen=True)
class OutboxEntry:
    path: Path
    license_key: str
    hardware_id: str
    product_name: str


class Outbox:
    def __init__(self, store: StateDir, base_url: str) -> None:
        self._store = store
        self._base_url = base_url

    def _path(self, license_key: str, hardware_id: str) -> Path:
        name = file_name("outbox", self._base_url, license_key.strip(), hardware_id.strip())
        return self._store.path(_FOLDER, name)

    def add(self, license_key: str, hardware_id: str, product_name: str, now: datetime) -> None:
        self._store.write(
            self._path(license_key, hardware_id),
            {
                "baseUrl": self._base_url,
                "licenseKey": license_key,
                "hardwareId": hardware_id,
                "productName": product_name,
                "createdAt": format_datetime(now),
            },
        )

    def discard(self, license_key: str, hardware_id: str) -> None:
        """Drop a pending deactivation (the key was activated again on this machine)."""
        self._store.remove(self._path(license_key, hardware_id))

    def pending(self) -> list[OutboxEntry]:
        """This server's entries, oldest file name order (stable)."""
        entries = []
        for path in self._store.files(_FOLDER):
            data = self._store.read(path)
            if not data or data.get("baseUrl") != self._base_url:
                continue
            key, hwid, product = (
                data.get("licenseKey"),
                data.get("hardwareId"),
                data.get("productName"),
            )
            if isinstance(key, str) and isinstance(hwid, str) and isinstance(product, str):
                entries.append(OutboxEntry(path, key, hwid, product))
        return entries

    def done(self, entry: OutboxEntry) -> None:
        self._store.remove(entry.path)
