"""A local exisone-server over HTTPS (a throwaway trustme CA) with a demo tenant, for one run.

The official client refuses plain ``http://``, so both clients talk TLS to the same server and
are given the test CA: ours through its ``verify`` option, the official one through a
``requests.Session``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DemoTenant", "LocalServer", "ServerUnavailable", "demo_tenant", "local_tls_server"]

STARTUP_TIMEOUT_S = 30.0
DEFAULT_EMAIL = "bench@example.com"


class ServerUnavailable(RuntimeError):
    """The server cannot be started here; the case is skipped with this reason."""


@dataclass(frozen=True)
class DemoTenant:
    """What the clients need from ``exisone-server demo --json``."""

    token: str
    activation_key: str
    product_name: str
    email: str


@dataclass(frozen=True)
class LocalServer:
    """A running server: where it listens, the CA that signed its certificate, the tenant."""

    base_url: str
    ca_path: Path
    tenant: DemoTenant


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested JSON objects as ``{"a.b": leaf}``; lists keep their first element only."""
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}{key}."))
        return flat
    if isinstance(value, list) and value:
        return _flatten(value[0], prefix)
    return {prefix.rstrip("."): value}


def _find(flat: dict[str, Any], *names: str) -> str:
    """The first string leaf whose last key, normalised, is one of ``names`` (in that order)."""
    normalised = {
        path: path.rsplit(".", 1)[-1].replace("_", "").replace("-", "").lower() for path in flat
    }
    for name in names:
        for path, key in normalised.items():
            if key == name and isinstance(flat[path], str) and flat[path]:
                return str(flat[path])
    raise ServerUnavailable(
        f"`exisone-server demo --json` printed no {names[0]!r} (keys: {', '.join(flat)})"
    )


def demo_tenant(output: str) -> DemoTenant:
    """Read the token, the single-device key, its product (and an email) from the demo JSON."""
    try:
        data = json.loads(output)
    except json.JSONDecodeError as exc:
        raise ServerUnavailable(f"`exisone-server demo --json` did not print JSON: {exc}") from exc
    flat = _flatten(data)
    try:
        email = _find(flat, "email")
    except ServerUnavailable:
        email = DEFAULT_EMAIL  # the demo keys are not tied to an email
    return DemoTenant(
        token=_find(flat, "accesstoken", "token"),
        activation_key=_find(flat, "singledevicekey", "activationkey", "licensekey", "key"),
        product_name=_find(flat, "productname", "product"),
        email=email,
    )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def _wait_until_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-1500:]
            raise ServerUnavailable(
                f"exisone-server serve exited with {process.returncode}: {tail}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise ServerUnavailable(
        f"exisone-server did not listen on port {port} within {STARTUP_TIMEOUT_S} s"
    )


@contextmanager
def local_tls_server(venv_bin: Path) -> Iterator[LocalServer]:
    """Start ``exisone-server serve`` on 127.0.0.1 with TLS and a demo tenant; stop it after."""
    executable = venv_bin / "exisone-server"
    if not executable.exists():
        raise ServerUnavailable(f"{executable.name} is not installed in {venv_bin}")
    try:
        import trustme
    except ImportError as exc:
        raise ServerUnavailable("trustme is not installed (requirements/dev.txt)") from exc

    with tempfile.TemporaryDirectory(prefix="exisone-bench-") as scratch:
        folder = Path(scratch)
        env = {**os.environ, "EXISONE_DATA_DIR": str(folder / "data")}
        port = _free_port()
        base_url = f"https://127.0.0.1:{port}"

        ca = trustme.CA()
        ca_path, cert_path, key_path = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
        ca.cert_pem.write_to_path(str(ca_path))
        certificate = ca.issue_cert("127.0.0.1", "localhost")
        certificate.private_key_pem.write_to_path(str(key_path))
        certificate.cert_chain_pems[0].write_to_path(str(cert_path))
        for extra in certificate.cert_chain_pems[1:]:
            extra.write_to_path(str(cert_path), append=True)

        migrate = _run([str(executable), "migrate"], env)
        if migrate.returncode != 0 and "No such command" not in migrate.stderr:
            raise ServerUnavailable(f"exisone-server migrate failed: {_last_line(migrate.stderr)}")
        demo = _run([str(executable), "demo", "--json", "--url", base_url], env)
        if demo.returncode != 0:
            raise ServerUnavailable(f"exisone-server demo --json failed: {_last_line(demo.stderr)}")
        tenant = demo_tenant(demo.stdout)

        log = folder / "server.log"
        with log.open("wb") as log_file:
            process = subprocess.Popen(
                [
                    str(executable),
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--ssl-certfile",
                    str(cert_path),
                    "--ssl-keyfile",
                    str(key_path),
                    "--log-level",
                    "warning",
                ],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
            try:
                _wait_until_listening(process, port, log)
                yield LocalServer(base_url, ca_path, tenant)
            finally:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
