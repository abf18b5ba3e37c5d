"""A request body must arrive within a bounded time (``EXISONE_BODY_TIMEOUT_SECONDS``).

granian closes a connection whose headers do not arrive within 30 s, but once the headers are
in it waits for the body for ever: connections that announce a body and then send it a byte at
a time (or never) stayed open. This pure ASGI wrapper (put around the app by
:func:`..serving.load_app`) gives each request a deadline, counted from the moment its headers
were read. A wait for more of the body still going on at the deadline (checked every
:data:`SWEEP_SECONDS`) is given up, the app's work on that request is abandoned (the wait raises
an exception the app's error handlers do not catch), and the client gets **408**
``{"error": "request_timeout", ...}`` with ``Connection: close`` (when no answer was started
yet), after which granian closes the connection. Waits after the body is complete (for a
disconnect) have no deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from ..security.headers import security_headers

__all__ = ["BODY_TIMEOUT_CODE", "with_body_deadline"]

Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]

BODY_TIMEOUT_CODE = "request_timeout"
#: How often waits for a body are checked against their deadline (its precision).
SWEEP_SECONDS = 1.0
#: The cancel message of a wait that reached the deadline.
_EXPIRED = "exisone: request body deadline"


class _BodyTooSlow(BaseException):
    """Raised by ``receive`` at the deadline; a BaseException, so that the app's handlers
    (which catch Exception) let it through to :func:`with_body_deadline`."""


class _Waits:
    """The requests of one event loop that are waiting for more of their body, with their
    deadlines. One timer sweeps them every :data:`SWEEP_SECONDS` while there are any and
    cancels the waits past their deadline: a timer per request cost more than the rest of
    this wrapper."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.deadlines: dict[asyncio.Task[Any], float] = {}
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, task: asyncio.Task[Any], deadline: float) -> None:
        self.deadlines[task] = deadline
        if self._timer is None:
            self._timer = self.loop.call_later(SWEEP_SECONDS, self._sweep)

    def _sweep(self) -> None:
        now = self.loop.time()
        expired = [task for task, deadline in self.deadlines.items() if deadline <= now]
        for task in expired:
            del self.deadlines[task]
            task.cancel(_EXPIRED)
        self._timer = self.loop.call_later(SWEEP_SECONDS, self._sweep) if self.deadlines else None


def with_body_deadline(app: Asgi, seconds: float) -> Asgi:
    """``app`` whose requests must have sent their whole body within ``seconds`` (0: no limit)."""
    if seconds <= 0:
        return app
    answer = msgspec.json.encode(
        {
            "error": BODY_TIMEOUT_CODE,
            "message": f"The request body did not arrive within {seconds:g} seconds.",
        }
    )
    waits: _Waits | None = None

    async def bounded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal waits
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        if waits is None or waits.loop is not loop:
            waits = _Waits(loop)
        watched = waits
        deadline = loop.time() + seconds
        body_done = False
        answered = False

        async def receiving() -> Any:
            nonlocal body_done
            if body_done:
                return await receive()
            task = asyncio.current_task(loop)  # given the loop: no lookup of the running one
            assert task is not None
            watched.watch(task, deadline)
            try:
                message = await receive()
            except asyncio.CancelledError as cancelled:
                if cancelled.args[:1] != (_EXPIRED,):
                    raise
                task.uncancel()
                raise _BodyTooSlow from None
            finally:
                watched.deadlines.pop(task, None)
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def sending(message: dict[str, Any]) -> None:
            nonlocal answered
            answered = True
            await send(message)

        try:
            await app(scope, receiving, sending)
        except _BodyTooSlow:
            if not answered:
                await _refuse(scope, send, answer)

    return bounded


async def _refuse(scope: dict[str, Any], send: Any, body: bytes) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *security_headers(scope),  # type: ignore[arg-type]
    ]
    await send({"type": "http.response.start", "status": 408, "headers": headers})
    await send({"type": "http.response.body", "body": body})
