"""The Payments page in Debian's headless Chromium against ``exisone-server serve`` started for
real, with a real SMTP server (aiosmtpd, STARTTLS): add a Stripe app (its secrets never shown
again), a Stripe-signed checkout makes a key whose e-mail arrives and whose event links to it,
an unmatched event is fixed by a mapping and retried from the page."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stripe
from playwright.sync_api import expect

from ..server.smtp_server import MailServer, running_mail_server
from .test_browser import (  # noqa: F401  (the browser and page fixtures)
    LiveServer,
    browser,
    log_in,
    message,
    page,
    running_live_server,
)

pytestmark = pytest.mark.browser

SIGNING_SECRET = "whsec_" + uuid.uuid4().hex
SECRET_KEY = "sk_test_" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def mail_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    with running_mail_server(tmp_path_factory.mktemp("smtp"), "starttls") as server:
        yield server


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, mail_server: MailServer
) -> Iterator[LiveServer]:
    env = {
        "EXISONE_SMTP_URL": mail_server.url,
        "EXISONE_MAIL_FROM": "Browser Shop <shop@example.com>",
        "EXISONE_SMTP_CA_FILE": str(mail_server.ca_file),
        "EXISONE_MAIL_POLL_SECONDS": "0.2",
    }
    with running_live_server(tmp_path_factory.mktemp("payments-server"), env) as server:
        yield server


def _api(server: LiveServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url,
        headers={"Authorization": f"ExisOneApi {server.access_token}"},
        timeout=30,
    )


def _stripe(server: LiveServer, payload: dict[str, Any]) -> httpx.Response:
    body = json.dumps(payload)
    header = stripe.WebhookSignature.generate_signature_header(body, SIGNING_SECRET)
    return httpx.post(
        f"{server.base_url}/api/stripe/webhook",
        content=body,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        timeout=30,
    )


def test_payments_page_apps_events_retry(
    page: Any,  # noqa: F811 (the imported fixture)
    live_server: LiveServer,
    mail_server: MailServer,
) -> None:
    with _api(live_server) as api:
        (product,) = [
            p for p in api.get("/api/product").json() if p["name"] == live_server.product_name
        ]
        assert (
            api.patch(f"/api/product/{product['id']}", json={"sendPurchaseEmail": True}).status_code
            == 200
        )

    log_in(page, live_server)
    page.get_by_role("link", name="Payments").click()
    expect(page.locator("#payment-apps")).to_contain_text("No provider apps yet.")
    page.get_by_label("App name").fill("Main Stripe")
    page.get_by_label("Secret key / API key / client secret").fill(SECRET_KEY)
    page.get_by_label("Webhook signing secret").fill(SIGNING_SECRET)
    page.get_by_role("button", name="Add app").click()
    assert message(page) == "Stripe app 'Main Stripe' saved: Ready."
    row = page.locator("#payment-apps tr", has_text="Main Stripe")
    expect(row).to_contain_text("Ready")
    expect(row).to_contain_text("/api/stripe/webhook")
    assert SIGNING_SECRET not in page.content() and SECRET_KEY not in page.content()

    # A Stripe-signed checkout makes a key; the page shows the event and links the key.
    to = f"browser-{uuid.uuid4().hex[:6]}@example.com"
    checkout = {
        "id": "evt_" + uuid.uuid4().hex,
        "type": "checkout.session.completed",
        "data": {
            "object": {
                "id": "cs_test_1",
                "mode": "payment",
                "payment_status": "paid",
                "payment_intent": "pi_" + uuid.uuid4().hex,
                "customer_details": {"email": to},
                "metadata": {"productId": str(product["id"])},
            }
        },
    }
    answer = _stripe(live_server, checkout)
    assert answer.status_code == 200 and answer.json()["status"] == "fulfilled", answer.text
    page.reload()
    event_row = page.locator("#payment-events tr", has_text="checkout.session.completed")
    expect(event_row).to_contain_text("fulfilled")
    key = event_row.get_by_role("link").inner_text()
    arrived = [item for item in mail_server.wait_for(1) if item.rcpt_tos == [to]]
    assert (
        arrived
        and key in (arrived[0].message.get_body(("plain",)) or arrived[0].message).get_content()
    )

    # An invoice naming an unmapped price: unmatched, then mapped and retried from the page.
    price = "price_" + uuid.uuid4().hex[:10]
    invoice = {
        "id": "evt_" + uuid.uuid4().hex,
        "type": "invoice.paid",
        "data": {
            "object": {
                "id": "in_1",
                "billing_reason": "subscription_create",
                "customer_email": to,
                "subscription": "sub_" + uuid.uuid4().hex,
                "lines": {"data": [{"price": {"id": price}}]},
            }
        },
    }
    assert _stripe(live_server, invoice).json()["status"] == "unmatched"
    page.reload()
    unmatched = page.locator("#payment-events tr", has_text="invoice.paid")
    expect(unmatched).to_contain_text("unmatched")
    page.get_by_label("Provider's id").fill(price)
    page.get_by_role("button", name="Map").click()
    assert message(page) == "Mapping saved: retry the unmatched events it fixes."
    page.locator("#payment-events tr", has_text="invoice.paid").get_by_role(
        "button", name="Retry"
    ).click()
    assert message(page).startswith("Retried: fulfilled.")
    expect(page.locator("#payment-events tr", has_text="invoice.paid")).to_contain_text("fulfilled")
    page.get_by_label("Outcome").select_option("fulfilled")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#payment-events tbody tr")).to_have_count(2)
