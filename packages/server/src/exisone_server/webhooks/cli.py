"""``exisone-server webhook create|list|delete|deliveries --tenant T``."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from ..crypto.master_key import MasterKey
from ..db import Database
from ..kit.cli import run_with_database, tenant_option
from . import service
from .endpoints import delivery_read, endpoint_read
from .events import EVENT_TYPES
from .settings import WebhookSettings

__all__ = ["webhook"]

_run = run_with_database
_tenant_option = tenant_option


@click.group()
def webhook() -> None:
    """Webhook endpoints (HTTPS URLs that receive license events)."""


@webhook.command("create")
@_tenant_option
@click.option("--url", required=True, help="The https:// URL to POST events to.")
@click.option(
    "--event",
    "events",
    multiple=True,
    type=click.Choice(EVENT_TYPES),
    help="Repeat for several; default: every event.",
)
@click.option("--description", help="A label.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def create(
    context: click.Context,
    tenant_ref: str,
    url: str,
    events: tuple[str, ...],
    description: str | None,
    as_json: bool,
) -> None:
    """Register an endpoint; its signing secret is printed once and cannot be shown again."""
    from ..tenants.service import get_tenant

    async def work(database: Database, master_key: MasterKey) -> dict[str, Any]:
        async with database.write() as session:
            tenant = await get_tenant(session, tenant_ref)
            created = await service.create_endpoint(
                session,
                tenant.id,
                master_key,
                WebhookSettings.from_env(),
                url=url,
                events=list(events) or None,
                description=description,
            )
            read = endpoint_read(created.endpoint)
            return {
                "id": read.id,
                "url": read.url,
                "events": read.events,
                "secret": created.secret,
            }

    data = _run(context, work)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    Console(stderr=True).print(
        f"Webhook {data['id']} → {data['url']} ({', '.join(data['events'])}). "
        "Signing secret (store it now, it is not shown again):"
    )
    click.echo(data["secret"])


@webhook.command("list")
@_tenant_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_command(context: click.Context, tenant_ref: str, as_json: bool) -> None:
    """List a tenant's endpoints."""
    from ..tenants.service import get_tenant

    async def work(database: Database, _: MasterKey) -> list[dict[str, Any]]:
        async with database.read_session() as session:
            tenant = await get_tenant(session, tenant_ref)
            endpoints = await service.list_endpoints(session, tenant.id)
            return [
                {"id": e.id, "url": e.url, "events": list(e.events), "active": e.is_active}
                for e in endpoints
            ]

    data = _run(context, work)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    table = Table("id", "url", "events")
    for row in data:
        table.add_row(str(row["id"]), row["url"], ", ".join(row["events"]))
    Console().print(table)


@webhook.command("delete")
@_tenant_option
@click.argument("endpoint_id", type=int)
@click.pass_context
def delete_command(context: click.Context, tenant_ref: str, endpoint_id: int) -> None:
    """Remove endpoint ENDPOINT_ID and its deliveries."""
    from ..tenants.service import get_tenant

    async def work(database: Database, _: MasterKey) -> None:
        async with database.write() as session:
            tenant = await get_tenant(session, tenant_ref)
            await service.delete_endpoint(session, tenant.id, endpoint_id)

    _run(context, work)
    Console(stderr=True).print(f"Webhook {endpoint_id} deleted.")


@webhook.command("deliveries")
@_tenant_option
@click.argument("endpoint_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def deliveries_command(
    context: click.Context, tenant_ref: str, endpoint_id: int, as_json: bool
) -> None:
    """The endpoint's latest deliveries (status, attempts, response code)."""
    from ..tenants.service import get_tenant

    async def work(database: Database, _: MasterKey) -> list[dict[str, Any]]:
        async with database.read_session() as session:
            tenant = await get_tenant(session, tenant_ref)
            rows = await service.list_deliveries(session, tenant.id, endpoint_id)
            return [
                {
                    "id": read.id,
                    "event": read.event_type,
                    "eventId": read.event_id,
                    "status": read.status,
                    "attempts": read.attempts,
                    "lastStatusCode": read.last_status_code,
                    "lastError": read.last_error,
                }
                for read in map(delivery_read, rows)
            ]

    data = _run(context, work)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    table = Table("id", "event", "status", "attempts", "code", "error")
    for row in data:
        table.add_row(
            str(row["id"]),
            row["event"],
            row["status"],
            str(row["attempts"]),
            str(row["lastStatusCode"] or ""),
            row["lastError"] or "",
        )
    Console().print(table)
