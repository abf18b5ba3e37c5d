"""The stable identifier on Linux (and other Unix systems): machine-id, else the DMI UUID.

Order, first usable value wins, nothing is combined:

1. ``/etc/machine-id``, then ``/var/lib/dbus/machine-id`` (both world-readable; usually the same
   value, one a copy or symlink of the other): source ``machine-id``.
2. ``/sys/class/dmi/id/product_uuid``, only when no machine ID exists: source
   ``dmi-product-uuid``.

The DMI UUID is readable by root only on most distributions. Mixing it into the ID whenever it
is readable would give root and non-root runs of the same application different IDs, so it is a
fallback and never an addition: where a machine ID exists both get the same ID, and where none
exists a non-root run fails with :class:`HardwareIdError` rather than producing a second ID.
No subprocess is run and no other file is read.
"""

from __future__ import annotations

import os
from typing import Callable, Optional

from . import _normalize

__all__ = [
    "DMI_PRODUCT_UUID",
    "MACHINE_ID_FILES",
    "Reader",
    "describe_sources",
    "read_text",
    "stable_components",
]

MACHINE_ID_FILES = ("etc/machine-id", "var/lib/dbus/machine-id")
DMI_PRODUCT_UUID = "sys/class/dmi/id/product_uuid"

Reader = Callable[[str], Optional[str]]
"""Takes an absolute path, returns the file's text or None when it cannot be read."""

_MAX_BYTES = 4096


def read_text(path: str) -> str | None:
    """The start of a small file as text, or None when it is missing or unreadable."""
    try:
        with open(path, "rb") as file:
            data = file.read(_MAX_BYTES)
    except OSError:
        return None
    return data.decode("utf-8", errors="replace")


def stable_components(root: str = "/", read: Reader | None = None) -> list[str] | None:
    """``[source, value]`` for the first usable identifier under ``root``, or None.

    ``read`` defaults to :func:`read_text` (looked up at call time, so tests can count reads).
    """
    reader = read if read is not None else read_text
    for relative in MACHINE_ID_FILES:
        value = _normalize.machine_id(reader(os.path.join(root, relative)))
        if value is not None:
            return ["machine-id", value]
    uuid = _normalize.uuid_text(reader(os.path.join(root, DMI_PRODUCT_UUID)))
    if uuid is not None:
        return ["dmi-product-uuid", uuid]
    return None


def describe_sources(root: str = "/") -> str:
    """The paths tried, for error messages."""
    paths = (*MACHINE_ID_FILES, DMI_PRODUCT_UUID)
    return ", ".join(os.path.join(root, path) for path in paths)
