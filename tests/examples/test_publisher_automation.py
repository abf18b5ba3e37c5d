"""examples/publisher_automation: product, plan, keys, CSV and webhook against a real server.

The script's default is 1,000 keys (about 35 s on this server with SQLite); the test asks for 25.
A loopback receiver proves the registered webhook works: a key generated afterwards arrives as a
signed ``license.created`` event.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from tests.examples.live_server import DemoServer

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "publisher_automation" / "publish.py"
KEY = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}")


class Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append((dict(self.headers.items()), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/exisone-hook"
    finally:
        server.shutdown()
        server.server_close()


def publish(server: DemoServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXISONE_")}
    env.update(EXISONE_BASEURL=server.base_url, EXISONE_TOKEN=server.token)
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_product_plan_keys_csv_and_webhook(
    server: DemoServer, receiver: str, tmp_path: Path
) -> None:
    common = ["--product", "Acme Report", "--plan", "Acme Pro", "--features", "Pro,Export"]
    common += ["--seats", "3", "--webhook-url", receiver]

    done = publish(server, *common, "--count", "25", "--csv", str(tmp_path / "keys.csv"))

    assert "created product 'Acme Report'" in done.stdout
    assert "created plan 'Acme Pro'" in done.stdout
    assert "generated 25 keys" in done.stdout
    secret = re.search(r"secret \(shown once, store it now\): (\S+)", done.stderr)
    assert secret is not None and secret.group(1) not in done.stdout
    with (tmp_path / "keys.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert len({row["activationKey"] for row in rows}) == 25
    assert all(KEY.fullmatch(row["activationKey"]) for row in rows)
    assert {(row["isCorporate"], row["maxSeats"], row["product"]) for row in rows} == {
        ("True", "3", "Acme Report")
    }
    with server.publisher() as http:
        listed = http.get("/api/license", params={"productName": "Acme Report", "pageSize": 100})
        webhooks = http.get("/api/webhook").json()
        plan = http.get(f"/api/plan/{rows[0]['planId']}").json()
    assert {item["activationKey"] for item in listed.json()["items"]} == {
        row["activationKey"] for row in rows
    }
    assert plan["features"] == ["Export", "Pro"] and plan["maxSeats"] == 3
    assert [hook["url"] for hook in webhooks] == [receiver]

    # The registered webhook receives the next key's event, signed with the printed secret.
    with server.publisher() as http:
        key = http.post(
            "/api/activationkey/generate",
            json={"productName": "Acme Report", "email": "next@example.com"},
        ).json()["activationKey"]
    event = wait_for_event(key)
    headers, body = event
    timestamp = headers["ExisOne-Webhook-Timestamp"]
    expected = hmac.new(
        secret.group(1).encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["ExisOne-Webhook-Signature"] == f"v1={expected}"

    # Running it again reuses the product, the plan and the webhook.
    again = publish(server, *common, "--count", "5", "--csv", str(tmp_path / "more.csv"))
    assert "updated plan 'Acme Pro'" in again.stdout
    assert "already registered" in again.stdout
    assert "secret" not in again.stderr


def wait_for_event(key: str, timeout: float = 30.0) -> tuple[dict[str, str], bytes]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for headers, body in list(Receiver.received):
            event = json.loads(body)
            if event["type"] == "license.created" and event["data"]["activationKey"] == key:
                return headers, body
        time.sleep(0.2)
    raise AssertionError(f"no license.created event for {key}: {Receiver.received!r}")
