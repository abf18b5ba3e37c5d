"""The Windows (winreg) and macOS (IOKit / ioreg) stable-ID readers, with injected fakes."""

import ctypes
from typing import Any, Optional

import pytest

from exisone._hardware import _darwin, _windows

GUID = "5D7C9A1E-3F2B-4E6D-8A9C-0B1D2E3F4A5B"
MAC_UUID = "A1B2C3D4-E5F6-4789-9ABC-DEF012345678"


class FakeWinreg:
    """The names of winreg that the reader uses, over one fake value."""

    HKEY_LOCAL_MACHINE = 0x80000002
    KEY_READ = 0x20019
    KEY_WOW64_64KEY = 0x0100
    REG_SZ = 1
    REG_DWORD = 4

    def __init__(self, value: Any = GUID, value_type: int = 1, missing: bool = False) -> None:
        self.value, self.value_type, self.missing = value, value_type, missing
        self.opened: list[tuple[int, str, int, int]] = []

    def OpenKey(self, key: int, sub_key: str, reserved: int, access: int) -> "FakeWinreg":
        self.opened.append((key, sub_key, reserved, access))
        if self.missing:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return self

    def QueryValueEx(self, key: object, name: str) -> tuple[Any, int]:
        if name != "MachineGuid":
            raise FileNotFoundError(2, "no such value")
        return self.value, self.value_type

    def __enter__(self) -> "FakeWinreg":
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def test_machine_guid_read_from_the_64_bit_view() -> None:
    registry = FakeWinreg()
    assert _windows.machine_guid(registry) == GUID.lower()
    [(hive, path, _, access)] = registry.opened
    assert hive == FakeWinreg.HKEY_LOCAL_MACHINE
    assert path == r"SOFTWARE\Microsoft\Cryptography"
    assert access & FakeWinreg.KEY_WOW64_64KEY and access & FakeWinreg.KEY_READ


def test_machine_guid_whitespace_and_case_do_not_matter() -> None:
    assert _windows.machine_guid(FakeWinreg(f" {GUID.lower()}\n")) == GUID.lower()


@pytest.mark.parametrize(
    "registry",
    [
        FakeWinreg(missing=True),
        FakeWinreg(value=12345, value_type=FakeWinreg.REG_DWORD),
        FakeWinreg(value="", value_type=FakeWinreg.REG_SZ),
        FakeWinreg(value="not a guid"),
        FakeWinreg(value="00000000-0000-0000-0000-000000000000"),
    ],
)
def test_no_usable_machine_guid(registry: FakeWinreg) -> None:
    assert _windows.machine_guid(registry) is None
    assert _windows.stable_components(registry) is None


def test_windows_components() -> None:
    assert _windows.stable_components(FakeWinreg()) == ["machine-guid", GUID.lower()]


def test_without_winreg_there_is_no_machine_guid() -> None:
    """On this (non-Windows) machine the real module is missing: None, not an ImportError."""
    assert _windows.machine_guid() is None


IOREG_OUTPUT = f"""+-o MacBookPro18,3  <class IOPlatformExpertDevice, id 0x100000228, registered>
    {{
      "compatible" = <"MacBookPro18,3">
      "IOPlatformSerialNumber" = "C02XXXXXXXXX"
      "IOPlatformUUID" = "{MAC_UUID}"
      "model" = <"MacBookPro18,3">
    }}
"""


def test_parse_ioreg() -> None:
    assert _darwin.parse_ioreg(IOREG_OUTPUT) == MAC_UUID
    assert _darwin.parse_ioreg('"IOPlatformSerialNumber" = "X"') is None
    assert _darwin.parse_ioreg(None) is None


def no_frameworks(path: str) -> Any:
    raise OSError(f"dlopen({path}): image not found")


def test_ioreg_is_the_fallback_when_iokit_cannot_be_loaded() -> None:
    calls: list[tuple[str, ...]] = []

    def run(argv: Any) -> Optional[str]:
        calls.append(tuple(argv))
        return IOREG_OUTPUT

    assert _darwin.platform_uuid(load=no_frameworks, run=run) == MAC_UUID.lower()
    assert calls == [_darwin.IOREG_COMMAND]
    assert _darwin.IOREG_COMMAND[0] == "/usr/sbin/ioreg"  # absolute: no PATH lookup


def test_nothing_on_macos_when_both_paths_fail() -> None:
    assert _darwin.stable_components(load=no_frameworks, run=lambda argv: None) is None


def test_real_loader_fails_cleanly_off_macos() -> None:
    assert _darwin.iokit_platform_uuid() is None


class FakeFunction:
    """A C function stand-in that records calls and whether types were declared."""

    def __init__(self, name: str, result: Any, log: list[tuple[str, tuple[Any, ...]]]) -> None:
        self.name, self.result, self.log = name, result, log
        self.argtypes: Optional[list[Any]] = None
        self.restype: Any = "undeclared"

    def __call__(self, *args: Any) -> Any:
        assert self.argtypes is not None and self.restype != "undeclared", self.name
        assert len(args) == len(self.argtypes), self.name
        self.log.append((self.name, args))
        return self.result(*args) if callable(self.result) else self.result


class FakeLibrary:
    def __init__(self, functions: dict[str, Any], log: list[tuple[str, tuple[Any, ...]]]) -> None:
        self.functions = {
            name: FakeFunction(name, result, log) for name, result in functions.items()
        }

    def __getattr__(self, name: str) -> FakeFunction:
        return self.functions[name]


def fake_frameworks(
    uuid: bytes = MAC_UUID.encode(), type_id: int = 7, property_ptr: int = 200
) -> tuple[Any, FakeLibrary, FakeLibrary, list[tuple[str, tuple[Any, ...]]]]:
    log: list[tuple[str, tuple[Any, ...]]] = []

    def get_c_string(value: int, buffer: Any, size: int, encoding: int) -> bool:
        buffer.value = uuid
        return True

    iokit = FakeLibrary(
        {
            "IOServiceMatching": 1000,
            "IOServiceGetMatchingService": 42,
            "IORegistryEntryCreateCFProperty": property_ptr,
            "IOObjectRelease": 0,
        },
        log,
    )
    cf = FakeLibrary(
        {
            "CFStringCreateWithCString": 100,
            "CFGetTypeID": type_id,
            "CFStringGetTypeID": 7,
            "CFStringGetCString": get_c_string,
            "CFRelease": None,
        },
        log,
    )

    def load(path: str) -> FakeLibrary:
        return iokit if path.endswith("/IOKit") else cf

    return load, iokit, cf, log


def test_iokit_path_declares_types_and_releases_everything() -> None:
    load, iokit, cf, log = fake_frameworks()
    assert _darwin.iokit_platform_uuid(load) == MAC_UUID
    # Pointer results must be declared as pointers, or 64-bit values get truncated to int.
    for name in ("IOServiceMatching", "IORegistryEntryCreateCFProperty"):
        assert iokit.functions[name].restype is ctypes.c_void_p
    assert cf.functions["CFStringCreateWithCString"].restype is ctypes.c_void_p
    assert iokit.functions["IOServiceGetMatchingService"].restype is ctypes.c_uint32
    called = [name for name, _ in log]
    assert ("CFRelease", (100,)) in log  # the key string
    assert ("CFRelease", (200,)) in log  # the property value
    assert ("IOObjectRelease", (42,)) in log  # the service
    assert ("CFRelease", (1000,)) not in log  # consumed by IOServiceGetMatchingService
    assert called.index("IOObjectRelease") == len(called) - 1


def test_iokit_path_rejects_a_non_string_property() -> None:
    load, _, _, log = fake_frameworks(type_id=99)
    assert _darwin.iokit_platform_uuid(load) is None
    assert ("CFRelease", (200,)) in log and ("IOObjectRelease", (42,)) in log


def test_iokit_path_without_the_property_falls_back_to_ioreg() -> None:
    load, _, _, _ = fake_frameworks(property_ptr=0)
    assert _darwin.iokit_platform_uuid(load) is None
    assert _darwin.platform_uuid(load, run=lambda argv: IOREG_OUTPUT) == MAC_UUID.lower()


def test_iokit_and_ioreg_give_the_same_components() -> None:
    load, _, _, _ = fake_frameworks()
    via_iokit = _darwin.stable_components(load=load, run=lambda argv: None)
    via_ioreg = _darwin.stable_components(load=no_frameworks, run=lambda argv: IOREG_OUTPUT)
    assert via_iokit == via_ioreg == ["io-platform-uuid", MAC_UUID.lower()]
