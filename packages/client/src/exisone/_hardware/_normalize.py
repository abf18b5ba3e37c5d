"""Checks and canonical forms for the identifiers the stable ID is built from."""

from __future__ import annotations

import re

__all__ = ["machine_id", "uuid_text"]

_MACHINE_ID = re.compile(r"[0-9a-f]{32}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Values firmware vendors ship when they leave the field unset: shared by many machines.
_PLACEHOLDER_UUIDS = frozenset(
    {
        "00000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "03000200-0400-0500-0006-000700080009",
    }
)


def machine_id(text: str | None) -> str | None:
    """A systemd/D-Bus machine ID (32 hex digits) in lower case, or None.

    Surrounding white space and newlines are ignored; an empty file, ``uninitialized`` (systemd's
    first-boot marker) or an all-zero value is not an identifier.
    """
    if text is None:
        return None
    value = text.strip().lower()
    if not _MACHINE_ID.fullmatch(value) or value == "0" * 32:
        return None
    return value


def uuid_text(text: str | None) -> str | None:
    """A textual UUID in lower case (``8-4-4-4-12`` hex), or None if absent or a placeholder."""
    if text is None:
        return None
    value = text.strip().lower()
    if not _UUID.fullmatch(value) or value in _PLACEHOLDER_UUIDS:
        return None
    return value
