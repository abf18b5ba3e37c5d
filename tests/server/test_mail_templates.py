"""Mail templates (both databases): refused when saved (unknown placeholder, syntax error, unsafe
code), the HTML part escaped, product over tenant over shipped default; the migration keeps
existing rows."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, text

from exisone_server.config import Settings
from exisone_server.db import Database
from exisone_server.mail import MailKind, MailSettings, enqueue
from exisone_server.mail.service import delete_template, save_template
from exisone_server.mail.templates import (
    DEFAULT_TEMPLATES,
    TemplateRefused,
    TemplateSource,
    check_template,
)
from exisone_server.migrate import sync_url, upgrade

from .seeding import Seed

SETTINGS = MailSettings(sender="Shop <shop@example.com>")


def _source(
    subject: str = "Key for {{ProductName}}", text_body: str = "", html: str = ""
) -> TemplateSource:
    return TemplateSource(
        subject,
        text_body or "Your key: {{ActivationKey}} ({{CustomerEmail}})",
        html or "<p>{{ActivationKey}}</p>",
    )


@pytest.mark.parametrize(
    ("source", "words"),
    [
        (
            _source(text_body="Hello {{ CustomerName }}"),
            "unknown placeholder {{CustomerName}} in the plain text",
        ),
        (_source(html="<p>{% if ActivationKey %}open</p>"), "syntax error in the HTML"),
        (_source(subject="{{ ActivationKey.__class__ }}"), "fails with sample values"),
        (_source(text_body="{{ 'x' * 10000000 }}"), "too long"),
        (_source(text_body="{{ range(10) }}"), "unknown placeholder {{range}}"),
        (_source(subject="   "), "the subject is empty"),
        (_source(subject="{{ Licenses }}"), "unknown placeholder {{Licenses}}"),
    ],
)
def test_refused_when_saved(source: TemplateSource, words: str) -> None:
    with pytest.raises(TemplateRefused) as refused:
        check_template(MailKind.PURCHASE, source)
    assert words in refused.value.message
    assert refused.value.code == "invalid_mail_template" and refused.value.status_code == 400


def test_every_default_template_passes_its_own_check() -> None:
    for kind, source in DEFAULT_TEMPLATES.items():
        assert check_template(kind, source).subject


async def test_product_template_over_tenant_template_over_default(
    seed: Seed, database: Database
) -> None:
    product = await seed.product("Painter")
    other = await seed.product("Sculptor")
    async with database.write() as session:
        await save_template(
            session, seed.tenant.id, None, MailKind.PURCHASE, _source("Tenant {{ProductName}}")
        )
        await save_template(
            session, seed.tenant.id, product.id, MailKind.PURCHASE, _source("Own {{ProductName}}")
        )
        await save_template(
            session, seed.tenant.id, product.id, MailKind.PURCHASE, _source("Own2 {{ProductName}}")
        )
    subjects = []
    for target in (product, other):
        license = await seed.license(target, email="a@example.com")
        async with database.write() as session:
            message = await enqueue(
                session, seed.tenant.id, "purchase", license=license, settings=SETTINGS
            )
            assert message is not None
            subjects.append(message.subject)
    assert subjects == ["Own2 Painter", "Tenant Sculptor"]
    license = await seed.license(other, email="a@example.com")
    async with database.write() as session:
        assert await delete_template(session, seed.tenant.id, None, MailKind.PURCHASE)
        message = await enqueue(
            session, seed.tenant.id, "purchase", license=license, settings=SETTINGS
        )
    assert message is not None and message.subject == "Your Sculptor activation key"


async def test_a_refused_template_is_not_stored(seed: Seed, database: Database) -> None:
    with pytest.raises(TemplateRefused):
        async with database.write() as session:
            await save_template(
                session, seed.tenant.id, None, MailKind.PURCHASE, _source(text_body="{{ Nope }}")
            )
    product = await seed.product("Checked")
    license = await seed.license(product, email="a@example.com")
    async with database.write() as session:
        message = await enqueue(
            session, seed.tenant.id, "purchase", license=license, settings=SETTINGS
        )
    assert message is not None and message.subject == "Your Checked activation key"


async def test_html_is_escaped_and_the_subject_stays_one_line(
    seed: Seed, database: Database
) -> None:
    product = await seed.product("<script>alert(1)</script> Pro")
    license = await seed.license(product, email="a@example.com")
    async with database.write() as session:
        await save_template(
            session,
            seed.tenant.id,
            None,
            MailKind.PURCHASE,
            _source(
                subject="{{ProductName}}\nBcc: victim@example.com",
                html="<h1>{{ProductName}}</h1><p>{{CustomerEmail}}</p>",
            ),
        )
        message = await enqueue(
            session,
            seed.tenant.id,
            "purchase",
            license=license,
            to='"<script>x</script>"@example.com',
            settings=SETTINGS,
        )
    assert message is not None
    assert "<script>" not in message.html_body
    assert "<h1>&lt;script&gt;alert(1)&lt;/script&gt; Pro</h1>" in message.html_body
    assert "\n" not in message.subject and message.subject.endswith("Bcc: victim@example.com")
    assert "<p>&#34;&lt;script&gt;x&lt;/script&gt;&#34;@example.com</p>" in message.html_body
    assert '"<script>x</script>"@example.com' in message.text_body  # plain text is not HTML
    assert message.status.value == "undeliverable"  # (and no address the worker would use)


def test_migration_keeps_existing_licenses_and_products(empty_settings: Settings) -> None:
    """0008 on a database with products and licenses (both databases)."""
    upgrade(empty_settings, "0006")
    engine = create_engine(sync_url(empty_settings.database_url))
    yes, no, day = True, False, datetime(2026, 1, 1, tzinfo=timezone.utc)
    try:
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO tenants (id, name, created_at) VALUES (1, 't', :day)"),
                {"day": day},
            )
            connection.execute(
                text(
                    "INSERT INTO products (id, tenant_id, name, description, is_active, price,"
                    " trial_days, default_license_days, enforce_version_check,"
                    " send_purchase_email, send_renewal_reminders, created_at) VALUES"
                    " (1, 1, 'P', '', :yes, 0, 0, 0, :no, :no, :yes, :day)"
                ),
                {"yes": yes, "no": no, "day": day},
            )
            connection.execute(
                text(
                    "INSERT INTO licenses (id, tenant_id, product_id, activation_key, email,"
                    " status, is_corporate, is_offline, created_at) VALUES"
                    " (1, 1, 1, 'AAAA-BBBB-CCCC-DDDD', 'a@example.com', 'active', :no, :no, :day)"
                ),
                {"no": no, "day": day},
            )
        upgrade(empty_settings)
        with engine.connect() as connection:
            assert not connection.execute(text("SELECT is_trial FROM licenses")).scalar_one()
            assert not connection.execute(
                text("SELECT send_trial_ending FROM products")
            ).scalar_one()
            assert connection.execute(text("SELECT count(*) FROM mail_messages")).scalar_one() == 0
    finally:
        engine.dispose()
