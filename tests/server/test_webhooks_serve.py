"""Webhooks with the real server: `exisone-server serve` killed (SIGKILL) mid-delivery resends
the event after a restart, and the CLI registers endpoints."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from exisone_server.config import Settings

from .webhook_receiver import Receiver, running_receiver, verify_signature

SERVER_COMMAND = Path(sys.executable).with_name("exisone-server")
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cli(settings: Settings, *args: str) -> list[str]:
    return [
        str(SERVER_COMMAND),
        "--data-dir",
        str(settings.data_dir),
        "--database-url",
        settings.database_url,
        *args,
    ]


def _environment(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "EXISONE_MASTER_KEY": settings.master_key or "",
        "EXISONE_WEBHOOKS_ALLOW_HTTP_LOOPBACK": "1",
        "EXISONE_WEBHOOKS_POLL_SECONDS": "0.2",
        "EXISONE_WEBHOOKS_TIMEOUT_SECONDS": "2",  # lease: 2 * 2 + 5 = 9 s
        "EXISONE_WEBHOOKS_RETRY_BASE_SECONDS": "0.5",
    }


@contextmanager
def server_process(settings: Settings, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """`exisone-server serve` on ``port``; waits for /health; stops (or was killed) at the end."""
    process = subprocess.Popen(
        _cli(settings, "serve", "--host", "127.0.0.1", "--port", str(port)),
        env=_environment(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"server exited with {process.returncode}"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not answer /health within 30 s"
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _demo(settings: Settings) -> dict[str, object]:
    result = subprocess.run(
        _cli(settings, "demo", "--json"),
        env=_environment(settings),
        capture_output=True,
        check=True,
        timeout=120,
    )
    return dict(json.loads(result.stdout))


def _wait(receiver: Receiver, count: int, timeout: float) -> None:
    asyncio.run(receiver.wait_for(count, timeout))


def test_killed_mid_delivery_resends_after_restart(empty_settings: Settings) -> None:
    demo = _demo(empty_settings)
    headers = {"Authorization": f"ExisOneApi {demo['accessToken']}"}
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with running_receiver() as receiver:
        receiver.hang.set()
        with server_process(empty_settings, port) as process:
            created = httpx.post(
                f"{base}/api/webhook",
                json={"url": receiver.url + "/hook", "events": ["license.created"]},
                headers=headers,
            )
            assert created.status_code == 201, created.text
            secret = created.json()["secret"]
            generated = httpx.post(
                f"{base}/api/activationkey/generate",
                json={"productName": demo["productName"], "email": "k@example.com"},
                headers=headers,
            )
            assert generated.status_code == 200, generated.text
            _wait(receiver, 1, 15)  # the worker is now waiting for the hanging receiver
            process.kill()  # SIGKILL: no shutdown hook runs
            process.wait()
        first = receiver.requests[0]
        receiver.hang.clear()
        receiver.release.set()

        with server_process(empty_settings, port):
            _wait(receiver, 2, 30)  # after the claim's lease ends
            second = receiver.requests[1]
            assert second.event_id == first.event_id
            assert second.json["data"]["activationKey"] == generated.json()["activationKey"]
            assert verify_signature(secret, second)
            assert second.headers["exisone-webhook-attempt"] == "2"
            deliveries = httpx.get(
                f"{base}/api/webhook/{created.json()['id']}/deliveries", headers=headers
            ).json()
            deadline = time.monotonic() + 10
            while deliveries[0]["status"] != "delivered" and time.monotonic() < deadline:
                time.sleep(0.2)
                deliveries = httpx.get(
                    f"{base}/api/webhook/{created.json()['id']}/deliveries", headers=headers
                ).json()
            assert [(d["status"], d["attempts"]) for d in deliveries] == [("delivered", 2)]
            time.sleep(1.0)  # several more polls: nothing else is sent
        assert len(receiver.requests) == 2


def test_cli_create_list_delete(empty_settings: Settings) -> None:
    demo = _demo(empty_settings)
    tenant = str(demo["tenantId"])
    env = _environment(empty_settings)

    def run(*args: str) -> str:
        done = subprocess.run(
            _cli(empty_settings, "webhook", *args), env=env, capture_output=True, timeout=60
        )
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()

    created = json.loads(
        run(
            "create",
            "--tenant",
            tenant,
            "--url",
            "https://hooks.example.com/exisone",
            "--event",
            "license.created",
            "--event",
            "license.revoked",
            "--json",
        )
    )
    assert created["secret"].startswith("whsec_")
    assert created["events"] == ["license.created", "license.revoked"]
    listed = json.loads(run("list", "--tenant", tenant, "--json"))
    assert [row["url"] for row in listed] == ["https://hooks.example.com/exisone"]
    assert "secret" not in listed[0]
    assert json.loads(run("deliveries", "--tenant", tenant, str(created["id"]), "--json")) == []
    run("delete", "--tenant", tenant, str(created["id"]))
    assert json.loads(run("list", "--tenant", tenant, "--json")) == []

    refused = subprocess.run(
        _cli(empty_settings, "webhook", "create", "--tenant", tenant, "--url", "http://x.example"),
        env={**env, "EXISONE_WEBHOOKS_ALLOW_HTTP_LOOPBACK": "0"},
        capture_output=True,
        timeout=60,
    )
    assert refused.returncode != 0 and b"https" in refused.stderr
