"""Webhooks with the real server: `exisone-server serve` killed (SIGKILL) mid-delivery resends
the event after a restart, and the CLI registers endpoints."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from exisone_server.config import Settings
from tests import support
from tests.support import cli, environment, free_port

from .webhook_receiver import Receiver, running_receiver, verify_signature

pytestmark = pytest.mark.slow

#: Webhooks to a loopback receiver, polled and retried fast; lease: 2 * 2 + 5 = 9 s.
WEBHOOK_SETTINGS = {
    "EXISONE_WEBHOOKS_ALLOW_HTTP_LOOPBACK": "1",
    "EXISONE_WEBHOOKS_POLL_SECONDS": "0.2",
    "EXISONE_WEBHOOKS_TIMEOUT_SECONDS": "2",
    "EXISONE_WEBHOOKS_RETRY_BASE_SECONDS": "0.5",
}


def _environment(settings: Settings) -> dict[str, str]:
    return environment(settings, WEBHOOK_SETTINGS)


@contextmanager
def server_process(settings: Settings, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """`exisone-server serve` on ``port``; waits for /health; stops (or was killed) at the end."""
    with support.running_server(
        command=cli(settings),
        env=_environment(settings),
        log_path=settings.data_dir / "server.log",
        port=port,
    ) as server:
        yield server.process


def _demo(settings: Settings) -> dict[str, object]:
    result = subprocess.run(
        cli(settings, "demo", "--json"),
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
    port = free_port()
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
            cli(empty_settings, "webhook", *args), env=env, capture_output=True, timeout=60
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
        cli(empty_settings, "webhook", "create", "--tenant", tenant, "--url", "http://x.example"),
        env={**env, "EXISONE_WEBHOOKS_ALLOW_HTTP_LOOPBACK": "0"},
        capture_output=True,
        timeout=60,
    )
    assert refused.returncode != 0 and b"https" in refused.stderr
