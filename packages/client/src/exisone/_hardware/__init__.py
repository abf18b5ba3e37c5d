"""Hardware IDs: a stable per-machine ID (default) and the official 0.10.0 SDK's ID (``legacy``).

``generate_hardware_id()`` returns 64 upper-case hex characters, computed once per process and
mode, then served from memory. Importing this package reads no file and runs no command; the
per-OS modules are imported on first use. What goes into each mode, and why, is in
docs/hardware-id.md.
"""

from __future__ import annotations

import sys
import threading

from .._exceptions import ConfigurationError
from ._errors import HardwareIdError
from ._hashing import LEGACY_SALT, STABLE_SALT, legacy_hash, stable_hash

__all__ = [
    "HARDWARE_ID_MODES",
    "LEGACY_SALT",
    "STABLE_SALT",
    "HardwareIdError",
    "generate_hardware_id",
    "legacy_hash",
    "stable_hash",
]

HARDWARE_ID_MODES = ("stable", "legacy")

_cache: dict[str, str] = {}
_lock = threading.Lock()


def generate_hardware_id(mode: str = "stable") -> str:
    """This machine's hardware ID: 64 upper-case hex characters, cached per process and mode.

    ``"stable"`` hashes one OS-assigned machine identifier (Linux machine-id, macOS
    IOPlatformUUID, Windows MachineGuid) and nothing that changes with host name, kernel,
    Python, CPU count or network adapters. ``"legacy"`` reproduces exisone-client 0.10.0's ID
    for applications whose customers activated with it.

    Raises :class:`HardwareIdError` in stable mode when the machine has no readable identifier
    (typically a container); set ``hardware_id_override`` then. Raises
    :class:`~exisone._exceptions.ConfigurationError` for an unknown mode.
    """
    cached = _cache.get(mode)
    if cached is not None:
        return cached
    if mode not in HARDWARE_ID_MODES:
        raise ConfigurationError(
            f"Unknown hardware ID mode {mode!r}; use one of: {', '.join(HARDWARE_ID_MODES)}."
        )
    with _lock:
        cached = _cache.get(mode)
        if cached is None:
            cached = _compute_legacy() if mode == "legacy" else _compute_stable()
            _cache[mode] = cached
    return cached


def clear_cache() -> None:
    """Forget computed IDs so the next call reads the machine again (for tests)."""
    with _lock:
        _cache.clear()


def _compute_legacy() -> str:
    from ._legacy import legacy_components

    return legacy_hash(legacy_components())


def _compute_stable() -> str:
    components, tried = _stable_components()
    if components is None:
        raise HardwareIdError(
            "No stable hardware identifier is readable on this machine (tried: "
            f"{tried}). This is usual in containers. Set hardware_id_override in the client "
            "options to an ID you store yourself (for example one UUID per user or per "
            "installation); see docs/hardware-id.md."
        )
    return stable_hash(components)


def _stable_components() -> tuple[list[str] | None, str]:
    """The identifying components for this OS and a description of what was tried."""
    if sys.platform == "win32":
        from . import _windows

        return _windows.stable_components(), f"registry {_windows.KEY_PATH}\\MachineGuid"
    if sys.platform == "darwin":
        from . import _darwin

        return _darwin.stable_components(), "IOKit IOPlatformUUID, ioreg"
    from . import _linux

    return _linux.stable_components(), _linux.describe_sources()
