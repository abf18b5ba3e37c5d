"""``serve --workers N`` on Linux: N uvicorn processes, each listening on its own socket.

uvicorn's own ``--workers`` shares one listening socket, and one process usually wins the
accept race for nearly every keep-alive connection (measured: 69 of 72 sockets in one of two
workers; stack.md §3.3), so a second worker added almost nothing. Here each worker binds the
address with ``SO_REUSEPORT`` and the kernel spreads new connections over the workers by hash.

The parent only supervises: on SIGTERM or SIGINT, or when a worker dies, it stops the others
and exits (non-zero when a worker failed).
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import sys
import threading
from collections.abc import Mapping
from types import FrameType
from typing import Any

__all__ = ["reuse_port_available", "run_workers"]

STOP_TIMEOUT_S = 30.0


def reuse_port_available() -> bool:
    """True where the kernel balances ``SO_REUSEPORT`` sockets (Linux)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _listen(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    return sock


def _worker(options: Mapping[str, Any]) -> None:
    import uvicorn

    config = uvicorn.Config(**options)
    server = uvicorn.Server(config)
    server.run(sockets=[_listen(config.host, config.port, config.backlog)])


def run_workers(options: Mapping[str, Any], workers: int) -> int:
    """Run ``workers`` processes of ``uvicorn.Config(**options)``; return the exit status."""
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_worker, args=(dict(options),), name=f"exisone-worker-{n}")
        for n in range(workers)
    ]
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for process in processes:
            process.start()
        while not stop.is_set() and all(process.is_alive() for process in processes):
            stop.wait(0.5)
        failed = not stop.is_set()
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(STOP_TIMEOUT_S)
            if process.is_alive():
                process.kill()
                process.join()
        return 1 if failed else 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
