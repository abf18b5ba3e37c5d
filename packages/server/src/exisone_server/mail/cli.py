"""``exisone-server mail test --to ADDRESS [--tenant T]`` and ``mail queue [--tenant T]``."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from ..crypto.master_key import MasterKey
from ..db import Database
from ..kit.cli import run_with_database
from ..models import MailMessage, MailStatus
from . import service
from .settings import MailSettings

__all__ = ["mail"]


def _mail_settings() -> MailSettings:
    try:
        return MailSettings.from_env()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def mail() -> None:
    """E-mail: send a test message, look at the queue."""


@mail.command("test")
@click.option("--to", "to", required=True, help="The address to send the test message to.")
@click.option("--tenant", "tenant_ref", help="Use this tenant's SMTP settings (id or name).")
@click.pass_context
def test_command(context: click.Context, to: str, tenant_ref: str | None) -> None:
    """Send a test message now through the server's (or the tenant's) mail server."""
    from ..tenants.service import get_tenant

    settings = _mail_settings()

    async def work(database: Database, master_key: MasterKey) -> str:
        async with database.read_session() as session:
            tenant_id = (await get_tenant(session, tenant_ref)).id if tenant_ref else None
            return await service.send_test(session, tenant_id, to, settings, master_key)

    message_id = run_with_database(context, work)
    Console(stderr=True).print(f"[green]Sent to {to}[/] (Message-ID {message_id}).")


@mail.command("queue")
@click.option("--tenant", "tenant_ref", help="Only this tenant's messages (id or name).")
@click.option(
    "--status",
    type=click.Choice([status.value for status in MailStatus]),
    help="Only messages of this status (default: pending and failed).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def queue_command(
    context: click.Context, tenant_ref: str | None, status: str | None, as_json: bool
) -> None:
    """Messages waiting to be sent or given up on (latest 100), with the last error."""
    from ..tenants.service import get_tenant

    async def work(database: Database, _: MasterKey) -> dict[str, Any]:
        async with database.read_session() as session:
            statement = select(MailMessage)
            counts = select(MailMessage.status, func.count()).group_by(MailMessage.status)
            if tenant_ref:
                tenant_id = (await get_tenant(session, tenant_ref)).id
                statement = statement.where(MailMessage.tenant_id == tenant_id)
                counts = counts.where(MailMessage.tenant_id == tenant_id)
            wanted = [MailStatus(status)] if status else [MailStatus.PENDING, MailStatus.FAILED]
            rows = await session.scalars(
                statement.where(MailMessage.status.in_(wanted))
                .order_by(MailMessage.id.desc())
                .limit(service.MESSAGE_PAGE)
            )
            totals = {row[0].value: row[1] for row in await session.execute(counts)}
            return {"counts": totals, "messages": [service.message_view(row) for row in rows]}

    data = run_with_database(context, work)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    summary = ", ".join(f"{count} {name}" for name, count in sorted(data["counts"].items()))
    Console(stderr=True).print(f"Messages: {summary or 'none'}.")
    table = Table("id", "kind", "to", "status", "attempts", "next try", "last error")
    for row in data["messages"]:
        table.add_row(
            str(row["id"]),
            row["kind"],
            row["to"],
            row["status"],
            str(row["attempts"]),
            row["nextAttemptAt"] or "",
            row["lastError"] or "",
        )
    Console().print(table)
