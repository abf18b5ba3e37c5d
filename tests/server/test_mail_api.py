"""/api/mail (both databases): e-mail a customer their keys, the message log, resend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete

from exisone_server.auth import Permission
from exisone_server.db import Database
from exisone_server.models import MailMessage

from .helpers import assert_error
from .seeding import Seed


@pytest.fixture(autouse=True)
async def _no_messages_left(database: Database) -> AsyncIterator[None]:
    yield
    async with database.write() as session:
        await session.execute(delete(MailMessage))


async def test_keys_messages_and_resend(seed: Seed, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXISONE_MAIL_FROM", "Shop <shop@example.com>")
    product = await seed.product("Mailed")
    license = await seed.license(product, email="buyer@example.com")
    emailer = seed.api_with(await seed.token(Permission.EMAIL))

    queued = await emailer.post("/api/mail/keys", {"email": "Buyer@example.com"})
    assert queued.status_code == 202, queued.text
    assert queued.json() == {"queued": True}
    assert (await emailer.post("/api/mail/keys", {"email": "x@example.com"})).json() == {
        "queued": False
    }
    assert_error(await emailer.post("/api/mail/keys", {"email": "nobody"}), 400, "invalid_request")
    verifier = seed.api_with(await seed.token(Permission.VERIFY))
    assert (await verifier.post("/api/mail/keys", {"email": "a@example.com"})).status_code == 403
    assert (await emailer.get("/api/mail/messages")).status_code == 403

    listed = await seed.api.get("/api/mail/messages", params={"status": "pending"})
    assert listed.status_code == 200, listed.text
    (message,) = listed.json()
    assert message["kind"] == "your_keys" and message["to"] == "Buyer@example.com"
    assert message["status"] == "pending" and "subject" in message and "lastError" in message
    assert license.activation_key not in listed.text  # the log shows no bodies
    assert_error(
        await seed.api.get("/api/mail/messages", params={"status": "lost"}), 400, "invalid_request"
    )

    resent = await seed.api.post(f"/api/mail/messages/{message['id']}/resend")
    assert resent.status_code == 202 and resent.json()["status"] == "pending"
    other = await Seed.create(seed.database, seed.master_key, seed.client)
    assert_error(
        await other.api.post(f"/api/mail/messages/{message['id']}/resend"),
        404,
        "message_not_found",
    )
