"""The access log: one line per HTTP request on the ``exisone_server.access`` logger.

A pure ASGI wrapper (``serve`` puts it around the app in :func:`..serving.load_app`), so it
sees every answer, also those made ahead of the framework. Each line holds the time (UTC, when
the request ended; lines reach the log in batches, at most 50 ms later), the client IP,
the method, the path (activation keys and offline codes masked, see
:func:`.log_safety.mask_path`), the query's parameter names (values never), the HTTP version,
the status, the body bytes sent and the duration in milliseconds; every field is escaped, so a
request cannot add a line or a control character to the log.

``text`` (the default), one line::

    2026-01-31T12:00:00.123Z 203.0.113.7 "GET /api/license/****-****-****-WXYZ/usage HTTP/1.1"
    200 88 1.9ms

``json``: one JSON object per line, keys ``time``, ``client``, ``method``, ``path``, ``query``
(absent without one), ``http``, ``status`` (null when no answer was sent), ``bytes``, ``ms``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import select
import sys
import time
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import IO, Any

from .log_safety import escape, mask_path, mask_query

__all__ = ["ACCESS_LOGGER", "AccessLog", "configure_access_logger", "with_access_log"]

Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]

#: The logger every access line is written to (INFO).
ACCESS_LOGGER = "exisone_server.access"
#: Seconds a line may wait for the lines written with it, and how many lines may wait.
FLUSH_SECONDS = 0.05
FLUSH_LINES = 256


class AccessLog(str, Enum):
    """``EXISONE_ACCESS_LOG`` / ``serve --access-log``."""

    TEXT = "text"
    JSON = "json"
    OFF = "off"


def _utc_stamp(now: float) -> str:
    """``2026-01-31T12:00:00.123Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


class _StderrLines(logging.StreamHandler):  # type: ignore[type-arg]
    """The access logger's own handler: each line to stderr as it is."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(logging.Formatter("%(message)s"))


def configure_access_logger() -> logging.Logger:
    """The access logger; unless it was configured already (handlers of its own), its lines
    go to stderr as they are (no level or name before them), not to the parent loggers."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not logger.handlers:
        logger.addHandler(_StderrLines())
        logger.propagate = False
        logger.setLevel(logging.INFO)
    return logger


class _Batch:
    """Lines written together, at most :data:`FLUSH_SECONDS` after the first of them (or once
    :data:`FLUSH_LINES` wait), in one ``write`` per piece of whole lines of at most ``PIPE_BUF``
    bytes: one system call for many requests, and a pipe that several worker processes share
    never gets their lines mixed. Each line is stamped when its request ends. A write per turn
    of the event loop made the log a quarter of a loaded worker's time: each system call lets
    go of the GIL that granian's threads wait for."""

    def __init__(self, stream: IO[str], stamped: Callable[[str, str], str]) -> None:
        self._stream = stream
        self._stamped = stamped
        self._pending: list[str] = []
        self._timer: asyncio.TimerHandle | None = None
        self._second = -1
        self._second_text = ""
        atexit.register(self.flush)

    def _stamp(self, now: float) -> str:
        """:func:`_utc_stamp`, formatting the seconds once per second."""
        second = int(now)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._second_text}.{int(now * 1000) % 1000:03d}Z"

    def add(self, line: str) -> None:
        self._pending.append(self._stamped(self._stamp(time.time()), line))
        if len(self._pending) >= FLUSH_LINES:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        lines, self._pending = self._pending, []
        if not lines:
            return
        data = "".join([line + "\n" for line in lines]).encode("utf-8", "backslashreplace")
        start = 0
        while len(data) - start > select.PIPE_BUF:
            end = (
                data.rfind(b"\n", start, start + select.PIPE_BUF) + 1 or data.find(b"\n", start) + 1
            )
            self._write(data[start:end])
            start = end
        self._write(data[start:])

    def _write(self, data: bytes) -> None:
        try:
            self._stream.flush()  # what others wrote through it goes first
            os.write(self._stream.fileno(), data)
        except (OSError, ValueError):  # no descriptor (a test's stream), or a closed one
            with contextlib.suppress(OSError, ValueError):
                self._stream.write(data.decode())
                self._stream.flush()


def _writer(
    logger: logging.Logger, stamped: Callable[[str, str], str]
) -> tuple[Callable[[str], None], Callable[[], None]]:
    """How a line (without its time) reaches the log, and how the lines waiting to be written
    are written now (at the app's shutdown). With the logger as
    :func:`configure_access_logger` left it, onto its stream in batches (:class:`_Batch`): a
    log record per request, with the handler's lock, formatter and system call, cost more than
    the rest of the access log together. Configured otherwise (the operator's handlers or
    filters), through it as records."""
    handlers = logger.handlers
    if len(handlers) == 1 and type(handlers[0]) is _StderrLines and not logger.filters:
        batch = _Batch(handlers[0].stream, stamped)

        def write(line: str) -> None:
            if logger.isEnabledFor(logging.INFO):
                batch.add(line)

        return write, batch.flush

    def handle(line: str) -> None:
        if logger.isEnabledFor(logging.INFO):
            text = stamped(_utc_stamp(time.time()), line)
            logger.handle(logger.makeRecord(logger.name, logging.INFO, __file__, 0, text, (), None))

    return handle, lambda: None


def with_access_log(app: Asgi, form: AccessLog, logger: logging.Logger | None = None) -> Asgi:
    """``app`` logging each HTTP request in ``form`` (``off``: ``app`` itself) on ``logger``
    (default: :func:`configure_access_logger`)."""
    if form is AccessLog.OFF:
        return app
    line, stamped = (
        (_json_line, _json_stamped) if form is AccessLog.JSON else (_text_line, _text_stamped)
    )
    write, flush = _writer(logger or configure_access_logger(), stamped)

    async def logged(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":

            async def stopping(message: dict[str, Any]) -> None:
                if message["type"].startswith("lifespan.shutdown."):  # complete or failed
                    flush()  # the server may end the process without running atexit hooks
                await send(message)

            await app(scope, receive, stopping)
            return
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status: int | None = None
        size = 0

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status, size
            if message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            elif message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, sending)
        finally:
            write(line(scope, status, size, (time.perf_counter() - started) * 1000))

    return logged


#: Paths seen that needed neither masking nor escaping (a few hundred at most).
_PLAIN_PATHS: set[str] = set()
_PLAIN_PATHS_MAX = 512
#: Methods and HTTP versions that need no escaping.
_PLAIN_WORDS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "1.0", "1.1", "2", "3"}
)


def _word(scope: dict[str, Any], name: str, default: str) -> str:
    value = scope.get(name, default)
    return value if value in _PLAIN_WORDS else escape(str(value), strict=True)


def _client(scope: dict[str, Any]) -> str:
    client = scope.get("client")
    return escape(str(client[0]), strict=True) if client else "-"


def _target(scope: dict[str, Any]) -> tuple[str, str]:
    """The path (masked, escaped) and the query's names."""
    path = scope.get("path", "")
    query = scope.get("query_string", b"")
    if path in _PLAIN_PATHS:
        shown = path
    else:
        shown = mask_path(path)
        if shown == path and len(_PLAIN_PATHS) < _PLAIN_PATHS_MAX:
            _PLAIN_PATHS.add(path)
    return shown, mask_query(query) if query else ""


#: The start of a line (client, method, path, version) of requests whose path needed neither
#: masking nor escaping and that had no query, by those four fields (a few thousand at most):
#: the same callers ask the same routes.
_TEXT_STARTS: dict[tuple[Any, ...], str] = {}
_JSON_STARTS: dict[tuple[Any, ...], str] = {}
_STARTS_MAX = 4096


def _line_start(
    scope: dict[str, Any],
    starts: dict[tuple[Any, ...], str],
    make: Callable[[dict[str, Any]], str],
) -> str:
    """``make(scope)``, the start of the request's line, kept in ``starts`` for a path that
    needed neither masking nor escaping and a request without a query."""
    path = scope.get("path")
    if scope.get("query_string") or path is None or path not in _PLAIN_PATHS:
        return make(scope)
    client = scope.get("client")
    key = (client[0] if client else None, scope.get("method"), path, scope.get("http_version"))
    start = starts.get(key)
    if start is None:
        if len(starts) >= _STARTS_MAX:
            starts.clear()
        start = starts[key] = make(scope)
    return start


def _text_start(scope: dict[str, Any]) -> str:
    path, query = _target(scope)
    target = f"{path}?{query}" if query else path
    return (
        f'{_client(scope)} "{_word(scope, "method", "-")} {target} '
        f'HTTP/{_word(scope, "http_version", "1.1")}"'
    )


def _text_line(scope: dict[str, Any], status: int | None, size: int, elapsed_ms: float) -> str:
    shown = "-" if status is None else status
    start = _line_start(scope, _TEXT_STARTS, _text_start)
    return f"{start} {shown} {size} {elapsed_ms:.1f}ms"


def _text_stamped(stamp: str, line: str) -> str:
    return f"{stamp} {line}"


def _json_string(text: str) -> str:
    """A strictly escaped field as the inside of a JSON string: it holds no control character
    and no ``"``, only the backslashes of its escapes, which JSON wants doubled."""
    return text.replace("\\", "\\\\") if "\\" in text else text


def _json_start(scope: dict[str, Any]) -> str:
    path, query = _target(scope)
    method = _json_string(_word(scope, "method", "-"))
    version = _json_string(_word(scope, "http_version", "1.1"))
    queried = f',"query":"{_json_string(query)}"' if query else ""
    return (
        f'{{"client":"{_json_string(_client(scope))}","method":"{method}",'
        f'"path":"{_json_string(path)}"{queried},"http":"{version}"'
    )


def _json_line(scope: dict[str, Any], status: int | None, size: int, elapsed_ms: float) -> str:
    """The JSON object without its ``time`` (:func:`_json_stamped` adds it), written out
    directly: every text field is strictly escaped already (a JSON encoder costs more)."""
    shown = "null" if status is None else status
    start = _line_start(scope, _JSON_STARTS, _json_start)
    return f'{start},"status":{shown},"bytes":{size},"ms":{elapsed_ms:.3f}}}'


def _json_stamped(stamp: str, line: str) -> str:
    return f'{{"time":"{stamp}",{line[1:]}'
