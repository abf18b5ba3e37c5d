"""generate_hardware_id: format, modes, memoization, errors, stability, cheap import."""

import json
import os
import platform
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Optional

import pytest

import exisone._hardware as hardware
from exisone._exceptions import ConfigurationError, ExisOneError
from exisone._hardware import HardwareIdError, _darwin, _linux, generate_hardware_id, stable_hash

MACHINE_ID = "3d1219c7c4c5404aaa1f6d2a48adfda4"
HEX64 = re.compile(r"[0-9A-F]{64}")


class FakeFiles:
    """A read_text stand-in over a dict of absolute paths, counting reads."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files
        self.reads = 0

    def __call__(self, path: str) -> Optional[str]:
        self.reads += 1
        return self.files.get(path)


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    hardware.clear_cache()
    yield
    hardware.clear_cache()


@pytest.fixture
def linux(monkeypatch: pytest.MonkeyPatch) -> FakeFiles:
    """Pretend to be a Linux host whose files are a FakeFiles; no command may run."""
    files = FakeFiles({"/etc/machine-id": MACHINE_ID + "\n"})
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(_linux, "read_text", files)

    def no_subprocess(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"stable mode ran a command: {args}")

    monkeypatch.setattr(subprocess, "Popen", no_subprocess)
    return files


def test_stable_id_format_and_value(linux: FakeFiles) -> None:
    hwid = generate_hardware_id()
    assert HEX64.fullmatch(hwid)
    assert hwid == stable_hash(["machine-id", MACHINE_ID])
    assert generate_hardware_id("stable") == hwid


def test_second_call_is_cached_and_reads_nothing(linux: FakeFiles) -> None:
    first = generate_hardware_id()
    reads = linux.reads
    assert reads >= 1
    second = generate_hardware_id()
    assert second is first
    assert linux.reads == reads
    hardware.clear_cache()
    assert generate_hardware_id() == first
    assert linux.reads == 2 * reads


def test_modes_are_cached_separately(linux: FakeFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hardware, "_compute_legacy", lambda: "L" * 64)
    stable = generate_hardware_id("stable")
    assert generate_hardware_id("legacy") == "L" * 64
    assert generate_hardware_id("stable") is stable


def test_same_id_when_hostname_kernel_python_cpus_and_nics_change(
    linux: FakeFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = generate_hardware_id()
    hardware.clear_cache()
    monkeypatch.setattr(socket, "gethostname", lambda: "renamed-host")
    monkeypatch.setattr(platform, "platform", lambda *a, **k: "Linux-9.9.9-other-x86_64-glibc9")
    monkeypatch.setattr(platform, "release", lambda: "9.9.9-other")
    monkeypatch.setattr(platform, "python_version", lambda: "3.99.0")
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    monkeypatch.setattr(os, "cpu_count", lambda: 128)
    # MACs and cpuinfo are not inputs (commands are blocked by the fixture; files see below).
    linux.files["/proc/cpuinfo"] = "cpu MHz : 1234.5\n"
    assert generate_hardware_id() == before


def test_only_identifier_files_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def record(path: str) -> Optional[str]:
        seen.append(path)
        return None

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(_linux, "read_text", record)
    with pytest.raises(HardwareIdError):
        generate_hardware_id()
    assert seen == [
        "/etc/machine-id",
        "/var/lib/dbus/machine-id",
        "/sys/class/dmi/id/product_uuid",
    ]


def test_different_machine_ids_different_ids(linux: FakeFiles) -> None:
    first = generate_hardware_id()
    hardware.clear_cache()
    linux.files["/etc/machine-id"] = "0f5e3c2b1a09487766554433221100ff\n"
    assert generate_hardware_id() != first


def test_error_when_nothing_is_available_points_to_the_override(linux: FakeFiles) -> None:
    linux.files.clear()
    with pytest.raises(HardwareIdError) as caught:
        generate_hardware_id()
    assert isinstance(caught.value, ExisOneError)
    message = str(caught.value)
    assert "hardware_id_override" in message
    assert "/etc/machine-id" in message
    # Failures are not cached: a later call sees a machine-id that appeared meanwhile.
    linux.files["/etc/machine-id"] = MACHINE_ID
    assert generate_hardware_id() == stable_hash(["machine-id", MACHINE_ID])


def test_windows_dispatch_reads_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.client.test_hardware_platforms import GUID, FakeWinreg

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setitem(sys.modules, "winreg", FakeWinreg())
    assert generate_hardware_id() == stable_hash(["machine-guid", GUID.lower()])


def test_windows_without_machine_guid_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.client.test_hardware_platforms import FakeWinreg

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setitem(sys.modules, "winreg", FakeWinreg(missing=True))
    with pytest.raises(HardwareIdError, match=r"MachineGuid.*hardware_id_override"):
        generate_hardware_id()


def test_macos_dispatch_falls_back_to_ioreg(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.client.test_hardware_platforms import IOREG_OUTPUT, MAC_UUID

    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(_darwin, "run_stdout", lambda argv: IOREG_OUTPUT)
    assert generate_hardware_id() == stable_hash(["io-platform-uuid", MAC_UUID.lower()])


def test_unknown_mode_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"'fast'.*stable, legacy"):
        generate_hardware_id("fast")
    with pytest.raises(ValueError):
        generate_hardware_id("")


def test_this_machine_has_a_stable_id_or_a_clear_error() -> None:
    if sys.platform.startswith("linux") and not any(
        os.path.exists(p) for p in ("/etc/machine-id", "/var/lib/dbus/machine-id")
    ):
        with pytest.raises(HardwareIdError):
            generate_hardware_id()
        return
    hwid = generate_hardware_id()
    assert HEX64.fullmatch(hwid)
    assert generate_hardware_id() is hwid


def test_import_reads_no_file_and_runs_no_command() -> None:
    """A fresh interpreter imports the package under an audit hook that records side effects."""
    script = textwrap.dedent(
        """
        import json, sys
        events = []
        def hook(event, args):
            if event == "subprocess.Popen":
                events.append([event, str(args[0])])
            elif event == "open" and isinstance(args[0], str):
                if args[0].startswith(("/etc", "/proc", "/sys", "/var/lib")):
                    events.append([event, args[0]])
        sys.addaudithook(hook)
        import exisone._hardware
        loaded = sorted(m for m in sys.modules if m.startswith("exisone._hardware."))
        print(json.dumps({"events": events, "loaded": loaded}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    result = json.loads(out)
    assert result["events"] == []
    # Per-OS readers and the subprocess helper load on first use, not at import.
    assert result["loaded"] == ["exisone._hardware._errors", "exisone._hardware._hashing"]
