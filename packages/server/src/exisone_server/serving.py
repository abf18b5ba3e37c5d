"""``exisone-server serve``: the app under granian, one worker process per ``--workers``.

granian (Rust HTTP/1.1 and HTTP/2, TLS, its own process supervisor) replaced uvicorn here: on
this kind of machine it halved the CPU a validation costs outside the app and cut the p99
latency at 64 connections from 100-180 ms to about 20 ms (docs/benchmarks.md).

Each worker builds the app with :func:`load_app`: the factory named by ``--app-factory``,
wrapped (pure ASGI, outside the app) so that a request body must arrive in time
(``EXISONE_BODY_TIMEOUT_SECONDS``, :mod:`.kit.body_deadline`), each request is written to our
access log (``EXISONE_ACCESS_LOG``, :mod:`.kit.access_log`; granian's own is off), and
``X-Forwarded-For`` and ``X-Forwarded-Proto`` count only when the connection comes from a trusted
proxy (``EXISONE_FORWARDED_ALLOW_IPS``). The worker reads these settings from its environment.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Settings
from .kit.access_log import AccessLog, with_access_log
from .kit.body_deadline import with_body_deadline
from .kit.log_format import LogFormat, granian_log_config
from .kit.proxy_headers import TrustedProxies, with_proxy_headers

__all__ = [
    "ServeOptions",
    "access_log_form",
    "die_with_supervisor",
    "load_app",
    "logs_access",
    "run",
    "tls_key_problem",
]

#: The oldest TLS version offered (granian's default is 1.3 only; 1.2 keeps older clients).
TLS_MINIMUM = "tls1.2"
#: Seconds a worker has to finish its requests after SIGTERM before it is killed.
STOP_TIMEOUT_S = 30
#: Set by :func:`run` for its workers: the process that supervises them.
SUPERVISOR_PID = "EXISONE_SUPERVISOR_PID"
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ServeOptions:
    """What ``serve`` was asked for."""

    app_factory: str
    host: str
    port: int
    workers: int = 1
    log_level: str = "info"  # critical, error, warning, info or debug (granian's names)
    access_log: str = "text"  # text, json or off (off anyway above info)
    log_format: str = "text"  # text or json: granian's lines too
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None


def logs_access(log_level: str) -> bool:
    """Whether the access log is on at ``log_level``: it logs at INFO, so only up to INFO."""
    return log_level.lower() in ("debug", "info")


def tls_key_problem(keyfile: str) -> str | None:
    """Why the server cannot use ``keyfile`` (it takes unencrypted PEM keys), or None."""
    try:
        text = Path(keyfile).read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        return f"cannot read {keyfile}: {exc.strerror}"
    if "ENCRYPTED" in text:
        return f"{keyfile} is encrypted; give the server the unencrypted PEM key"
    if "PRIVATE KEY-----" not in text:
        return f"{keyfile} is not a PEM private key (-----BEGIN ... PRIVATE KEY-----)"
    return None


def access_log_form(options: ServeOptions) -> AccessLog:
    """The access log ``serve`` writes: none above ``--log-level info``."""
    return AccessLog(options.access_log) if logs_access(options.log_level) else AccessLog.OFF


def load_app(target: str) -> Callable[..., Any]:
    """Build the app in a worker: call the ``module:function`` factory; bound the time a body
    may take, log each request, trust only our proxies."""
    die_with_supervisor()
    module_name, _, function_name = target.partition(":")
    factory = getattr(importlib.import_module(module_name), function_name or "app")
    settings = Settings.from_env()
    app = with_body_deadline(factory(), settings.body_timeout_seconds)
    app = with_access_log(app, AccessLog(settings.access_log))
    return with_proxy_headers(app, TrustedProxies(settings.forwarded_allow_ips))


def die_with_supervisor() -> None:
    """In a worker of :func:`run` on Linux: be killed when the supervisor dies.

    Without this a worker outlives a supervisor killed with SIGKILL (or by the OOM killer),
    still serving and holding the port, with nothing left to stop it.
    """
    supervisor = os.environ.get(SUPERVISOR_PID)
    if not supervisor or not sys.platform.startswith("linux"):
        return
    if os.getpid() == int(supervisor):  # free-threaded granian: workers are threads of it
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != int(supervisor):  # it died before the line above took effect
        os.kill(os.getpid(), signal.SIGKILL)


def run(options: ServeOptions) -> None:
    """Serve until SIGTERM or SIGINT; granian supervises the worker processes."""
    os.environ[SUPERVISOR_PID] = str(os.getpid())
    os.environ["EXISONE_ACCESS_LOG"] = access_log_form(options).value  # read by load_app
    from granian.constants import Interfaces, SSLProtocols
    from granian.log import LogLevels
    from granian.server import Server

    server = Server(
        options.app_factory,
        address=options.host,
        port=options.port,
        interface=Interfaces.ASGI,
        workers=options.workers,
        log_level=LogLevels(options.log_level),
        log_access=False,  # ours (load_app): keys masked, control characters escaped
        ssl_cert=Path(options.ssl_certfile) if options.ssl_certfile else None,
        ssl_key=Path(options.ssl_keyfile) if options.ssl_keyfile else None,
        ssl_protocol_min=SSLProtocols(TLS_MINIMUM),
        workers_kill_timeout=STOP_TIMEOUT_S,
        log_dictconfig=granian_log_config(LogFormat(options.log_format)),
    )
    server.serve(target_loader=load_app)
