"""A held lease is released when its process ends: at interpreter exit and on SIGTERM (a real
process, a real socket server serving the test kit's endpoints)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from exisone.testing import FakeExisOneServer

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

HOLDER = """
import signal, sys, time
from exisone import ExisOneClient

url, key, mode = sys.argv[1:4]
if mode == "chained":
    def app_handler(signum, frame):
        print("app handler", flush=True)
        sys.exit(3)
    signal.signal(signal.SIGTERM, app_handler)
client = ExisOneClient(base_url=url, access_token="exo_at_fake_secret", state_dir=False)
lease = client.lease(key, "A" * 64, "App", ttl_seconds=600, handle_sigterm=mode != "no-handler")
lease.acquire()
print("held", flush=True)
if mode == "exit":
    sys.exit(0)
time.sleep(60)
"""


class SocketServer:
    """The test kit's server behind a real HTTP socket."""

    def __init__(self) -> None:
        self.fake = FakeExisOneServer()
        self.fake.add_product("App")
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = httpx.Request(
                    "POST",
                    f"http://fake{self.path}",
                    headers=dict(self.headers.items()),
                    content=body,
                )
                with outer.lock:
                    reply = outer.fake.handle_request(request)
                self.send_response(reply.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.content)))
                self.end_headers()
                self.wfile.write(reply.content)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"

    def live(self, key: str) -> int:
        with self.lock:
            return len(self.fake.live_leases(key))


@pytest.fixture
def socket_server() -> Iterator[SocketServer]:
    server = SocketServer()
    thread = threading.Thread(target=server.http.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.http.shutdown()
        server.http.server_close()


def hold(server: SocketServer, key: str, mode: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, server.url, key, mode],
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
