"""The stable identifier on macOS: IOPlatformUUID, the UUID "About This Mac" shows as Hardware UUID.

Read through IOKit with ctypes (no subprocess), with every function's argument and result
types declared so no pointer is truncated. If the frameworks cannot be loaded or the call
yields nothing, ``/usr/sbin/ioreg -rd1 -c IOPlatformExpertDevice`` is run once instead. Both
give the same value, so an app gets the same ID whichever path worked. The IOKit path has been
exercised with fakes only (this project's CI runs on Linux).
"""

from __future__ import annotations

import re
from typing import Any, Callable

from . import _normalize
from ._process import Runner, run_stdout

__all__ = [
    "IOREG_COMMAND",
    "iokit_platform_uuid",
    "parse_ioreg",
    "platform_uuid",
    "stable_components",
]

IOREG_COMMAND = ("/usr/sbin/ioreg", "-rd1", "-c", "IOPlatformExpertDevice")

_IOKIT = "/System/Library/Frameworks/IOKit.framework/IOKit"
_CORE_FOUNDATION = "/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation"
_CF_STRING_ENCODING_UTF8 = 0x08000100
_MAIN_PORT_DEFAULT = 0  # kIOMainPortDefault / kIOMasterPortDefault is MACH_PORT_NULL
_IOREG_UUID = re.compile(r'"IOPlatformUUID"\s*=\s*"([^"]*)"')

Loader = Callable[[str], Any]
"""Takes a library path, returns a ctypes.CDLL-like object (raises OSError if it cannot)."""


def parse_ioreg(output: str | None) -> str | None:
    """The IOPlatformUUID value in ``ioreg`` output, or None."""
    if not output:
        return None
    match = _IOREG_UUID.search(output)
    return match.group(1) if match else None


def iokit_platform_uuid(load: Loader | None = None) -> str | None:
    """IOPlatformUUID through IOKit, or None if the frameworks or the property are missing."""
    import ctypes

    loader: Loader = load if load is not None else ctypes.CDLL
    try:
        iokit = loader(_IOKIT)
        cf = loader(_CORE_FOUNDATION)
    except OSError:
        return None
    _declare(iokit, cf, ctypes)

    matching = iokit.IOServiceMatching(b"IOPlatformExpertDevice")
    if not matching:
        return None
    # IOServiceGetMatchingService consumes the matching dictionary: no CFRelease for it.
    service = iokit.IOServiceGetMatchingService(_MAIN_PORT_DEFAULT, matching)
    if not service:
        return None
    try:
        key = cf.CFStringCreateWithCString(None, b"IOPlatformUUID", _CF_STRING_ENCODING_UTF8)
        if not key:
            return None
        try:
            value = iokit.IORegistryEntryCreateCFProperty(service, key, None, 0)
        finally:
            cf.CFRelease(key)
        if not value:
            return None
        try:
            if cf.CFGetTypeID(value) != cf.CFStringGetTypeID():
                return None
            buffer = ctypes.create_string_buffer(128)
            if not cf.CFStringGetCString(value, buffer, len(buffer), _CF_STRING_ENCODING_UTF8):
                return None
            raw: bytes = buffer.value
            return raw.decode("utf-8", errors="replace")
        finally:
            cf.CFRelease(value)
    finally:
        iokit.IOObjectRelease(service)


def _declare(iokit: Any, cf: Any, ctypes: Any) -> None:
    """Argument and result types of the C functions used (io_object_t is a 32-bit port)."""
    c_void_p, c_uint32 = ctypes.c_void_p, ctypes.c_uint32
    iokit.IOServiceMatching.argtypes = [ctypes.c_char_p]
    iokit.IOServiceMatching.restype = c_void_p
    iokit.IOServiceGetMatchingService.argtypes = [c_uint32, c_void_p]
    iokit.IOServiceGetMatchingService.restype = c_uint32
    iokit.IORegistryEntryCreateCFProperty.argtypes = [c_uint32, c_void_p, c_void_p, c_uint32]
    iokit.IORegistryEntryCreateCFProperty.restype = c_void_p
    iokit.IOObjectRelease.argtypes = [c_uint32]
    iokit.IOObjectRelease.restype = ctypes.c_int
    cf.CFStringCreateWithCString.argtypes = [c_void_p, ctypes.c_char_p, c_uint32]
    cf.CFStringCreateWithCString.restype = c_void_p
    cf.CFGetTypeID.argtypes = [c_void_p]
    cf.CFGetTypeID.restype = ctypes.c_ulong
    cf.CFStringGetTypeID.argtypes = []
    cf.CFStringGetTypeID.restype = ctypes.c_ulong
    cf.CFStringGetCString.argtypes = [c_void_p, ctypes.c_char_p, ctypes.c_long, c_uint32]
    cf.CFStringGetCString.restype = ctypes.c_bool
    cf.CFRelease.argtypes = [c_void_p]
    cf.CFRelease.restype = None


def platform_uuid(load: Loader | None = None, run: Runner | None = None) -> str | None:
    """The lower-cased IOPlatformUUID from IOKit, else from ``ioreg``; None if neither has it."""
    uuid = _normalize.uuid_text(iokit_platform_uuid(load))
    if uuid is None:
        runner = run if run is not None else run_stdout
        uuid = _normalize.uuid_text(parse_ioreg(runner(IOREG_COMMAND)))
    return uuid


def stable_components(load: Loader | None = None, run: Runner | None = None) -> list[str] | None:
    """``["io-platform-uuid", value]``, or None."""
    uuid = platform_uuid(load, run)
    return None if uuid is None else ["io-platform-uuid", uuid]
