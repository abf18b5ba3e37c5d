"""examples/storefront: the one-file shop against a real license server, a local stand-in for
Stripe's API (HTTPS) and a real SMTP server: Buy → a Checkout session naming the product →
Stripe's signed event → exactly one key → the purchase e-mail with it arrives."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.examples.live_server import DemoServer, demo_server, free_port
from tests.server.fake_providers import FakeProviders, running_fake_providers, stripe_headers
from tests.server.smtp_server import MailServer, running_mail_server

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "storefront" / "shop.py"
SIGNING_SECRET = "whsec_" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def stripe_fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeProviders]:
    with running_fake_providers(tmp_path_factory.mktemp("stripe")) as fake:
        yield fake


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    with running_mail_server(tmp_path_factory.mktemp("smtp"), "starttls") as server:
        yield server


@pytest.fixture(scope="module")
def shop_server(
    tmp_path_factory: pytest.TempPathFactory, stripe_fake: FakeProviders, smtp: MailServer
) -> Iterator[DemoServer]:
    env = {
        **stripe_fake.env(),
        "EXISONE_SMTP_URL": smtp.url,
        "EXISONE_MAIL_FROM": "Shop <shop@example.com>",
        "EXISONE_SMTP_CA_FILE": str(smtp.ca_file),
        "EXISONE_MAIL_POLL_SECONDS": "0.2",
    }
    with demo_server(tmp_path_factory.mktemp("license-server"), env) as server:
        yield server


def _start_shop(server: DemoServer, product_id: int, port: int) -> subprocess.Popen[bytes]:
    env = {**server.env, "EXISONE_BASEURL": server.base_url, "EXISONE_TOKEN": server.token}
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--product-id", str(product_id), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/thanks", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(
        f"the shop did not start: {process.stderr.read() if process.stderr else ''}"
    )


def test_buy_pay_key_mailed(
    shop_server: DemoServer, stripe_fake: FakeProviders, smtp: MailServer
) -> None:
    with shop_server.publisher() as api:
        (product,) = [p for p in api.get("/api/product").json() if p["name"] == shop_server.product]
        changed = api.patch(
            f"/api/product/{product['id']}", json={"price": 29.0, "sendPurchaseEmail": True}
        )
        assert changed.status_code == 200, changed.text
    shop_server.server_cli(
        *("stripe", "add-app", "--tenant", str(shop_server.demo["tenantId"]), "--name", "Shop"),
        *("--secret-key", "sk_test_" + uuid.uuid4().hex, "--signing-secret", SIGNING_SECRET),
    )

    port = free_port()
    shop = _start_shop(shop_server, product["id"], port)
    try:
        page = httpx.get(f"http://127.0.0.1:{port}/")
        assert page.status_code == 200 and shop_server.product in page.text
        bought = httpx.post(f"http://127.0.0.1:{port}/buy", data={"quantity": "1"})
        assert bought.status_code == 303
        assert bought.headers["location"].startswith("https://checkout.stripe.test/pay/cs_test_")
    finally:
        shop.terminate()
        shop.wait(10)
    (form,) = stripe_fake.checkout_forms
    assert form["metadata[productId]"] == str(product["id"])
    assert form["success_url"] == "http://127.0.0.1:8080/thanks"

    # The buyer pays; Stripe sends the event (signed with Stripe's own library).
    buyer = f"buyer-{uuid.uuid4().hex[:6]}@example.com"
    event = {
        "id": "evt_" + uuid.uuid4().hex,
        "type": "checkout.session.completed",
        "data": {
            "object": {
                "id": bought.headers["location"].rsplit("/", 1)[-1],
                "mode": "payment",
                "payment_status": "paid",
                "payment_intent": "pi_" + uuid.uuid4().hex,
                "customer_details": {"email": buyer},
                "metadata": {
                    "productId": form["metadata[productId]"],
                    "quantity": form["metadata[quantity]"],
                },
            }
        },
    }
    body = json.dumps(event).encode()
    for _ in range(2):  # Stripe retries: the second delivery makes nothing
        answer = httpx.post(
            f"{shop_server.base_url}/api/stripe/webhook",
            content=body,
            headers=stripe_headers(body, SIGNING_SECRET),
        )
        assert answer.status_code == 200, answer.text
    with shop_server.publisher() as api:
        keys = [item for item in api.get("/api/license").json() if item["email"] == buyer]
    assert len(keys) == 1
    arrived = [item for item in smtp.wait_for(1, timeout=30) if item.rcpt_tos == [buyer]]
    assert len(arrived) == 1
    text = (arrived[0].message.get_body(("plain",)) or arrived[0].message).get_content()
    assert keys[0]["activationKey"] in text
