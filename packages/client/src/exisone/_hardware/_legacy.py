"""The hardware ID of exisone-client 0.9.0/0.10.0, reproduced input for input (docs/hardware-id.md).

Components, concatenated with no separator after the ``_v1`` salt (see ``legacy_hash``):

1. Windows: the first data row of ``wmic`` for ProcessorId, BaseBoard, BIOS and DiskDrive serials.
   Elsewhere: ``/etc/machine-id``, ``/var/lib/dbus/machine-id``, ``/sys/class/dmi/id/product_uuid``
   (each if readable and non-empty), then ``/proc/cpuinfo`` without blank and fluctuating lines
   as one component, or on macOS (no ``/proc/cpuinfo``) the ``system_profiler`` Hardware UUID.
2. Sorted, de-duplicated MAC addresses of non-virtual interfaces (``getmac``, ``ip -o link
   show``, ``ifconfig -a``).
3. ``x64``/``x86``, the logical CPU count, the host name, ``platform.platform()``.

Every quirk is kept on purpose (text decoded with the locale encoding, first wmic row only,
naive CSV split, ``zt`` prefix dropping real interfaces): any difference would change the ID of
customers who activated with the official SDK. Use it only for them; see docs/hardware-id.md.
"""

from __future__ import annotations

import locale
import os
import platform
import re
import socket
from dataclasses import dataclass
from typing import Callable

from ._process import Runner, run_stdout

__all__ = [
    "CPUINFO_VOLATILE_PREFIXES",
    "VIRTUAL_NIC_PREFIXES",
    "LegacyHost",
    "filter_cpuinfo",
    "is_virtual_nic",
    "legacy_components",
    "mac_addresses",
    "parse_getmac",
    "parse_ifconfig",
    "parse_ip_link",
    "parse_system_profiler",
    "parse_wmic",
    "read_locale_text",
]

UNIX_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id", "/sys/class/dmi/id/product_uuid")
CPUINFO = "/proc/cpuinfo"
WMI_QUERIES = (
    ("Win32_Processor", "ProcessorId"),
    ("Win32_BaseBoard", "SerialNumber"),
    ("Win32_BIOS", "SerialNumber"),
    ("Win32_DiskDrive", "SerialNumber"),
)
WMI_BLANKS = ("none", "to be filled by o.e.m.")
CPUINFO_VOLATILE_PREFIXES = (
    "cpu mhz",
    "bogomips",
    "cache size",
    "core id",
    "apicid",
    "initial apicid",
    "cpu cores",
    "siblings",
    "processor",
)
VIRTUAL_NIC_PREFIXES = (
    "docker",
    "br-",
    "veth",
    "virbr",
    "vmnet",
    "vboxnet",
    "tun",
    "tap",
    "wg",
    "tailscale",
    "zt",
    "utun",
)
_NO_MAC = "000000000000"
_IP_LINK_NAME = re.compile(r"^\d+:\s+([^:@\s]+)[@:]")


def read_locale_text(path: str) -> str | None:
    """The whole file decoded like ``open(path, "r")`` does, or None if that fails."""
    try:
        with open(path, encoding=locale.getpreferredencoding(False)) as file:
            return file.read()
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class LegacyHost:
    """Where the legacy inputs come from. The defaults read this machine; tests swap fields."""

    system: Callable[[], str] = platform.system
    run: Runner = run_stdout
    read_text: Callable[[str], str | None] = read_locale_text
    exists: Callable[[str], bool] = os.path.exists
    machine: Callable[[], str] = platform.machine
    cpu_count: Callable[[], int | None] = os.cpu_count
    hostname: Callable[[], str] = socket.gethostname
    platform_string: Callable[[], str] = platform.platform


def legacy_components(host: LegacyHost | None = None) -> list[str]:
    """The components exisone-client 0.10.0 hashes on this machine, in its order."""
    host = host if host is not None else LegacyHost()
    system = host.system()
    components = windows_identifiers(host) if system == "Windows" else unix_identifiers(host)
    components.extend(mac_addresses(host))
    components.append("x64" if host.machine().endswith("64") else "x86")
    components.append(str(host.cpu_count() or 1))
    components.append(host.hostname())
    components.append(host.platform_string())
    return components


def windows_identifiers(host: LegacyHost) -> list[str]:
    """The non-blank first-row values of the four wmic queries."""
    values = []
    for class_name, prop in WMI_QUERIES:
        value = parse_wmic(host.run(["wmic", class_name, "get", prop]))
        if value is not None:
            values.append(value)
    return values


def parse_wmic(output: str | None) -> str | None:
    """The second line of ``wmic <class> get <prop>`` output, unless blank or a placeholder."""
    if output is None:
        return None
    lines = output.strip().split("\n")
    if len(lines) < 2:
        return None
    value = lines[1].strip()
    if not value or value.lower() in WMI_BLANKS:
        return None
    return value


def unix_identifiers(host: LegacyHost) -> list[str]:
    """Machine-ID files, then filtered cpuinfo, or on macOS the system_profiler Hardware UUID."""
    values = []
    for path in UNIX_ID_FILES:
        text = host.read_text(path)
        if text is not None and text.strip():
            values.append(text.strip())
    if host.exists(CPUINFO):
        cpuinfo = filter_cpuinfo(host.read_text(CPUINFO))
        if cpuinfo is not None:
            values.append(cpuinfo)
    elif host.system() == "Darwin":
        uuid = parse_system_profiler(host.run(["system_profiler", "SPHardwareDataType"]))
        if uuid is not None:
            values.append(uuid)
    return values


def filter_cpuinfo(text: str | None) -> str | None:
    """Non-blank cpuinfo lines whose key is not volatile, right-stripped, joined by newlines."""
    if text is None:
        return None
    kept = []
    for line in text.split("\n"):
        key = line.split(":", 1)[0].strip().lower()
        if key and not key.startswith(CPUINFO_VOLATILE_PREFIXES):
            kept.append(line.rstrip())
    return "\n".join(kept) if kept else None


def parse_system_profiler(output: str | None) -> str | None:
    """The text after the last colon of the first ``Hardware UUID`` line."""
    for line in (output or "").split("\n"):
        if "Hardware UUID" in line:
            return line.split(":")[-1].strip() or None
    return None


def is_virtual_nic(name: str) -> bool:
    """True for names starting with a virtual/transient adapter prefix (case-insensitive)."""
    return bool(name) and name.lower().startswith(VIRTUAL_NIC_PREFIXES)


def mac_addresses(host: LegacyHost) -> list[str]:
    """Sorted MACs of the non-virtual interfaces the platform's tool lists."""
    system = host.system()
    if system == "Windows":
        macs = parse_getmac(host.run(["getmac", "/v", "/fo", "csv", "/nh"]))
    elif system == "Linux":
        macs = parse_ip_link(host.run(["ip", "-o", "link", "show"]))
    elif system == "Darwin":
        macs = parse_ifconfig(host.run(["ifconfig", "-a"]))
    else:
        macs = []
    return sorted(macs)


def _add_mac(macs: list[str], mac: str) -> None:
    if mac and len(mac) == 12 and mac != _NO_MAC and mac not in macs:
        macs.append(mac)


def parse_getmac(output: str | None) -> list[str]:
    """MACs from ``getmac /v /fo csv /nh``: a plain comma split, column 1 name, column 3 MAC."""
    macs: list[str] = []
    for line in (output or "").strip().split("\n"):
        parts = [part.strip('"') for part in line.split(",")]
        if len(parts) < 3 or is_virtual_nic(parts[0]):
            continue
        _add_mac(macs, parts[2].replace("-", "").replace(":", "").upper())
    return macs


def parse_ip_link(output: str | None) -> list[str]:
    """MACs from ``ip -o link show``: ``link/ether`` lines, not ``lo``, not virtual."""
    macs: list[str] = []
    for line in (output or "").split("\n"):
        match = _IP_LINK_NAME.match(line)
        if not match:
            continue
        name = match.group(1)
        if is_virtual_nic(name) or name == "lo" or "link/ether" not in line:
            continue
        parts = line.split()
        if "link/ether" not in parts:
            break  # the official client's list.index raises here and keeps what it has
        index = parts.index("link/ether") + 1
        if index < len(parts):
            _add_mac(macs, parts[index].replace(":", "").upper())
    return macs


def parse_ifconfig(output: str | None) -> list[str]:
    """MACs from ``ifconfig -a``: ``ether`` lines of each interface block, not ``lo0``."""
    macs: list[str] = []
    interface: str | None = None
    for line in (output or "").split("\n"):
        if line and not line.startswith((" ", "\t")):
            interface = line.split(":", 1)[0].strip()
            continue
        if not interface or is_virtual_nic(interface) or interface == "lo0":
            continue
        if "ether " not in line:
            continue
        parts = line.split()
        if "ether" not in parts:
            break  # as above: the official client stops at this line
        index = parts.index("ether") + 1
        if index < len(parts):
            _add_mac(macs, parts[index].replace(":", "").upper())
    return macs
