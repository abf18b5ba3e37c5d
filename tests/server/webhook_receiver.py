"""A real HTTP receiver on a free loopback port that records webhook deliveries (tests only)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))

    @property
    def event_id(self) -> str:
        return self.headers["exisone-webhook-id"]


def verify_signature(secret: str, received: Received, tolerance: int = 300) -> bool:
    """The receiver-side check exactly as docs/webhooks.md documents it."""
    timestamp = received.headers["exisone-webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + received.body, hashlib.sha256
    ).hexdigest()
    offered = [
        part.removeprefix("v1=")
        for part in received.headers["exisone-webhook-signature"].split(",")
        if part.strip().startswith("v1=")
    ]
    return any(hmac.compare_digest(expected, value.strip()) for value in offered)


class Receiver:
    """Answers each request with the next status of ``script`` (then 200); may hang first."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: list[int] = []
        self.hang = threading.Event()  # set: requests hang until ``release`` is set
        self.release = threading.Event()
        self.delay = 0.0
        self._lock = threading.Lock()
        self.url = ""

    def record(self, received: Received) -> int:
        with self._lock:
            self.requests.append(received)
            return self.script.pop(0) if self.script else 200

    def of(self, path: str) -> list[Received]:
        with self._lock:
            return [item for item in self.requests if item.path == path]

    async def wait_for(self, count: int, timeout: float = 20.0, path: str | None = None) -> None:
        deadline = time.monotonic() + timeout
        while len(self.of(path) if path else self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.requests)} requests received, wanted {count}")
            await asyncio.sleep(0.02)


@contextmanager
def running_receiver(
    ssl_context: ssl.SSLContext | None = None, host: str = "127.0.0.1"
) -> Iterator[Receiver]:
    """A receiver on a free port of ``host``; HTTPS with ``ssl_context`` (a server context)."""
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {key.lower(): value for key, value in self.headers.items()}
            if receiver.hang.is_set():
                receiver.requests.append(Received(self.path, headers, body))
                receiver.release.wait(60)
                return  # close without an answer
            if receiver.delay:
                time.sleep(receiver.delay)
            status = receiver.record(Received(self.path, headers, body))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 128

    server = Server((host, 0), Handler)
    server.daemon_threads = True
    if ssl_context is not None:
        server.socket = ssl_context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    scheme = "https" if ssl_context is not None else "http"
    receiver.url = f"{scheme}://{host}:{server.server_address[1]}"
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()


class ConnectionCounter:
    """Accepts TCP connections on ``(host, port)``, counts and closes them (a trap that must
    never be reached)."""

    def __init__(self, host: str, port: int) -> None:
        self.accepted = 0
        self._socket = socket.create_server((host, port))
        self._socket.settimeout(0.1)
        self.port: int = self._socket.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._socket.close()


@contextmanager
def connection_counter(host: str, port: int) -> Iterator[ConnectionCounter]:
    counter = ConnectionCounter(host, port)
    try:
        yield counter
    finally:
        counter.close()
