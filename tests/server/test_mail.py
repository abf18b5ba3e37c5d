"""E-mail (both databases): the outbox, the worker against a real SMTP server (aiosmtpd with
STARTTLS / implicit TLS and trustme certificates), retries, several workers, the reminder scan,
templates and the tenant's own SMTP settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from exisone_server.config import Settings
from exisone_server.crypto.master_key import MasterKey
from exisone_server.db import Database
from exisone_server.kit.time import utc_now
from exisone_server.mail import (
    MailKind,
    MailSettings,
    MailWorker,
    enqueue,
    purchase_email,
    send_keys,
)
from exisone_server.mail.scan import scan_due_mail
from exisone_server.mail.service import SmtpForm, resend_message, save_smtp_settings
from exisone_server.mail.smtp import parse_smtp_url
from exisone_server.models import License, MailMessage, MailStatus, Product, TenantMailSettings

from .seeding import Seed
from .smtp_server import PASSWORD, USER, MailServer, running_mail_server

SENDER = "Acme Licensing <licenses@acme.example>"


def settings_for(server: MailServer | None, **changes: object) -> MailSettings:
    return MailSettings(
        smtp=parse_smtp_url(server.url) if server else None,
        sender=SENDER,
        ca_file=str(server.ca_file) if server else None,
        timeout_seconds=5,
        retry_base_seconds=60,
        poll_seconds=0.05,
    ).with_changes(**changes)


@pytest.fixture
def mail_settings(mail_server: MailServer) -> MailSettings:
    return settings_for(mail_server)


@pytest.fixture(autouse=True)
async def _no_messages_left(database: Database) -> AsyncIterator[None]:
    """Workers see the whole database: every test starts and ends without queued mail."""
    async with database.write() as session:
        await session.execute(delete(MailMessage))
    yield
    async with database.write() as session:
        await session.execute(delete(MailMessage))
        await session.execute(delete(TenantMailSettings))


async def _product(seed: Seed, **fields: object) -> Product:
    return await seed.product(f"Studio {seed.tenant.id}", **fields)


async def _rows(database: Database, tenant_id: int) -> list[MailMessage]:
    async with database.read_session() as session:
        rows = await session.scalars(
            select(MailMessage).where(MailMessage.tenant_id == tenant_id).order_by(MailMessage.id)
        )
        return list(rows)


async def _queue_purchase(seed: Seed, license: License, settings: MailSettings) -> MailMessage:
    async with seed.database.write() as session:
        message = await enqueue(
            session, seed.tenant.id, MailKind.PURCHASE, license=license, settings=settings
        )
    assert message is not None
    return message


# -- the outbox and the worker ------------------------------------------------------------------


async def test_purchase_mail_is_rendered_queued_and_sent_over_starttls(
    seed: Seed,
    mail_server: MailServer,
    mail_settings: MailSettings,
    database: Database,
    master_key: MasterKey,
) -> None:
    product = await _product(seed)
    plan = await seed.plan(f"Pro {seed.tenant.id}", features=("Export", "Cloud"), duration_days=30)
    license = await seed.license(
        product, plan=plan, email="buyer@example.com", is_corporate=True, max_seats=5
    )
    queued = await _queue_purchase(seed, license, mail_settings)
    assert queued.status is MailStatus.PENDING
    assert license.activation_key in queued.text_body and product.name in queued.subject
    assert "Features: Cloud, Export" in queued.text_body and "Devices: 5" in queued.text_body
    assert license.expires_at is not None
    assert license.expires_at.date().isoformat() in queued.text_body

    assert await MailWorker(database, master_key, mail_settings).run_once() == 1
    (received,) = mail_server.wait_for(1)
    message = received.message
    assert received.rcpt_tos == ["buyer@example.com"]
    assert received.mail_from == "licenses@acme.example"
    assert message["Message-ID"] == queued.message_id
    assert message["From"] == SENDER and message["Subject"] == queued.subject
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    assert license.activation_key in plain.get_content()
    assert f"<code>{license.activation_key}</code>" in html.get_content()
    (row,) = await _rows(database, seed.tenant.id)
    assert row.status is MailStatus.SENT and row.sent_at is not None and row.attempts == 1


async def test_implicit_tls_and_a_plain_local_relay(
    seed: Seed, tmp_path: Path, database: Database, master_key: MasterKey
) -> None:
    product = await _product(seed)
    license = await seed.license(product, email="tls@example.com")
    for mode in ("tls", "none"):
        with running_mail_server(tmp_path, mode) as server:
            settings = settings_for(server)
            assert server.url.startswith("smtps://" if mode == "tls" else "smtp://")
            queued = await _queue_purchase(seed, license, settings)
            assert await MailWorker(database, master_key, settings).run_once() == 1
            (received,) = server.wait_for(1)
            assert received.message["Message-ID"] == queued.message_id


async def test_an_untrusted_certificate_is_refused(
    seed: Seed, mail_server: MailServer, database: Database, master_key: MasterKey
) -> None:
    """Without the test CA the server's certificate does not verify: nothing is sent."""
    settings = settings_for(mail_server, ca_file=None)
    license = await seed.license(await _product(seed), email="someone@example.com")
    await _queue_purchase(seed, license, settings)
    await MailWorker(database, master_key, settings).run_once()
    (row,) = await _rows(database, seed.tenant.id)
    assert row.status is MailStatus.PENDING and row.attempts == 1
    assert "certificate" in (row.last_error or "").lower()
    assert mail_server.messages == []


async def test_smtp_down_keeps_the_message_queued_then_sends_it(
    seed: Seed,
    mail_server: MailServer,
    mail_settings: MailSettings,
    database: Database,
    master_key: MasterKey,
) -> None:
    mail_server.stop()
    product = await _product(seed, send_purchase_email=True)
    async with database.write() as session:  # the license and its mail in one transaction
        license = await _create(session, product, "later@example.com")
        await purchase_email(session, license, settings=mail_settings)
    worker = MailWorker(database, master_key, mail_settings)
    assert await worker.run_once() == 1
    (row,) = await _rows(database, seed.tenant.id)
    assert row.status is MailStatus.PENDING and row.attempts == 1
    assert row.last_error and "SMTPConnectError" in row.last_error
    assert row.next_attempt_at > utc_now() + timedelta(seconds=40)  # 60 s ± 20 %
    assert await worker.run_once() == 0  # not due yet

    mail_server.start()
    assert await worker.run_once(now=row.next_attempt_at) == 1
    (received,) = mail_server.wait_for(1)
    assert received.message["Message-ID"] == row.message_id  # the same message, retried
    (row,) = await _rows(database, seed.tenant.id)
    assert row.status is MailStatus.SENT and row.attempts == 2


async def _create(session, product: Product, email: str) -> License:  # type: ignore[no-untyped-def]
    from exisone_server.licenses.service import create_license

    return await create_license(session, product=product, email=email, validity_days=30)


async def test_a_wrong_login_is_retried_and_the_password_never_stored(
    seed: Seed, mail_server: MailServer, database: Database, master_key: MasterKey
) -> None:
    wrong = "Wr0ng-" + PASSWORD
    settings = settings_for(mail_server).with_changes(
        smtp=parse_smtp_url(f"smtp://{USER}:{wrong}@127.0.0.1:{mail_server.port}")
    )
    await _queue_purchase(seed, await seed.license(await _product(seed)), settings)
    await MailWorker(database, master_key, settings).run_once()
    (row,) = await _rows(database, seed.tenant.id)
    assert row.status is MailStatus.PENDING
    assert "535" in (row.last_error or "")
    assert wrong not in (row.last_error or "") and PASSWORD not in (row.last_error or "")
    assert wrong not in repr(settings)


async def test_not_an_address_makes_the_license_and_an_undeliverable_message(
    seed: Seed, mail_settings: MailSettings, database: Database, master_key: MasterKey
) -> None:
    product = await _product(seed, send_purchase_email=True)
    async with database.write() as session:
        license = await _create(session, product, "not an address@example")
        message = await purchase_email(session, license, settings=mail_settings)
    assert message is not None and message.status is MailStatus.UNDELIVERABLE
    assert message.last_error == "not an e-mail address"
    async with database.read_session() as session:
        assert await session.get(License, license.id) is not None
    assert await MailWorker(database, master_key, mail_settings).run_once() == 0


async def test_a_refused_recipient_is_undeliverable_and_the_others_are_sent(
    seed: Seed,
    mail_server: MailServer,
    mail_settings: MailSettings,
    database: Database,
    master_key: MasterKey,
) -> None:
    mail_server.refuse.add("gone@example.com")
    product = await _product(seed)
    for email in ("gone@example.com", "here@example.com"):
        await _queue_purchase(seed, await seed.license(product, email=email), mail_settings)
    assert await MailWorker(database, master_key, mail_settings).run_once() == 2
    gone, here = await _rows(database, seed.tenant.id)
    assert gone.status is MailStatus.UNDELIVERABLE and "550" in (gone.last_error or "")
    assert here.status is MailStatus.SENT
    assert [r.rcpt_tos for r in mail_server.wait_for(1)] == [["here@example.com"]]


async def test_failed_after_the_retry_window_then_resent_with_a_new_message_id(
    seed: Seed,
    mail_server: MailServer,
    mail_settings: MailSettings,
    database: Database,
    master_key: MasterKey,
) -> None:
    mail_server.stop()
    queued = await _queue_purchase(seed, await seed.license(await _product(seed)), mail_settings)
    worker = MailWorker(database, master_key, mail_settings)
    await worker.run_once(now=queued.give_up_at - timedelta(seconds=1))
    (row,) = await _rows(database, seed.tenant.id)
    assert row.status is MailStatus.FAILED and row.last_error

    mail_server.start()
    async with database.write() as session:
        again = await resend_message(session, seed.tenant.id, row.id, mail_settings)
    assert again.status is MailStatus.PENDING and again.message_id == queued.message_id
    await worker.run_once()
    mail_server.wait_for(1)
    async with database.write() as session:
        third = await resend_message(session, seed.tenant.id, row.id, mail_settings)
    assert third.message_id != queued.message_id  # sent once: a fresh id for the copy
    await worker.run_once()
    ids = [r.message["Message-ID"] for r in mail_server.wait_for(2)]
    assert ids == [queued.message_id, third.message_id]


async def test_a_killed_workers_claim_expires(
    seed: Seed,
    mail_server: MailServer,
    mail_settings: MailSettings,
    database: Database,
    master_key: MasterKey,
) -> None:
    from exisone_server.kit.outbox import claim_due

    queued = await _queue_purchase(seed, await seed.license(await _product(seed)), mail_settings)
    now = utc_now()
    claimed = await claim_due(
        database, MailMessage, MailStatus.PENDING, now, mail_settings.lease, 10
    )
    assert claimed == [queued.id]  # ... and that process dies before sending
    worker = MailWorker(database, master_key, mail_settings)
    assert await worker.run_once(now=now + timedelta(seconds=5)) == 0  # still leased
    assert await worker.run_once(now=now + mail_settings.lease + timedelta(seconds=1)) == 1
    assert mail_server.wait_for(1)[0].message["Message-ID"] == queued.message_id


async def test_two_workers_never_send_the_same_message_twice(
    seed: Seed,
    mail_server: MailServer,
    mail_settings: MailSettings,
    settings: Settings,
    master_key: MasterKey,
) -> None:
    """Two workers, each with its own engine (as two server processes), on a slow server."""
    product = await _product(seed)
    for index in range(30):
        license = await seed.license(product, email=f"c{index}@example.com")
        await _queue_purchase(seed, license, mail_settings)
    mail_server.delay = 0.01
    engines = [Database.from_settings(settings) for _ in range(2)]
    workers = [MailWorker(engine, master_key, mail_settings) for engine in engines]
    try:

        async def loop(worker: MailWorker) -> int:
            claimed = 0
            for _ in range(100):
                if len(mail_server.messages) >= 30:
                    break
                claimed += await worker.run_once()
                await asyncio.sleep(0.001)
            return claimed

        counts = await asyncio.gather(*(loop(worker) for worker in workers))
    finally:
        for engine in engines:
            await engine.dispose()
    ids = [item.message["Message-ID"] for item in mail_server.wait_for(30)]
    assert len(ids) == 30 and len(set(ids)) == 30
    assert sum(counts) == 30
    statuses = {row.status for row in await _rows(seed.database, seed.tenant.id)}
    assert statuses == {MailStatus.SENT}


async def test_the_lifespan_worker_sends_after_commit(
    seed: Seed,
    mail_server: MailServer,
    mail_settings: MailSettings,
    database: Database,
    master_key: MasterKey,
) -> None:
    worker = MailWorker(database, master_key, mail_settings.with_changes(poll_seconds=30))
    worker.start()
    try:
        await asyncio.sleep(0.1)  # the first poll (and scan) is over; it waits 30 s now
        await _queue_purchase(seed, await seed.license(await _product(seed)), mail_settings)
        for _ in range(200):
            if mail_server.messages:
                break
            await asyncio.sleep(0.02)
    finally:
        await worker.stop()
    assert len(mail_server.messages) == 1  # woken by the commit, not by the 30 s poll


# -- configuration -----------------------------------------------------------------------------


async def test_not_configured_stays_queued_until_the_tenant_sets_its_smtp(
    seed: Seed, mail_server: MailServer, database: Database, master_key: MasterKey
) -> None:
    nothing = settings_for(None, sender=None, ca_file=str(mail_server.ca_file))
    queued = await _queue_purchase(seed, await seed.license(await _product(seed)), nothing)
    worker = MailWorker(database, master_key, nothing)
    await worker.run_once()
    (row,) = await _rows(database, seed.tenant.id)
    assert row.status is MailStatus.PENDING and "not configured" in (row.last_error or "")

    async with database.write() as session:
        stored = await save_smtp_settings(
            session,
            seed.tenant.id,
            master_key,
            SmtpForm(
                host="127.0.0.1",
                port=mail_server.port,
                security="starttls",
                username=USER,
                password=PASSWORD,
                from_address="Tenant Shop <shop@tenant.example>",
                support_address="help@tenant.example",
            ),
        )
    assert stored.password_ciphertext and PASSWORD.encode() not in stored.password_ciphertext
    assert stored.master_key_id == master_key.key_id
    assert await worker.run_once() == 1  # made due again by the save
    (received,) = mail_server.wait_for(1)
    assert received.message["Message-ID"] == queued.message_id
    assert received.message["From"] == "Tenant Shop <shop@tenant.example>"
    assert received.message["Reply-To"] == "help@tenant.example"


async def test_settings_from_the_environment(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    env = {
        "EXISONE_SMTP_URL": "smtp://me%40acme.example:p%3Ass@mail.acme.example",
        "EXISONE_MAIL_FROM": "Acme <licenses@acme.example>",
        "EXISONE_SMTP_CA_FILE": str(ca),
    }
    settings = MailSettings.from_env(env)
    assert settings.smtp is not None
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.security) == (
        "mail.acme.example",
        587,
        "starttls",
    )
    assert (settings.smtp.username, settings.smtp.password) == ("me@acme.example", "p:ss")
    assert "p:ss" not in repr(settings)
    assert settings.message_domain == "acme.example"
    tls = MailSettings.from_env({**env, "EXISONE_SMTP_URL": "smtps://u:p@mail.acme.example"})
    assert tls.smtp is not None and (tls.smtp.port, tls.smtp.security) == (465, "tls")
    relay = MailSettings.from_env({**env, "EXISONE_SMTP_URL": "smtp://localhost:25?starttls=false"})
    assert relay.smtp is not None and relay.smtp.security == "none"
    for bad, words in (
        ({"EXISONE_SMTP_URL": "http://x"}, "smtp://"),
        ({"EXISONE_MAIL_FROM": "not an address"}, "EXISONE_MAIL_FROM"),
        ({"EXISONE_MAIL_FROM": ""}, "required"),
        ({"EXISONE_MAIL_RETRY_HOURS": "2"}, "at least 24"),
        ({"EXISONE_SMTP_CA_FILE": str(tmp_path / "none.pem")}, "no file"),
    ):
        with pytest.raises(ValueError, match=words):
            MailSettings.from_env({**env, **bad})


# -- send_keys -----------------------------------------------------------------------------------


async def test_send_keys_mails_every_key_of_the_address(
    seed: Seed, mail_settings: MailSettings, database: Database
) -> None:
    first = await seed.product(f"One {seed.tenant.id}")
    second = await seed.product(f"Two {seed.tenant.id}")
    keys = [
        (await seed.license(first, email="Buyer@Example.com")).activation_key,
        (await seed.license(second, email="buyer@example.com", validity_days=0)).activation_key,
    ]
    revoked = await seed.license(first, email="buyer@example.com")
    await seed.update_license(revoked, status="revoked")
    await seed.license(first, email="other@example.com")
    async with database.write() as session:
        message = await send_keys(
            session, seed.tenant.id, "BUYER@example.com", settings=mail_settings
        )
        nobody = await send_keys(
            session, seed.tenant.id, "nobody@example.com", settings=mail_settings
        )
    assert nobody is None
    assert message is not None and message.kind == "your_keys"
    assert all(key in message.text_body and key in message.html_body for key in keys)
    assert revoked.activation_key not in message.text_body
    assert "no expiry" in message.text_body


# -- the reminder scan -----------------------------------------------------------------------------


async def test_reminders_expiry_and_trial_ending_once_per_license_and_date(
    seed: Seed, mail_settings: MailSettings, database: Database
) -> None:
    product = await _product(
        seed, send_renewal_reminders=True, renewal_reminder_days=10, send_trial_ending=True
    )
    soon = await seed.license(product, email="soon@example.com", validity_days=5)
    later = await seed.license(product, email="later@example.com", validity_days=40)
    await seed.license(product, email="", validity_days=5)  # no address: nothing
    trial = await seed.license(product, email="trial@example.com", validity_days=2)
    await seed.update_license(trial, is_trial=True)
    expired = await seed.license(product, email="expired@example.com", validity_days=5)
    await seed.update_license(expired, expires_at=utc_now() - timedelta(hours=3))
    old = await seed.license(product, email="old@example.com", validity_days=5)
    await seed.update_license(old, expires_at=utc_now() - timedelta(days=30))

    await scan_due_mail(database, mail_settings)  # (also other tests' products: same database)
    assert await scan_due_mail(database, mail_settings) == 0  # once
    rows = {row.to_address: row for row in await _rows(database, seed.tenant.id)}
    assert len(rows) == 3
    assert set(rows) == {"soon@example.com", "trial@example.com", "expired@example.com"}
    assert rows["soon@example.com"].kind == "renewal_reminder"
    assert "expires in 5 days" in rows["soon@example.com"].text_body
    assert rows["trial@example.com"].kind == "trial_ending"
    assert rows["expired@example.com"].kind == "license_expired"
    assert later.activation_key not in str([r.text_body for r in rows.values()])

    await seed.update_license(soon, expires_at=utc_now() + timedelta(days=8))  # renewed
    assert await scan_due_mail(database, mail_settings) == 1


async def test_concurrent_scans_queue_one_reminder(
    seed: Seed, mail_settings: MailSettings, settings: Settings
) -> None:
    product = await _product(seed, send_renewal_reminders=True, renewal_reminder_days=7)
    for index in range(4):
        await seed.license(product, email=f"r{index}@example.com", validity_days=3)
    engines = [Database.from_settings(settings) for _ in range(3)]
    try:
        now = utc_now()
        counts = await asyncio.gather(
            *(scan_due_mail(engine, mail_settings, now) for engine in engines)
        )
    finally:
        for engine in engines:
            await engine.dispose()
    assert len(await _rows(seed.database, seed.tenant.id)) == 4
    async with seed.database.read_session() as session:
        everything = list(await session.scalars(select(MailMessage.id)))
    assert sum(counts) == len(everything)  # (other tests' products are scanned as well)


async def test_the_product_api_switches_the_trial_ending_mail(seed: Seed) -> None:
    product = await _product(seed)
    answer = await seed.api.client.patch(
        f"/api/product/{product.id}",
        json={"sendTrialEnding": True, "trialEndingDays": 5},
        headers=seed.api.headers,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["sendTrialEnding"] is True and answer.json()["trialEndingDays"] == 5


async def test_smtp_passwords_follow_a_master_key_rotation(
    seed: Seed, database: Database, master_key: MasterKey
) -> None:
    from exisone_server.mail.routing import decrypt_password, reencrypt_passwords

    async with database.write() as session:
        await save_smtp_settings(
            session,
            seed.tenant.id,
            master_key,
            SmtpForm(host="smtp.example.com", username=USER, password=PASSWORD),
        )
    new = MasterKey(bytes(reversed(range(32))))
    async with database.write() as session:
        assert await reencrypt_passwords(session, master_key, new) >= 1
    async with database.read_session() as session:
        row = await session.scalar(
            select(TenantMailSettings).where(TenantMailSettings.tenant_id == seed.tenant.id)
        )
    assert row is not None and row.master_key_id == new.key_id
    assert decrypt_password(new, row) == PASSWORD
    with pytest.raises(Exception, match="cannot be decrypted"):
        decrypt_password(master_key, row)


async def test_a_tenants_own_smtp_wins_over_the_servers(
    seed: Seed,
    tmp_path: Path,
    mail_server: MailServer,
    database: Database,
    master_key: MasterKey,
) -> None:
    with running_mail_server(tmp_path, "none") as relay:
        server_wide = settings_for(relay, ca_file=str(mail_server.ca_file))  # the relay ...
        license = await seed.license(await _product(seed), email="own@example.com")
        async with database.write() as session:
            await save_smtp_settings(  # ... and the tenant's own server (STARTTLS, login)
                session,
                seed.tenant.id,
                master_key,
                SmtpForm(
                    host="127.0.0.1",
                    port=mail_server.port,
                    username=USER,
                    password=PASSWORD,
                ),
            )
        await _queue_purchase(seed, license, server_wide)
        await MailWorker(database, master_key, server_wide).run_once()
        (received,) = mail_server.wait_for(1)
        assert received.message["From"] == SENDER  # the tenant set no From: the server's
        assert relay.messages == []
