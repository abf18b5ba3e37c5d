"""Legacy mode: exisone-client 0.10.0's hardware ID, input for input.

Three layers: our parsers on hand-written tool outputs; the same fake machines fed to the
official client (in its own venv, through a subprocess) and to ours, comparing IDs; and the real
ID of this machine from both.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Optional

import pytest

import exisone._hardware as hardware
from exisone._hardware import _legacy, generate_hardware_id, legacy_hash
from exisone._hardware._legacy import LegacyHost

REPO_ROOT = Path(__file__).resolve().parents[2]
OFFICIAL_PYTHON = REPO_ROOT / ".venvs" / "official" / "bin" / "python"

IP_LINK = "\n".join(
    [
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT"
        " group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00",
        "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP\\"
        "    link/ether 52:54:00:ab:cd:ef brd ff:ff:ff:ff:ff:ff",
        "3: wlan0: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN\\"
        "    link/ether 0a:1b:2c:3d:4e:5f brd ff:ff:ff:ff:ff:ff",
        "4: docker0: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500\\"
        "    link/ether 02:42:11:22:33:44 brd ff:ff:ff:ff:ff:ff",
        "5: veth1a2b3c@if4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\\"
        "    link/ether 66:77:88:99:aa:bb brd ff:ff:ff:ff:ff:ff link-netnsid 0",
        "6: br0: <BROADCAST,MULTICAST,UP> mtu 1500\\"
        "    link/ether 52:54:00:ab:cd:ef brd ff:ff:ff:ff:ff:ff",
        "7: ztabcdef: <BROADCAST,MULTICAST,UP> mtu 2800\\"
        "    link/ether 12:34:56:78:9a:bc brd ff:ff:ff:ff:ff:ff",
        "8: dummy0: <BROADCAST,NOARP> mtu 1500\\    link/ether 00:00:00:00:00:00 brd ff:ff",
        "9: wg0: <POINTOPOINT,NOARP,UP,LOWER_UP> mtu 1420\\    link/none ",
        "10: enp3s0: <BROADCAST,MULTICAST> mtu 1500\\    link/ether 00:1a:2b:3c:4d:5e brd ff",
    ]
)
GETMAC = "\n".join(
    [
        '"Ethernet","Intel(R) Ethernet Connection I219-V","00-1A-2B-3C-4D-5E","\\Device\\A"',
        '"Wi-Fi","Intel(R) Wi-Fi 6 AX201 160MHz","0A-1B-2C-3D-4E-5F","Media disconnected"',
        '"vEthernet (WSL)","Hyper-V Virtual Ethernet Adapter","00-15-5D-11-22-33","\\Device\\B"',
        '"Bluetooth Network Connection","Bluetooth Device (PAN)","N/A","Hardware not present"',
        '"TAP-Windows","TAP-Windows Adapter V9","00-FF-11-22-33-44","Media disconnected"',
        '"Ethernet 2","Realtek, Inc. USB GbE","AA-BB-CC-DD-EE-FF","\\Device\\C"',
        '"Ethernet","Intel(R) Ethernet Connection I219-V","00-1A-2B-3C-4D-5E","dup"',
    ]
)
IFCONFIG = "\n".join(
    [
        "lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> mtu 16384",
        "\tinet 127.0.0.1 netmask 0xff000000",
        "en0: flags=8863<UP,BROADCAST,SMART,RUNNING,SIMPLEX,MULTICAST> mtu 1500",
        "\tether f0:18:98:aa:bb:cc",
        "\tinet 192.168.1.10 netmask 0xffffff00 broadcast 192.168.1.255",
        "awdl0: flags=8943<UP,BROADCAST,RUNNING,PROMISC,SIMPLEX,MULTICAST> mtu 1484",
        "\tether 3e:22:fb:11:22:33",
        "bridge0: flags=8863<UP,BROADCAST,SMART,RUNNING,SIMPLEX,MULTICAST> mtu 1500",
        "\tether 82:aa:bb:cc:dd:00",
        "utun0: flags=8051<UP,POINTOPOINT,RUNNING,MULTICAST> mtu 1380",
        "vmnet8: flags=8863<UP,BROADCAST,SMART,RUNNING,SIMPLEX,MULTICAST> mtu 1500",
        "\tether 00:50:56:c0:00:08",
        "en1: flags=8963<UP,BROADCAST,SMART,RUNNING,PROMISC,SIMPLEX,MULTICAST> mtu 1500",
        "\tether f0:18:98:aa:bb:cc",
        "",
    ]
)
CPUINFO = "\n".join(
    [
        "processor\t: 0",
        "vendor_id\t: GenuineIntel",
        "cpu family\t: 6",
        "model name\t: Intel(R) Xeon(R) CPU @ 2.20GHz",
        "cpu MHz\t\t: 2199.998",
        "cache size\t: 56320 KB",
        "physical id\t: 0",
        "siblings\t: 2",
        "core id\t\t: 0",
        "cpu cores\t: 1",
        "apicid\t\t: 0",
        "initial apicid\t: 0",
        "flags\t\t: fpu vme de pse   ",
        "bogomips\t: 4399.99",
        "",
        "processor\t: 1",
        "vendor_id\t: GenuineIntel",
        "cpu MHz\t\t: 2200.102",
        "power management:",
        "",
    ]
)
SYSTEM_PROFILER = """Hardware:

    Hardware Overview:

      Model Name: MacBook Pro
      Serial Number (system): C02XXXXXXXXX
      Hardware UUID: A1B2C3D4-E5F6-4789-9ABC-DEF012345678
      Provisioning UDID: A1B2C3D4-E5F6-4789-9ABC-DEF012345678
"""


def wmic(header: str, value: str) -> str:
    return f"{header}  \n{value}  \n\n"


def test_ip_link_filters_loopback_virtual_zero_and_duplicates() -> None:
    assert _legacy.parse_ip_link(IP_LINK) == ["525400ABCDEF", "0A1B2C3D4E5F", "001A2B3C4D5E"]


def test_ip_link_without_output() -> None:
    assert _legacy.parse_ip_link(None) == []


def test_getmac_naive_csv_and_virtual_names() -> None:
    # "vEthernet (WSL)" starts with "veth" and "TAP-Windows" with "tap": both skipped. "N/A"
    # is not 12 characters. "Realtek, Inc." splits into two columns, so its third column is
    # not the MAC and the adapter is lost, as with the official client.
    assert _legacy.parse_getmac(GETMAC) == ["001A2B3C4D5E", "0A1B2C3D4E5F"]


def test_getmac_comma_in_a_connection_name_shifts_columns_like_the_official_client() -> None:
    line = '"Ethernet, dock","Adapter","00-1A-2B-3C-4D-5E","x"'
    assert _legacy.parse_getmac(line) == []


def test_ifconfig_blocks() -> None:
    # awdl0 and bridge0 are not in the official skip list, so they count.
    assert _legacy.parse_ifconfig(IFCONFIG) == ["F01898AABBCC", "3E22FB112233", "82AABBCCDD00"]


def test_cpuinfo_filter() -> None:
    assert _legacy.filter_cpuinfo(CPUINFO) == "\n".join(
        [
            "vendor_id\t: GenuineIntel",
            "cpu family\t: 6",
            "model name\t: Intel(R) Xeon(R) CPU @ 2.20GHz",
            "physical id\t: 0",
            "flags\t\t: fpu vme de pse",
            "vendor_id\t: GenuineIntel",
            "power management:",
        ]
    )
    assert _legacy.filter_cpuinfo("processor : 0\n\n") is None


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (wmic("ProcessorId", "BFEBFBFF000906EA"), "BFEBFBFF000906EA"),
        (wmic("SerialNumber", "To Be Filled By O.E.M."), None),
        (wmic("SerialNumber", "None"), None),
        (wmic("SerialNumber", ""), None),
        ("SerialNumber\n", None),
        (None, None),
        ("SerialNumber\nFIRST-DISK\nSECOND-DISK\n", "FIRST-DISK"),
    ],
)
def test_wmic_first_data_row(output: Optional[str], expected: Optional[str]) -> None:
    assert _legacy.parse_wmic(output) == expected


def test_system_profiler_hardware_uuid() -> None:
    assert _legacy.parse_system_profiler(SYSTEM_PROFILER) == "A1B2C3D4-E5F6-4789-9ABC-DEF012345678"
    assert _legacy.parse_system_profiler(None) is None


def test_virtual_nic_names() -> None:
    assert _legacy.is_virtual_nic("Docker0") and _legacy.is_virtual_nic("ztx")
    assert not _legacy.is_virtual_nic("") and not _legacy.is_virtual_nic("eth0")


# Fake machines, described as data so the official client can be run on the same description.
SCENARIOS: dict[str, dict[str, Any]] = {
    "linux": {
        "system": "Linux",
        "machine": "x86_64",
        "cpu_count": 8,
        "hostname": "build-07",
        "platform": "Linux-6.1.0-18-amd64-x86_64-with-glibc2.36",
        "files": {
            "/etc/machine-id": "3d1219c7c4c5404aaa1f6d2a48adfda4\n",
            "/var/lib/dbus/machine-id": "3d1219c7c4c5404aaa1f6d2a48adfda4\n",
            "/proc/cpuinfo": CPUINFO,
        },
        "commands": {"ip -o link show": IP_LINK},
    },
    "linux-root-dmi-no-ip-arm": {
        "system": "Linux",
        "machine": "aarch64",
        "cpu_count": None,
        "hostname": "pi",
        "platform": "Linux-6.6.0-rpi-aarch64-with-glibc2.36",
        "files": {
            "/etc/machine-id": "  \n",
            "/sys/class/dmi/id/product_uuid": "4C4C4544-0042-3510-8052-B4C04F4E3432\n",
        },
        "commands": {},
    },
    "linux-odd-ether-token-stops-parsing": {
        "system": "Linux",
        "machine": "i686",
        "cpu_count": 1,
        "hostname": "old",
        "platform": "Linux-4.19-i686",
        "files": {"/proc/cpuinfo": ""},
        "commands": {
            "ip -o link show": "\n".join(
                [
                    "2: eth0: <UP>\\    link/ether 52:54:00:00:00:02 brd ff",
                    "3: eth1: <UP>\\    link/ethernet 52:54:00:00:00:03 brd ff",
                    "4: eth2: <UP>\\    link/ether 52:54:00:00:00:01 brd ff",
                ]
            )
        },
    },
    "windows": {
        "system": "Windows",
        "machine": "AMD64",
        "cpu_count": 16,
        "hostname": "DESKTOP-1A2B3C",
        "platform": "Windows-10-10.0.22631-SP0",
        "files": {},
        "commands": {
            "wmic Win32_Processor get ProcessorId": wmic("ProcessorId", "BFEBFBFF000906EA"),
            "wmic Win32_BaseBoard get SerialNumber": wmic("SerialNumber", "Default string"),
            "wmic Win32_BIOS get SerialNumber": wmic("SerialNumber", "To Be Filled By O.E.M."),
            "wmic Win32_DiskDrive get SerialNumber": "SerialNumber\nS4EWNX0N123456\nWD-2\n",
            "getmac /v /fo csv /nh": GETMAC,
        },
    },
    "windows-without-wmic": {
        "system": "Windows",
        "machine": "ARM64",
        "cpu_count": 12,
        "hostname": "SURFACE",
        "platform": "Windows-11-10.0.26100-SP0",
        "files": {},
        "commands": {"getmac /v /fo csv /nh": GETMAC},
    },
    "macos": {
        "system": "Darwin",
        "machine": "arm64",
        "cpu_count": 10,
        "hostname": "Anns-MacBook-Pro.local",
        "platform": "macOS-14.4.1-arm64-arm-64bit",
        "files": {},
        "commands": {
            "system_profiler SPHardwareDataType": SYSTEM_PROFILER,
            "ifconfig -a": IFCONFIG,
        },
    },
    "macos-commands-fail": {
        "system": "Darwin",
        "machine": "x86_64",
        "cpu_count": 4,
        "hostname": "imac",
        "platform": "macOS-12.7-x86_64-i386-64bit",
        "files": {},
        "commands": {},
    },
    "freebsd": {
        "system": "FreeBSD",
        "machine": "amd64",
        "cpu_count": 2,
        "hostname": "bsd",
        "platform": "FreeBSD-14.0-RELEASE-amd64-64bit-ELF",
        "files": {"/etc/machine-id": "0f5e3c2b1a09487766554433221100ff"},
        "commands": {"ip -o link show": IP_LINK},
    },
}


def host_for(scenario: dict[str, Any]) -> LegacyHost:
    files: dict[str, str] = scenario["files"]
    commands: dict[str, str] = scenario["commands"]
    return LegacyHost(
        system=lambda: scenario["system"],
        run=lambda argv: commands.get(" ".join(argv)),
        read_text=files.get,
        exists=lambda path: path in files,
        machine=lambda: scenario["machine"],
        cpu_count=lambda: scenario["cpu_count"],
        hostname=lambda: scenario["hostname"],
        platform_string=lambda: scenario["platform"],
    )


def test_scenario_components_by_hand() -> None:
    """The Linux scenario's components, spelled out."""
    assert _legacy.legacy_components(host_for(SCENARIOS["linux"])) == [
        "3d1219c7c4c5404aaa1f6d2a48adfda4",
        "3d1219c7c4c5404aaa1f6d2a48adfda4",
        _legacy.filter_cpuinfo(CPUINFO),
        "001A2B3C4D5E",
        "0A1B2C3D4E5F",
        "525400ABCDEF",
        "x64",
        "8",
        "build-07",
        "Linux-6.1.0-18-amd64-x86_64-with-glibc2.36",
    ]
    assert _legacy.legacy_components(host_for(SCENARIOS["windows-without-wmic"]))[:1] == [
        "001A2B3C4D5E"
    ]


def test_legacy_id_changes_with_hostname_and_kernel() -> None:
    """The instability stable mode exists to avoid."""
    scenario = dict(SCENARIOS["linux"])
    before = legacy_hash(_legacy.legacy_components(host_for(scenario)))
    scenario["hostname"] = "build-08"
    assert legacy_hash(_legacy.legacy_components(host_for(scenario))) != before


def official_python() -> Path:
    if OFFICIAL_PYTHON.exists():
        return OFFICIAL_PYTHON
    reason = f"official exisone-client venv missing at {OFFICIAL_PYTHON} (run scripts/bootstrap)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def run_official(script: str, stdin: str = "") -> Any:
    """Run a script with the official client's interpreter, outside the repo; parse its JSON."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    completed = subprocess.run(
        [str(official_python()), "-c", script],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(REPO_ROOT.parent),
        env=env,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


OFFICIAL_ON_FAKE_MACHINES = textwrap.dedent(
    """
    import io, json, os, platform, socket, subprocess, sys, types
    import exisone.hardware as hw

    results = {}
    for name, sc in json.load(sys.stdin).items():
        files, commands = sc["files"], sc["commands"]

        def fake_run(argv, **kwargs):
            out = commands.get(" ".join(argv))
            if out is None:
                raise FileNotFoundError(argv[0])
            return types.SimpleNamespace(returncode=0, stdout=out, stderr="")

        def fake_open(path, mode="r", *args, **kwargs):
            if path not in files:
                raise FileNotFoundError(path)
            return io.StringIO(files[path])

        subprocess.run = fake_run
        hw.open = fake_open
        os.path.exists = lambda path: path in files
        platform.system = lambda: sc["system"]
        platform.machine = lambda: sc["machine"]
        platform.platform = lambda *a, **k: sc["platform"]
        os.cpu_count = lambda: sc["cpu_count"]
        socket.gethostname = lambda: sc["hostname"]
        results[name] = hw.generate_hardware_id()
    print(json.dumps(results))
    """
)


def test_same_ids_as_the_official_client_on_fake_machines() -> None:
    official = run_official(OFFICIAL_ON_FAKE_MACHINES, stdin=json.dumps(SCENARIOS))
    ours = {
        name: legacy_hash(_legacy.legacy_components(host_for(scenario)))
        for name, scenario in SCENARIOS.items()
    }
    assert ours == official
    assert len(set(ours.values())) == len(SCENARIOS)


OFFICIAL_ON_THIS_MACHINE = textwrap.dedent(
    """
    import json, platform, sys
    from exisone import generate_hardware_id
    print(json.dumps({
        "hwid": generate_hardware_id(),
        "version": list(sys.version_info[:2]),
        "platform": platform.platform(),
    }))
    """
)


@pytest.fixture(scope="module")
def official_here() -> dict[str, Any]:
    result: dict[str, Any] = run_official(OFFICIAL_ON_THIS_MACHINE)
    return result


def test_legacy_mode_equals_the_official_client_on_this_machine(
    official_here: dict[str, Any],
) -> None:
    version = tuple(official_here["version"])
    if version != sys.version_info[:2]:
        pytest.skip(
            f"official venv runs Python {version[0]}.{version[1]}, these tests "
            f"{sys.version_info[0]}.{sys.version_info[1]}: platform.platform(), one of the "
            "legacy inputs, may differ between versions"
        )
    hardware.clear_cache()
    try:
        assert generate_hardware_id("legacy") == official_here["hwid"]
    finally:
        hardware.clear_cache()


def test_legacy_inputs_equal_the_official_clients_on_any_python(
    official_here: dict[str, Any],
) -> None:
    """Every input but platform.platform() is read by us; that one is taken from the official
    interpreter, so this runs on every Python version."""
    host = LegacyHost(platform_string=lambda: official_here["platform"])
    assert legacy_hash(_legacy.legacy_components(host)) == official_here["hwid"]
