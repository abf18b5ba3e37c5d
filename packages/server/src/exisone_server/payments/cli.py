"""``exisone-server stripe add-app|diagnostics`` and ``exisone-server payments add-app|apps|
events|replay``: provider apps (secrets prompted for, never echoed) and received events."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from ..crypto.master_key import MasterKey
from ..db import Database
from ..kit.cli import run_with_database, tenant_option
from ..mail.settings import MailSettings
from . import service
from .apps import AppForm, app_view, list_apps, save_app
from .providers import PROVIDERS
from .settings import PaymentSettings

__all__ = ["payments", "stripe"]

#: The secrets each provider's app asks for (prompted for, hidden): (form field, prompt).
_SECRETS: dict[str, list[tuple[str, str]]] = {
    "stripe": [
        ("secret_key", "Secret key (sk_…)"),
        ("signing_secret", "Webhook signing secret (whsec_…)"),
    ],
    "paddle": [
        ("signing_secret", "Notification secret key"),
        ("secret_key", "API key (to look up customers; empty to skip)"),
    ],
    "lemonsqueezy": [("signing_secret", "Webhook signing secret")],
    "paypal": [("secret_key", "Client secret (empty to skip)")],
}


def _echo_app(view: Any, as_json: bool) -> None:
    data = {
        "id": view.app.id,
        "provider": view.app.provider,
        "name": view.app.name,
        "isLive": view.app.is_live,
        "isActive": view.app.is_active,
        "isDefault": view.app.is_default,
        "status": view.status.value,
        "hasSecret": view.has_secret,
        "hasWebhookSigningSecret": view.has_signing_secret,
        "webhookPath": f"/api/{view.app.provider}/webhook",
    }
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    Console(stderr=True).print(
        f"{PROVIDERS[view.app.provider].label} app [bold]{view.app.name}[/] (id {view.app.id}): "
        f"{view.status.value}. Events go to {data['webhookPath']} on this server."
    )


def _add_app(
    context: click.Context, provider: str, tenant_ref: str, as_json: bool, **fields: Any
) -> None:
    from ..tenants.service import get_tenant

    secrets: dict[str, str | None] = {}
    for field, prompt in _SECRETS[provider]:
        value = fields.pop(field, None)
        if value is None:
            try:
                value = click.prompt(prompt, hide_input=True, default="", show_default=False)
            except click.Abort:  # no input (stdin closed): none given
                value = ""
        secrets[field] = value or None
    values: dict[str, Any] = {"provider": provider, **fields, **secrets}
    form = AppForm(**values)

    async def work(database: Database, master_key: MasterKey) -> Any:
        async with database.write() as session:
            tenant = await get_tenant(session, tenant_ref)
            app = await save_app(session, tenant.id, master_key, form)
            return app_view(master_key, app)

    _echo_app(run_with_database(context, work), as_json)


def _app_options(function: Callable[..., Any]) -> Callable[..., Any]:
    for decorator in reversed(
        [
            tenant_option,
            click.option("--name", required=True, help="A name for the app."),
            click.option("--live", "is_live", is_flag=True, help="Live keys (default: test)."),
            click.option("--currency", "default_currency", default="usd", show_default=True),
            click.option(
                "--no-suspend-on-refund",
                "suspend_on_refund",
                flag_value=False,
                default=True,
                help="Refunds and disputes leave the licenses alone.",
            ),
            click.option("--json", "as_json", is_flag=True, help="Print JSON."),
        ]
    ):
        function = decorator(function)
    return function


@click.group()
def stripe() -> None:
    """Stripe: apps (keys) and their diagnostics."""


@stripe.command("add-app")
@_app_options
@click.option("--publishable-key", "public_key", help="pk_test_… or pk_live_…")
@click.option("--secret-key", help="sk_…; prompted for (hidden) when not given.")
@click.option("--signing-secret", help="whsec_…; prompted for (hidden) when not given.")
@click.pass_context
def stripe_add_app(
    context: click.Context, /, tenant_ref: str, as_json: bool, **fields: Any
) -> None:
    """Add a Stripe app; in Stripe, its webhook endpoint is <this server>/api/stripe/webhook."""
    _add_app(context, "stripe", tenant_ref, as_json, **fields)


@stripe.command("diagnostics")
@tenant_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def stripe_diagnostics(context: click.Context, tenant_ref: str, as_json: bool) -> None:
    """Each Stripe app's status: whether its secret key and signing secret decrypt."""
    _list(context, tenant_ref, as_json, "stripe")


@click.group()
def payments() -> None:
    """Payments: provider apps, received events, replay."""


@payments.command("add-app")
@click.option("--provider", type=click.Choice(list(PROVIDERS)), required=True)
@_app_options
@click.option("--public-key", help="Stripe publishable key or PayPal client id.")
@click.option("--webhook-id", help="PayPal: the webhook's id.")
@click.option("--secret-key", help="Prompted for (hidden) when the provider has one.")
@click.option("--signing-secret", help="Prompted for (hidden) when the provider has one.")
@click.pass_context
def payments_add_app(
    context: click.Context, /, provider: str, tenant_ref: str, as_json: bool, **fields: Any
) -> None:
    """Add an app of any provider; events go to /api/<provider>/webhook."""
    wanted = {field for field, _ in _SECRETS[provider]}
    for field in ("secret_key", "signing_secret"):
        if field not in wanted and fields.get(field) is None:
            fields.pop(field)
    _add_app(context, provider, tenant_ref, as_json, **fields)


def _list(context: click.Context, tenant_ref: str, as_json: bool, provider: str | None) -> None:
    from ..tenants.service import get_tenant

    async def work(database: Database, master_key: MasterKey) -> list[Any]:
        async with database.read_session() as session:
            tenant = await get_tenant(session, tenant_ref)
            return [
                app_view(master_key, app) for app in await list_apps(session, tenant.id, provider)
            ]

    views = run_with_database(context, work)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": view.app.id,
                        "provider": view.app.provider,
                        "name": view.app.name,
                        "status": view.status.value,
                        "hasSecret": view.has_secret,
                        "hasWebhookSigningSecret": view.has_signing_secret,
                    }
                    for view in views
                ],
                indent=2,
            )
        )
        return
    table = Table("id", "provider", "name", "live", "status", "secret", "signing secret")
    for view in views:
        table.add_row(
            str(view.app.id),
            view.app.provider,
            view.app.name,
            "yes" if view.app.is_live else "",
            view.status.value,
            "yes" if view.has_secret else "",
            "yes" if view.has_signing_secret else "",
        )
    Console().print(table)


@payments.command("apps")
@tenant_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def payments_apps(context: click.Context, tenant_ref: str, as_json: bool) -> None:
    """The tenant's provider apps and their status."""
    _list(context, tenant_ref, as_json, None)


@payments.command("events")
@tenant_option
@click.option("--status", help="Only events of this outcome (e.g. unmatched).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def payments_events(
    context: click.Context, tenant_ref: str, status: str | None, as_json: bool
) -> None:
    """The latest 100 received events, newest first, with their outcome."""
    from ..tenants.service import get_tenant

    async def work(database: Database, _: MasterKey) -> list[dict[str, Any]]:
        async with database.read_session() as session:
            tenant = await get_tenant(session, tenant_ref)
            rows = await service.list_events(session, tenant.id, status=status)
            return [service.event_view(row) for row in rows]

    data = run_with_database(context, work)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    table = Table("id", "provider", "type", "order", "status", "key", "outcome")
    for row in data:
        table.add_row(
            str(row["id"]),
            row["provider"],
            row["type"],
            row["orderId"] or "",
            row["status"],
            row["activationKey"] or "",
            row["outcome"] or "",
        )
    Console().print(table)


@payments.command("replay")
@tenant_option
@click.argument("event_id", type=int)
@click.pass_context
def payments_replay(context: click.Context, tenant_ref: str, event_id: int) -> None:
    """Fulfil an unmatched, failed or waiting event again (after fixing its mapping)."""
    from ..tenants.service import get_tenant

    async def work(database: Database, _: MasterKey) -> tuple[str, str]:
        async with database.write() as session:
            tenant = await get_tenant(session, tenant_ref)
            row = await service.replay_event(
                session, tenant.id, event_id, PaymentSettings.from_env(), MailSettings.from_env()
            )
            return row.status.value, row.outcome or ""

    status, outcome = run_with_database(context, work)
    Console(stderr=True).print(f"Event {event_id}: {status}. {outcome}")
