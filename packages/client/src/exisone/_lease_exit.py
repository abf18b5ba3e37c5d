"""Releasing held leases when the process ends: at interpreter exit (``atexit``) and on
SIGTERM (a handler installed from the main thread only, chaining the one it replaced).

Each held lease registers a blocking releaser that sends its release through a connection of
its own (never the client's pool, which the interrupted code may hold), with a short timeout.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
from types import FrameType
from typing import Any, Callable, Union

import httpx

from ._core import ClientCore
from ._http import VerifyTypes, ssl_verify

__all__: list[str] = []

logger = logging.getLogger("exisone")

#: Seconds one release may take at exit (connect and read).
EXIT_RELEASE_TIMEOUT = 3.0

Handler = Union[Callable[[int, Union[FrameType, None]], Any], int, None]

_lock = threading.RLock()  # reentrant: the SIGTERM handler may interrupt a holder
_releasers: dict[int, Callable[[], None]] = {}
_atexit_installed = False
_previous: Handler = None
_sigterm_installed = False


def blocking_releaser(
    core: ClientCore, verify: VerifyTypes, transport: object, lease_id: str
) -> Callable[[], None] | None:
    """A function that releases ``lease_id`` on a fresh connection; ``None`` when the client's
    transport cannot be used without an event loop (an async-only custom transport)."""
    if transport is not None and not isinstance(transport, httpx.BaseTransport):
        return None
    sync_transport = transport if isinstance(transport, httpx.BaseTransport) else None
    call = core.lease_release(lease_id)

    def release() -> None:
        with httpx.Client(
            headers=core.headers,
            timeout=EXIT_RELEASE_TIMEOUT,
            verify=ssl_verify(verify),
            transport=sync_transport,
            follow_redirects=False,
        ) as http:
            http.request(
                call.method,
                core.url(call.path),
                content=call.body,
                headers=core.request_headers(call),
            )

    return release


def register(key: int, releaser: Callable[[], None], handle_sigterm: bool) -> None:
    global _atexit_installed
    with _lock:
        _releasers[key] = releaser
        if not _atexit_installed:
            atexit.register(release_all)
            _atexit_installed = True
    if handle_sigterm:
        _install_sigterm()


def unregister(key: int) -> None:
    with _lock:
        _releasers.pop(key, None)


def release_all() -> int:
    """Release every registered lease now (each once); how many releases were sent."""
    with _lock:
        pending = list(_releasers.values())
        _releasers.clear()
    sent = 0
    for releaser in pending:
        try:
            releaser()
            sent += 1
        except Exception as error:  # the lease runs out by its TTL anyway
            logger.debug("lease release at exit failed: %s", type(error).__name__)
    return sent


def _install_sigterm() -> None:
    global _previous, _sigterm_installed
    sigterm = getattr(signal, "SIGTERM", None)
    if sigterm is None or threading.current_thread() is not threading.main_thread():
        return
    with _lock:
        if _sigterm_installed:
            return
        try:
            _previous = signal.signal(sigterm, _on_sigterm)
        except (ValueError, OSError) as error:  # not the main interpreter, or not allowed
            logger.debug("no SIGTERM handler installed: %s", error)
            return
        _sigterm_installed = True


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    release_all()
    previous = _previous
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_IGN:
        return
    else:  # the default action: end the process, as by the signal
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
