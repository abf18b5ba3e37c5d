"""A bare ASGI app answering a fixed validate-like JSON body: the ceiling of Python under granian.

No framework, no middleware, no database: it reads the request body and sends one constant
answer with a content type and length. Served by the same granian, with the same worker count,
as ``exisone-server serve`` (``benchmarks.server.processes.bare_server``), it is what a worker
process can answer at most on this host; every server case is reported as a ratio to it. Served
only by the benchmark; not part of the shipped server.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BARE_BODY", "BARE_PATH", "app"]

BARE_PATH = "/bench/bare"
BARE_BODY = (
    b'{"isValid":true,"status":"licensed","expirationDate":"2099-12-31T00:00:00Z",'
    b'"features":[],"reason":"licensed"}'
)
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BARE_BODY)).encode()),
]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer every HTTP request with :data:`BARE_BODY` once its body has arrived."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body", False):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": BARE_BODY, "more_body": False})
