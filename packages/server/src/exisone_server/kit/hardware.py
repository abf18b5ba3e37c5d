"""Hardware IDs are opaque strings compared case-insensitively (as the offline check does)."""

from __future__ import annotations

__all__ = ["MAX_HARDWARE_ID_LENGTH", "normalize_hardware_id"]

#: Longer IDs are refused with 400 (a SHA-256 hex ID has 64 characters, a UUID 36).
MAX_HARDWARE_ID_LENGTH = 256


def normalize_hardware_id(hardware_id: str) -> str:
    """The stored and compared form: surrounding whitespace removed, upper case."""
    return hardware_id.strip().upper()
