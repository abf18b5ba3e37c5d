"""examples/offline_cli: the air-gapped flow end to end, with the tool unable to open a socket.

The tool prints its hardware ID, the publisher issues an offline code with ``exisone offline
issue`` against a real server, and the tool (in a process whose sockets refuse to connect)
accepts it, shows it and does its work; codes for another machine or altered codes are refused.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.examples.live_server import DemoServer

TOOL = Path(__file__).resolve().parents[2] / "examples" / "offline_cli" / "acme_report.py"
NO_NETWORK = """\
import socket

def _refuse(*args, **kwargs):
    raise OSError("network disabled for this test (air-gapped machine)")

socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
"""


@pytest.fixture
def air_gap(tmp_path: Path, server: DemoServer) -> dict[str, str]:
    """The air-gapped machine: no sockets, the vendor's public key, a license file."""
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(NO_NETWORK, encoding="utf-8")
    (tmp_path / "public-key.pem").write_text(server.demo["publicKeyPem"], encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EXISONE_", "ACME_"))}
    env.update(
        PYTHONPATH=str(guard),
        ACME_PUBLIC_KEY_FILE=str(tmp_path / "public-key.pem"),
        ACME_LICENSE_FILE=str(tmp_path / "home" / "license.txt"),
        ACME_PRODUCT=server.product,
    )
    return env


def tool(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def publisher_issues(server: DemoServer, key: str, hardware_id: str, out: Path) -> None:
    """What the publisher runs: ``exisone offline issue KEY HWID --out FILE``."""
    env = dict(os.environ, EXISONE_BASEURL=server.base_url, EXISONE_TOKEN=server.token)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "exisone._cli",
            "offline",
            "issue",
            key,
            hardware_id,
            "--out",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def new_key(server: DemoServer) -> str:
    with server.publisher() as http:
        answer = http.post(
            "/api/activationkey/generate",
            json={
                "productName": server.product,
                "email": "air@example.com",
                "planId": server.demo["planId"],
            },
        )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["activationKey"])


def test_the_guard_really_blocks_the_network(air_gap: dict[str, str], server: DemoServer) -> None:
    port = server.base_url.rsplit(":", 1)[1]
    code = f"import socket; socket.create_connection(('127.0.0.1', {port}))"
    done = subprocess.run([sys.executable, "-c", code], env=air_gap, capture_output=True, text=True)
    assert done.returncode != 0
    assert "network disabled" in done.stderr


def test_air_gapped_activation_end_to_end(
    air_gap: dict[str, str], server: DemoServer, tmp_path: Path
) -> None:
    assert tool(air_gap, "run").returncode == 3  # not activated yet

    shown = tool(air_gap, "hwid")
    assert shown.returncode == 0, shown.stderr
    hardware_id = shown.stdout.strip()
    assert re.fullmatch(r"[0-9A-F]{64}", hardware_id)

    key = new_key(server)
    publisher_issues(server, key, hardware_id, tmp_path / "code.txt")

    activated = tool(air_gap, "activate", str(tmp_path / "code.txt"))
    assert activated.returncode == 0, activated.stderr
    assert activated.stdout.startswith("Activated. Licensed to air@example.com - DemoApp")
    assert "features: Export, Pro" in activated.stdout

    status = tool(air_gap, "status")
    assert status.returncode == 0, status.stderr
    assert "expires 2049-12-31" in status.stdout
    done = tool(air_gap, "run")
    assert (done.returncode, done.stdout.strip()) == (0, "Report written (with PDF export).")

    assert tool(air_gap, "deactivate").returncode == 0
    assert tool(air_gap, "status").returncode == 3


def test_a_code_for_another_machine_is_refused(
    air_gap: dict[str, str], server: DemoServer, tmp_path: Path
) -> None:
    publisher_issues(server, new_key(server), "F" * 64, tmp_path / "other.txt")

    refused = tool(air_gap, "activate", "-", stdin=(tmp_path / "other.txt").read_text())

    assert refused.returncode == 3
    assert "bound to a different machine" in refused.stderr
    assert not Path(air_gap["ACME_LICENSE_FILE"]).exists()


def test_an_altered_code_is_refused(
    air_gap: dict[str, str], server: DemoServer, tmp_path: Path
) -> None:
    hardware_id = tool(air_gap, "hwid").stdout.strip()
    publisher_issues(server, new_key(server), hardware_id, tmp_path / "code.txt")
    code = (tmp_path / "code.txt").read_text().strip()
    altered = code[:20] + ("0" if code[20] != "0" else "1") + code[21:]

    refused = tool(air_gap, "activate", "-", stdin=altered)

    assert refused.returncode == 3
    assert "this code cannot be used" in refused.stderr
