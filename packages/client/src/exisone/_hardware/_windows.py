"""The stable identifier on Windows: the registry's ``MachineGuid``, read with winreg.

``HKLM\\SOFTWARE\\Microsoft\\Cryptography\\MachineGuid`` is written once at installation
(or by sysprep) and readable by every user. The key is opened in the 64-bit registry view
(``KEY_WOW64_64KEY``) so a 32-bit Python on 64-bit Windows reads the same value instead of the
empty WOW6432Node copy. No wmic, no subprocess.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import _normalize

__all__ = ["KEY_PATH", "VALUE_NAME", "machine_guid", "stable_components"]

KEY_PATH = r"SOFTWARE\Microsoft\Cryptography"
VALUE_NAME = "MachineGuid"


def machine_guid(registry: Any = None) -> str | None:
    """The lower-cased MachineGuid, or None when missing or not a GUID.

    ``registry`` is the ``winreg`` module, or a stand-in with the same names in tests.
    """
    if registry is None:
        try:
            registry = importlib.import_module("winreg")
        except ImportError:
            return None
    access = registry.KEY_READ | getattr(registry, "KEY_WOW64_64KEY", 0)
    try:
        with registry.OpenKey(registry.HKEY_LOCAL_MACHINE, KEY_PATH, 0, access) as key:
            value, value_type = registry.QueryValueEx(key, VALUE_NAME)
    except OSError:
        return None
    if value_type != registry.REG_SZ or not isinstance(value, str):
        return None
    return _normalize.uuid_text(value)


def stable_components(registry: Any = None) -> list[str] | None:
    """``["machine-guid", value]``, or None."""
    guid = machine_guid(registry)
    return None if guid is None else ["machine-guid", guid]
