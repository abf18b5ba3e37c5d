"""Last-known-good records in the OS keyring (``use_keyring=True``; extra ``exisone[keyring]``).

The record is tamper-evident by its signature wherever it is kept; the keyring adds that other
users and casual copying do not see the license key inside it. The trusted-time mark and the
outbox stay in the state directory.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

__all__ = ["SERVICE", "KeyringRecords"]

#: The keyring service name the records are stored under (user name: ``<folder>/<file name>``).
SERVICE = "exisone"


class KeyringRecords:
    """The read/write/remove of :class:`~._store.StateDir`, on the OS keyring."""

    def __init__(self) -> None:
        import keyring  # the optional dependency, imported on first use

        self._keyring = keyring

    def path(self, folder: str, name: str) -> str:
        return f"{folder}/{name}"

    def read(self, path: str) -> dict[str, Any] | None:
        """The stored JSON object; ``None`` when missing, unreadable or the keyring fails."""
        try:
            text = self._keyring.get_password(SERVICE, path)
            data = json.loads(text) if text else None
        except (self._keyring.errors.KeyringError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write(self, path: str, data: dict[str, Any]) -> None:
        text = json.dumps(data, separators=(",", ":"), sort_keys=True)
        try:
            self._keyring.set_password(SERVICE, path, text)
        except self._keyring.errors.KeyringError as error:
            raise OSError(f"the OS keyring refused the record: {error}") from error

    def remove(self, path: str) -> None:
        # absent already (PasswordDeleteError), or the keyring is unavailable: nothing to remove
        with contextlib.suppress(self._keyring.errors.KeyringError):
            self._keyring.delete_password(SERVICE, path)
