"""deploy/Dockerfile built and run with Debian's podman on a base image made from Debian's
packages (deploy/base-image: no container registry is reachable here): the image serves as a
non-root user, answers /health/live and /health/ready, passes its own HEALTHCHECK and stops
with exit code 0 on SIGTERM.

Needs root, podman, runc and debootstrap (.ci/run installs them); elsewhere it is skipped with
the reason, under CI=true it fails. This machine kind runs podman with two adjustments, passed
here and not part of the image: crun refuses its hybrid cgroup layout ("cgroups in hybrid mode
not supported"), so the build runs with chroot isolation and the container with runc and the
cgroupfs manager; and no runtime may raise the open-files and processes limits, so the
container gets limits below the machine's.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BASE = "localhost/exisone-base:bookworm"
IMAGE = "localhost/exisone-server:ci"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
RUN_ADJUSTMENTS = [
    "--runtime=runc",
    "--cgroup-manager=cgroupfs",
]
LIMITS = ["--ulimit=nofile=4096:4096", "--ulimit=nproc=4096:4096"]


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "building images with podman here needs root"
    for tool in ("podman", "runc", "debootstrap"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (.ci/run installs it from Debian)"
    return None


def _podman(
    *args: str, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    finished = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and finished.returncode != 0:
        pytest.fail(f"podman {' '.join(args)} failed:\n{finished.stdout}\n{finished.stderr}")
    return finished


@pytest.fixture(scope="module")
def image() -> str:
    """The image, built from the working tree (the base image is made once per machine)."""
    if (reason := _missing()) is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    started = time.monotonic()
    if _podman("image", "exists", BASE, check=False).returncode != 0:
        subprocess.run([str(ROOT / "deploy" / "base-image"), BASE], check=True, timeout=900)
    based = time.monotonic()
    build = [
        "build",
        "--format=docker",  # keeps the HEALTHCHECK (the OCI format has none)
        "--isolation=chroot",
        "--network=host",
        f"--build-arg=BASE={BASE}",
        f"--tag={IMAGE}",
        "--file=deploy/Dockerfile",
    ]
    if CA_BUNDLE.is_file():  # this machine reaches the package index through a proxy of its own
        build += [
            f"--volume={CA_BUNDLE}:/run/host-ca.crt:ro",
            "--build-arg=PIP_CERT=/run/host-ca.crt",
        ]
    subprocess.run(["podman", *build, str(ROOT)], check=True, timeout=900, cwd=ROOT)
    print(
        f"base image {based - started:.0f} s (0: made before), "
        f"server image {time.monotonic() - based:.0f} s"
    )
    return IMAGE


@pytest.fixture
def container(image: str) -> Iterator[tuple[str, str]]:
    """The image running on a free port of the host; its name and URL."""
    name = f"exisone-test-{os.getpid()}"
    port = free_port()
    _podman(
        *RUN_ADJUSTMENTS,
        "run",
        "--detach",
        f"--name={name}",
        *LIMITS,
        "--network=host",
        f"--env=EXISONE_PORT={port}",
        f"--env=EXISONE_MASTER_KEY={base64.b64encode(os.urandom(32)).decode()}",
        image,
    )
    try:
        yield name, f"http://127.0.0.1:{port}"
    finally:
        _podman(*RUN_ADJUSTMENTS, "rm", "--force", name, check=False)


def _wait_for(url: str, timeout: float = 90) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_the_image_serves_as_a_user_and_stops_cleanly(container: tuple[str, str]) -> None:
    name, url = container
    started = time.monotonic()
    live = _wait_for(f"{url}/health/live")
    print(f"container answered /health/live after {time.monotonic() - started:.1f} s")
    assert live.status_code == 200 and live.json()["status"] == "live"
    ready = httpx.get(f"{url}/health/ready", timeout=5)
    assert ready.status_code == 200, ready.text
    assert _podman(*RUN_ADJUSTMENTS, "exec", name, "id", "-un").stdout.strip() == "exisone"
    user = _podman("image", "inspect", "--format={{.Config.User}}", IMAGE).stdout.strip()
    assert user == "exisone"
    assert _podman(*RUN_ADJUSTMENTS, "healthcheck", "run", name, check=False).returncode == 0
    _podman(*RUN_ADJUSTMENTS, "stop", "--time=40", name)
    code = _podman(*RUN_ADJUSTMENTS, "inspect", "--format={{.State.ExitCode}}", name).stdout
    assert code.strip() == "0", _podman(*RUN_ADJUSTMENTS, "logs", name).stderr
    assert "webhook worker stopped" in _podman(*RUN_ADJUSTMENTS, "logs", name).stderr
