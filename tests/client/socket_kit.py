"""The test kit's server behind a real HTTP socket on 127.0.0.1 (for other processes)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from exisone.testing import FakeExisOneServer, KeyPair

__all__ = ["SocketServer", "serving"]


class SocketServer:
    """The test kit's server behind a real HTTP socket."""

    def __init__(self, key_pair: KeyPair | None = None) -> None:
        self.fake = FakeExisOneServer(key_pair=key_pair)
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


@contextmanager
def serving(key_pair: KeyPair | None = None) -> Iterator[SocketServer]:
    """A :class:`SocketServer` answering on a free port until the block ends."""
    server = SocketServer(key_pair)
    thread = threading.Thread(target=server.http.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.http.shutdown()
        server.http.server_close()
