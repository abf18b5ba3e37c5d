"""The E-mail page in Debian's headless Chromium against ``exisone-server serve`` started for
real, with a real SMTP server (aiosmtpd, STARTTLS, trustme CA given to the server through
EXISONE_SMTP_CA_FILE): save the SMTP settings (the password is not echoed), send a test e-mail
that arrives, edit a template with its live preview, see the log, resend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from ..server.smtp_server import PASSWORD, USER, MailServer, running_mail_server
from .test_browser import (  # noqa: F401  (the browser and page fixtures)
    LiveServer,
    browser,
    log_in,
    message,
    page,
    running_live_server,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def mail_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    with running_mail_server(tmp_path_factory.mktemp("smtp"), "starttls") as server:
        yield server


@pytest.fixture(scope="module")
def live_server(  # the server of this module (the page fixture uses it)
    tmp_path_factory: pytest.TempPathFactory, mail_server: MailServer
) -> Iterator[LiveServer]:
    env = {"EXISONE_SMTP_CA_FILE": str(mail_server.ca_file), "EXISONE_MAIL_POLL_SECONDS": "0.2"}
    with running_live_server(tmp_path_factory.mktemp("mail-server"), env) as server:
        yield server


def _save_settings(tab: Any, server: MailServer) -> None:
    tab.get_by_label("SMTP host", exact=True).fill("127.0.0.1")
    tab.get_by_label("Port (empty = 587, 465 for TLS)").fill(str(server.port))
    tab.get_by_label("Security", exact=True).select_option("starttls")
    tab.get_by_label("User name", exact=True).fill(USER)
    tab.get_by_label("Password", exact=True).fill(PASSWORD)
    tab.get_by_label("From", exact=True).fill("Browser Shop <shop@example.com>")
    tab.get_by_role("button", name="Save mail settings").click()


def test_mail_page_settings_test_template_log(
    page: Any,  # noqa: F811 (the imported fixture)
    live_server: LiveServer,
    mail_server: MailServer,
) -> None:
    log_in(page, live_server)
    page.get_by_role("link", name="E-mail").click()
    assert "Mail is not configured" in page.locator("#mail-status").inner_text()

    _save_settings(page, mail_server)
    assert message(page) == "Mail settings saved."
    assert "your SMTP server 127.0.0.1" in page.locator("#mail-status").inner_text()
    assert page.get_by_label("Password", exact=True).input_value() == ""
    assert PASSWORD not in page.content()

    to = f"owner-{uuid.uuid4().hex[:6]}@example.com"
    page.get_by_label("To", exact=True).fill(to)
    page.get_by_role("button", name="Send test e-mail").click()
    assert message(page) == f"Test message sent to {to}."
    arrived = [item for item in mail_server.wait_for(1) if item.rcpt_tos == [to]]
    assert arrived and arrived[0].message["From"] == "Browser Shop <shop@example.com>"

    # The template editor: the preview follows the typing; a bad placeholder is refused.
    page.get_by_role("link", name="Purchase").click()
    expect(page.locator("#preview-subject")).to_contain_text("Sample Product")
    page.get_by_label("Subject", exact=True).fill(
        "Thanks for buying {{ProductName}}, {{CustomerEmail}}"
    )
    expect(page.locator("#preview-subject")).to_have_text(
        "Thanks for buying Sample Product, customer@example.com"
    )
    page.get_by_label("HTML", exact=True).fill(
        "<h1 style='color:#2456c7'>Key {{ActivationKey}}</h1>"
    )
    frame = page.frame_locator("#preview-frame")
    expect(frame.locator("h1")).to_have_text("Key ABCD-EFGH-JKLM-NPQR")
    page.get_by_label("Plain text", exact=True).fill("Hello {{ CustomerName }}")
    expect(page.locator("#preview-error")).to_contain_text("unknown placeholder {{CustomerName}}")
    page.get_by_role("button", name="Save template").click()
    assert "unknown placeholder {{CustomerName}}" in message(page)
    page.get_by_label("Plain text", exact=True).fill("Your key: {{ActivationKey}}")
    page.get_by_role("button", name="Save template").click()
    assert message(page) == "Template saved."

    # A key e-mailed from its page goes through the worker and shows in the log; resend.
    created = httpx.post(
        f"{live_server.base_url}/api/activationkey/generate",
        json={"productName": live_server.product_name, "email": to},
        headers={"Authorization": f"ExisOneApi {live_server.access_token}"},
    )
    assert created.status_code == 200, created.text
    key = created.json()["activationKey"]
    page.goto(f"/dashboard/keys/{key}")
    page.get_by_role("button", name="E-mail the customer their keys").click()
    assert message(page) == f"Queued an e-mail with their keys to {to}."
    mail_server.wait_for(2)
    page.get_by_role("link", name="E-mail").click()
    row = page.locator("#mail-log tr", has_text="your keys").first
    expect(row).to_contain_text("sent")
    row.get_by_role("button", name="Resend").click()
    assert message(page) == "Message queued: it is sent in a moment."
    received = mail_server.wait_for(3)
    assert (
        sum(
            key in (item.message.get_body(("plain",)) or item.message).get_content()
            for item in received
        )
        == 2
    )
