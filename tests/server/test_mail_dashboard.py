"""The dashboard's E-mail page in-process (both databases): settings without echoing the
password, a test message to a real SMTP server, templates refused or saved, the preview, the
log and resend, the key page's "E-mail the customer their keys"."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import delete, select

from exisone_server.db import Database
from exisone_server.models import MailMessage, MailStatus, MailTemplate, TenantMailSettings

from ..dashboard.helpers import csrf_of, login
from .seeding import Seed
from .smtp_server import PASSWORD, USER, MailServer


@pytest.fixture(autouse=True)
def _trust_the_test_server(mail_server: MailServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pages read the CA file from the environment; logins of all tests come from one IP."""
    monkeypatch.setenv("EXISONE_SMTP_CA_FILE", str(mail_server.ca_file))
    monkeypatch.setenv("EXISONE_RATE_LIMIT_LOGIN_PER_IP", "0")


@pytest.fixture(autouse=True)
async def _no_messages_left(database: Database) -> AsyncIterator[None]:
    yield
    async with database.write() as session:
        await session.execute(delete(MailMessage))
        await session.execute(delete(TenantMailSettings))


async def _post(client: httpx.AsyncClient, page: str, action: str, **fields: str) -> httpx.Response:
    token = csrf_of((await client.get(page)).text)
    return await client.post(action, data={"csrf_token": token, **fields})


async def test_settings_test_message_and_log(
    seed: Seed, client: httpx.AsyncClient, mail_server: MailServer, database: Database
) -> None:
    await login(client, database, seed.tenant.id)
    first = (await client.get("/dashboard/mail")).text
    assert "Mail is not configured" in first

    saved = await _post(
        client,
        "/dashboard/mail",
        "/dashboard/mail/settings",
        smtp_host="127.0.0.1",
        smtp_port=str(mail_server.port),
        smtp_security="starttls",
        smtp_username=USER,
        smtp_password=PASSWORD,
        from_address="Shop <shop@example.com>",
        support_address="",
    )
    assert saved.status_code == 302
    shown = (await client.get("/dashboard/mail")).text
    assert "Mail settings saved." in shown and "your SMTP server 127.0.0.1" in shown
    assert PASSWORD not in shown and "stored (unchanged)" in shown

    sent = await _post(client, "/dashboard/mail", "/dashboard/mail/test", to="me@example.com")
    assert sent.status_code == 302
    assert "Test message sent to me@example.com." in (await client.get("/dashboard/mail")).text
    (received,) = mail_server.wait_for(1)
    assert received.message["From"] == "Shop <shop@example.com>"

    # The password stays when the field is left empty; a refused login is shown in words.
    await _post(
        client,
        "/dashboard/mail",
        "/dashboard/mail/settings",
        smtp_host="127.0.0.1",
        smtp_port=str(mail_server.port),
        smtp_security="starttls",
        smtp_username="someone-else",
        from_address="Shop <shop@example.com>",
    )
    await _post(client, "/dashboard/mail", "/dashboard/mail/test", to="me@example.com")
    refused = (await client.get("/dashboard/mail")).text
    assert "The test message was not sent" in refused and "535" in refused
    assert PASSWORD not in refused

    bad = await _post(
        client, "/dashboard/mail", "/dashboard/mail/settings", smtp_host="x", smtp_port="99999"
    )
    assert bad.status_code == 302
    assert "port must be between" in (await client.get("/dashboard/mail")).text


async def test_templates_preview_and_resend(
    seed: Seed, client: httpx.AsyncClient, database: Database
) -> None:
    await login(client, database, seed.tenant.id)
    product = await seed.product("Painter")
    editor = f"/dashboard/mail/template?kind=purchase&product={product.id}"
    page = (await client.get(editor)).text
    assert "the built-in template" in page and "{{ActivationKey}}" in page

    fields = {"kind": "purchase", "product_id": str(product.id), "subject": "Key {{ProductName}}"}
    refused = await _post(
        client, editor, "/dashboard/mail/template", **fields, text_body="{{ Nope }}", html_body=""
    )
    assert refused.status_code == 400
    assert "unknown placeholder {{Nope}}" in refused.text and "{{ Nope }}" in refused.text

    preview = await _post(
        client,
        editor,
        "/dashboard/mail/preview",
        **fields,
        text_body="Key: {{ActivationKey}}",
        html_body="<b>{{CustomerEmail}}</b>",
    )
    assert preview.json() == {
        "ok": True,
        "subject": "Key Sample Product",
        "text": "Key: ABCD-EFGH-JKLM-NPQR",
    }
    html = await _post(
        client,
        editor,
        "/dashboard/mail/preview.html",
        **fields,
        text_body="x",
        html_body="<b style='color:red'>{{CustomerEmail}}</b>",
    )
    assert html.text == "<b style='color:red'>customer@example.com</b>"
    assert "sandbox" in html.headers["content-security-policy"]
    assert html.headers["x-frame-options"] == "SAMEORIGIN"
    broken = await _post(
        client, editor, "/dashboard/mail/preview", **fields, text_body="{% if %}", html_body=""
    )
    assert broken.json()["ok"] is False and "syntax error" in broken.json()["error"]

    saved = await _post(
        client,
        editor,
        "/dashboard/mail/template",
        **fields,
        text_body="Key: {{ActivationKey}}",
        html_body="<p>{{ActivationKey}}</p>",
    )
    assert saved.status_code == 302
    assert "your template" in (await client.get(editor)).text
    async with database.read_session() as session:
        row = await session.scalar(
            select(MailTemplate).where(MailTemplate.tenant_id == seed.tenant.id)
        )
    assert row is not None and row.product_id == product.id

    # The key page's button queues "your keys"; the log lists it; resend queues it again.
    license = await seed.license(product, email="buyer@example.com")
    key_page = f"/dashboard/keys/{license.activation_key}"
    queued = await _post(client, key_page, f"{key_page}/email-keys")
    assert queued.status_code == 302
    assert (
        "Queued an e-mail with their keys to buyer@example.com."
        in (await client.get(key_page)).text
    )
    log = (await client.get("/dashboard/mail")).text
    assert "buyer@example.com" in log and "your keys" in log and "next try" in log
    async with database.write() as session:
        message = await session.scalar(
            select(MailMessage).where(MailMessage.tenant_id == seed.tenant.id)
        )
        assert message is not None
        message.status = MailStatus.FAILED
    resent = await _post(client, "/dashboard/mail", f"/dashboard/mail/messages/{message.id}/resend")
    assert resent.status_code == 302
    async with database.read_session() as session:
        again = await session.get(MailMessage, message.id)
    assert again is not None and again.status is MailStatus.PENDING


async def test_product_form_switches_the_mails(
    seed: Seed, client: httpx.AsyncClient, database: Database
) -> None:
    await login(client, database, seed.tenant.id)
    product = await seed.product("Switched")
    edit = f"/dashboard/products/{product.id}"
    answer = await _post(
        client,
        edit,
        edit,
        name="Switched",
        trial_days="0",
        default_license_days="0",
        is_active="1",
        send_renewal_reminders="1",
        renewal_reminder_days="14",
        send_trial_ending="1",
        trial_ending_days="",
    )
    assert answer.status_code == 302
    async with database.read_session() as session:
        from exisone_server.models import Product

        row = await session.get(Product, product.id)
    assert row is not None and row.send_renewal_reminders and row.send_trial_ending
    assert row.renewal_reminder_days == 14 and row.trial_ending_days is None
    assert not row.send_purchase_email
