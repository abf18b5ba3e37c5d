"""Servers for the load runs: ``exisone-server serve`` and nginx, on loopback, stopped by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "ServerError",
    "bare_server",
    "cpu_seconds",
    "free_port",
    "nginx_server",
    "resident_bytes",
    "resident_parts",
    "serve",
    "worker_pids",
]

STARTUP_TIMEOUT_S = 60.0


class ServerError(RuntimeError):
    """A server could not be started."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-1500:]
            raise ServerError(f"exited with {process.returncode}: {tail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise ServerError(f"nothing listened on port {port} within {STARTUP_TIMEOUT_S} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def _process(
    command: Sequence[str], env: dict[str, str], port: int, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as log_file:
        process = subprocess.Popen(
            list(command), env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    try:
        _wait_listening(process, port, log)
        yield process
    finally:
        _stop(process)


@contextmanager
def serve(
    executable: Path,
    env: dict[str, str],
    workers: int,
    log: Path,
    *,
    app_factory: str | None = None,
    access_log: bool = True,
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """``exisone-server serve`` on 127.0.0.1 (a free port) at the default log level, so with
    its access log (into ``log``) unless ``access_log`` is false; yields the port and the
    process."""
    port = free_port()
    command = [
        str(executable),
        "serve",
        "--no-migrate",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    if not access_log:
        command += ["--access-log", "off"]
    if app_factory:
        command += ["--app-factory", app_factory]
    with _process(command, env, port, log) as process:
        yield port, process


@contextmanager
def bare_server(
    granian: Path, env: dict[str, str], workers: int, log: Path, target: str
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """The ASGI app ``target`` (``module:attribute``) under granian, as ``serve`` runs ours:
    the same granian, interface and worker count, on 127.0.0.1 (a free port), no access log."""
    port = free_port()
    command = [
        str(granian),
        "--interface",
        "asgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
        target,
    ]
    with _process(command, env, port, log) as process:
        yield port, process


_NGINX_CONF = """
worker_processes {workers};
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            default_type application/json;
            return 200 '{body}';
        }}
    }}
}}
"""


@contextmanager
def nginx_server(folder: Path, workers: int, body: str) -> Iterator[int]:
    """nginx with ``worker_processes workers`` answering ``body`` to every request."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = folder / "nginx.conf"
    conf.write_text(
        _NGINX_CONF.format(workers=workers, folder=folder, port=port, body=body), "utf-8"
    )
    command = ["nginx", "-p", str(folder), "-c", str(conf)]
    with _process(command, dict(os.environ), port, folder / "nginx.log"):
        yield port


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(part) for part in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _is_helper(pid: int) -> bool:
    """multiprocessing's resource tracker, a child of the supervisor that serves nothing."""
    try:
        return b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


def worker_pids(pid: int) -> list[int]:
    """The processes that serve requests: the leaves under ``pid`` (``pid`` itself if none)."""
    children = [child for child in _children(pid) if not _is_helper(child)]
    if not children:
        return [pid]
    return [leaf for child in children for leaf in worker_pids(child)]


def resident_bytes(pid: int) -> int:
    """Resident set size of one process (``VmRSS``)."""
    return resident_parts(pid)["VmRSS"]


def resident_parts(pid: int) -> dict[str, int]:
    """``VmRSS`` and its parts in bytes: ``RssAnon`` (the process's own memory), ``RssFile``
    (mapped files, such as the database pages SQLite maps: shared with the OS page cache)
    and ``RssShmem``."""
    parts = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
            parts[name] = int(value.split()[0]) * 1024
    if "VmRSS" not in parts:
        raise ServerError(f"no VmRSS for process {pid}")
    return parts


def _tree(pid: int) -> list[int]:
    return [pid, *(grandchild for child in _children(pid) for grandchild in _tree(child))]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by ``pid`` and every process under it; the
    difference over a run, divided by the requests of the run, is a server's CPU per request,
    which other work on the host disturbs far less than its rate."""
    ticks = 0
    for member in _tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")
