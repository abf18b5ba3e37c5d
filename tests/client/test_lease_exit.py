"""A held lease is released when its process ends: at interpreter exit and on SIGTERM (a real
process, a real socket server serving the test kit's endpoints)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from .socket_kit import SocketServer, serving

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

HOLDER = """
import signal, sys, time
from exisone import ExisOneClient

url, key, mode, ttl = sys.argv[1:5]
if mode == "chained":
    def app_handler(signum, frame):
        print("app handler", flush=True)
        sys.exit(3)
    signal.signal(signal.SIGTERM, app_handler)
client = ExisOneClient(base_url=url, access_token="exo_at_fake_secret", state_dir=False)
lease = client.lease(
    key, "A" * 64, "App", ttl_seconds=int(ttl), handle_sigterm=mode != "no-handler"
)
lease.acquire()
print("held", flush=True)
if mode == "exit":
    sys.exit(0)
time.sleep(60)
"""


@pytest.fixture
def socket_server() -> Iterator[SocketServer]:
    with serving() as server:
        yield server


def hold(server: SocketServer, key: str, mode: str, ttl: int = 600) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, server.url, key, mode, str(ttl)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if line.strip() != "held":
        process.kill()
        _, errors = process.communicate()
        pytest.fail(f"the holder did not get its lease: {line!r} {errors}")
    assert server.live(key) == 1
    return process


def finish(process: subprocess.Popen[str]) -> int:
    process.communicate(timeout=10)  # waits, and closes the pipes
    return process.returncode


def test_sigterm_releases_then_ends_the_process_as_the_signal_would(
    socket_server: SocketServer,
) -> None:
    key = socket_server.fake.add_license("App", floating=True).key
    process = hold(socket_server, key, "sigterm")
    process.send_signal(signal.SIGTERM)
    assert finish(process) == -signal.SIGTERM
    assert socket_server.live(key) == 0


def test_sigterm_chains_the_applications_own_handler(socket_server: SocketServer) -> None:
    key = socket_server.fake.add_license("App", floating=True).key
    process = hold(socket_server, key, "chained")
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=10)
    assert process.returncode == 3 and "app handler" in output
    assert socket_server.live(key) == 0


def test_interpreter_exit_releases(socket_server: SocketServer) -> None:
    key = socket_server.fake.add_license("App", floating=True).key
    process = hold(socket_server, key, "exit")
    assert finish(process) == 0
    assert socket_server.live(key) == 0


def test_without_the_handler_sigterm_leaves_the_seat_to_its_ttl(
    socket_server: SocketServer,
) -> None:
    key = socket_server.fake.add_license("App", floating=True).key
    process = hold(socket_server, key, "no-handler")
    process.send_signal(signal.SIGTERM)
    assert finish(process) == -signal.SIGTERM
    assert socket_server.live(key) == 1


def test_a_killed_process_keeps_nothing_past_its_ttl(socket_server: SocketServer) -> None:
    key = socket_server.fake.add_license("App", floating=True).key
    process = hold(socket_server, key, "sigkill", ttl=1)
    time.sleep(2.0)  # twice the TTL: the process's heartbeats keep the seat
    assert socket_server.live(key) == 1
    with socket_server.lock:
        assert sum(lease.heartbeats for lease in socket_server.fake.leases.values()) >= 3
    process.kill()  # nothing can be released now
    assert finish(process) == -signal.SIGKILL
    deadline = time.monotonic() + 3.0
    while socket_server.live(key) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert socket_server.live(key) == 0  # the seat came back within the TTL
