"""``exisone-server mail test`` and ``mail queue`` (click's runner, in-process; both databases)
against a real SMTP server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import delete

from exisone_server.cli import main
from exisone_server.config import Settings
from exisone_server.db import Database
from exisone_server.mail import MailKind, MailSettings, enqueue
from exisone_server.models import MailMessage

from .seeding import Seed
from .smtp_server import PASSWORD, MailServer


@pytest.fixture(autouse=True)
async def _no_messages_left(database: Database) -> AsyncIterator[None]:
    yield
    async with database.write() as session:
        await session.execute(delete(MailMessage))


def _invoke(settings: Settings, env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(
        main,
        ["--data-dir", str(settings.data_dir), "--database-url", settings.database_url, *args],
        env={"EXISONE_MASTER_KEY": settings.master_key or "", "COLUMNS": "200", **env},
        catch_exceptions=False,
    )


def _env(server: MailServer) -> dict[str, str]:
    return {
        "EXISONE_SMTP_URL": server.url,
        "EXISONE_MAIL_FROM": "Server <server@example.com>",
        "EXISONE_SMTP_CA_FILE": str(server.ca_file),
    }


def test_mail_test_sends_and_reports_failures(settings: Settings, mail_server: MailServer) -> None:
    sent = _invoke(settings, _env(mail_server), "mail", "test", "--to", "admin@example.com")
    assert sent.exit_code == 0, sent.output
    (received,) = mail_server.wait_for(1)
    assert received.rcpt_tos == ["admin@example.com"]
    assert received.message["Message-ID"] in sent.output

    no_ca = {**_env(mail_server), "EXISONE_SMTP_CA_FILE": ""}
    untrusted = _invoke(settings, no_ca, "mail", "test", "--to", "admin@example.com")
    assert untrusted.exit_code == 1 and "certificate" in untrusted.output.lower()

    unset = _invoke(settings, {}, "mail", "test", "--to", "admin@example.com")
    assert unset.exit_code == 1 and "not configured" in unset.output
    bad = _invoke(settings, _env(mail_server), "mail", "test", "--to", "nobody")
    assert bad.exit_code == 1 and "not an e-mail address" in bad.output
    assert PASSWORD not in untrusted.output + unset.output


async def test_mail_queue_lists_waiting_messages(
    settings: Settings, seed: Seed, mail_server: MailServer
) -> None:
    product = await seed.product("Queued")
    license = await seed.license(product, email="waiting@example.com")
    async with seed.database.write() as session:
        await enqueue(
            session,
            seed.tenant.id,
            MailKind.PURCHASE,
            license=license,
            settings=MailSettings(sender="a@example.com"),
        )
    tenant = str(seed.tenant.id)
    listed = await asyncio.to_thread(
        _invoke, settings, {}, "mail", "queue", "--tenant", tenant, "--json"
    )
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.stdout)
    assert data["counts"] == {"pending": 1}
    (message,) = data["messages"]
    assert message["to"] == "waiting@example.com" and message["kind"] == "purchase"
    assert message["nextAttemptAt"] and message["status"] == "pending"
    table = await asyncio.to_thread(_invoke, settings, {}, "mail", "queue", "--tenant", tenant)
    assert "waiting@example.com" in table.output and "1 pending" in table.output
