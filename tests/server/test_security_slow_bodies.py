"""Slow bodies: a flood of connections that send their headers and then only part of the body
neither blocks other clients nor stays open: each is answered 408 ``request_timeout`` and closed
once ``EXISONE_BODY_TIMEOUT_SECONDS`` have passed (a real ``exisone-server serve``)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest

from exisone_server.config import Settings

from .security_servers import Server, demo, running

pytestmark = pytest.mark.slow

BODY_TIMEOUT_S = 4
SLOW_CONNECTIONS = 200
#: Seconds beyond the timeout within which every slow connection must have been answered.
MARGIN_S = 10


def _address(server: Server) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").split(":")
    return host, int(port)


def _slow_request(path: str, announced: int, sent: bytes, token: str = "") -> bytes:
    """A request whose headers announce ``announced`` body bytes, with ``sent`` of them (with
    ``token``, ``Connection: close`` too)."""
    auth = f"Authorization: ExisOneApi {token}\r\nConnection: close\r\n" if token else ""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n{auth}"
        f"Content-Length: {announced}\r\n\r\n"
    )
    return head.encode() + sent


def _read_until_closed(connection: socket.socket, deadline: float) -> bytes:
    """Everything the server sends until it closes the connection (or the deadline passes)."""
    answer = b""
    while time.monotonic() < deadline:
        connection.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = connection.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return answer
        if not chunk:
            return answer + b"<closed>"
        answer += chunk
    return answer


@contextmanager
def _slow_flood(server: Server, count: int) -> Iterator[list[socket.socket]]:
    """``count`` connections, each announcing a 100-byte body and sending 10 bytes of it."""
    with ExitStack() as stack:
        connections = []
        for index in range(count):
            connection = stack.enter_context(socket.create_connection(_address(server), 10))
            path = "/api/license/validate" if index % 2 else "/api/license/activate"
            connection.sendall(_slow_request(path, 100, b'{"activat'))
            connections.append(connection)
        yield connections


def test_slow_bodies_time_out_while_others_are_served(settings: Settings) -> None:
    token = str(demo(settings)["accessToken"])
    env = {"EXISONE_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT_S)}
    with running(settings, 1, env=env) as (server,), _slow_flood(server, SLOW_CONNECTIONS) as slow:
        flooded_at = time.monotonic()
        health = httpx.get(f"{server.url}/health", timeout=BODY_TIMEOUT_S)
        answered_at = time.monotonic()
        assert health.status_code == 200
        # a body that takes a while but arrives within the time is read as usual
        with socket.create_connection(_address(server), 10) as patient:
            body = b'{"activationKey": "NOPE-NOPE-NOPE-NOPE", "hardwareId": "SLOW-IN-TIME"}'
            patient.sendall(_slow_request("/api/license/validate", len(body), body[:10], token))
            time.sleep(1)
            patient.sendall(body[10:])
            patient_answer = _read_until_closed(patient, time.monotonic() + 5)
        deadline = flooded_at + BODY_TIMEOUT_S + MARGIN_S
        answers = [_read_until_closed(connection, deadline) for connection in slow]
        output = server.output_when(lambda text: text.count('" 408 ') >= SLOW_CONNECTIONS)

    assert answered_at - flooded_at < BODY_TIMEOUT_S  # served before any slow one was let go
    assert patient_answer.startswith(b"HTTP/1.1 200 "), patient_answer[:200]
    assert b'"isValid":false' in patient_answer  # the whole body was read and validated
    for answer in answers:
        head, _, rest = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert b"connection: close" in head.lower()
        assert rest.endswith(b"<closed>"), answer[-200:]
        body = json.loads(rest.removesuffix(b"<closed>"))
        assert body["error"] == "request_timeout" and str(BODY_TIMEOUT_S) in body["message"]
    assert output.count('HTTP/1.1" 408 ') == SLOW_CONNECTIONS, output[-2000:]
